//! Where each member's Kafka listener is (DESIGN §3d): this node's own from
//! its config, every other member's (voters and learners alike) asked of
//! that member with a `KafkaAddress` RPC, answered from its own config.
//!
//! A Kafka client asks for the brokers on every metadata request, so the
//! answers are kept: one younger than [`KAFKA_ADDRESS_FRESH`] is used
//! without asking, and one younger than [`KAFKA_ADDRESS_KEPT`] stands in
//! for a member that does not answer within [`KAFKA_ADDRESS_TIMEOUT`]
//! (else that member is left out: a client cannot reach it either way).
//! The members are asked all at once, so one silent member costs one
//! timeout, not one each. Only a cache and the calls: no Raft, no writes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::node::Node;
use crate::peers::PeerCall;
use crate::rpc::{self, KafkaAddressReply, RpcKind};
use ordo_api::Member;
use ordo_core::NodeId;

/// How long a member has to answer where its Kafka listener is.
pub const KAFKA_ADDRESS_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a member's answer is used without asking it again.
pub const KAFKA_ADDRESS_FRESH: Duration = Duration::from_secs(5);
/// How long a member's last answer stands in when it does not answer.
pub const KAFKA_ADDRESS_KEPT: Duration = Duration::from_secs(30);

/// The members' last answers, by node id.
#[derive(Debug, Default)]
pub(crate) struct KafkaAddresses {
    answers: Mutex<BTreeMap<NodeId, Answer>>,
}

#[derive(Debug, Clone)]
struct Answer {
    /// `None`: the member has no Kafka listener.
    addr: Option<String>,
    at: Instant,
}

impl KafkaAddresses {
    /// `id`'s answer if it is fresh enough to use without asking again.
    fn fresh(&self, id: NodeId, now: Instant) -> Option<Option<String>> {
        self.younger_than(id, now, KAFKA_ADDRESS_FRESH)
    }

    /// `id`'s answer if it is young enough to stand in for a silent member.
    fn kept(&self, id: NodeId, now: Instant) -> Option<Option<String>> {
        self.younger_than(id, now, KAFKA_ADDRESS_KEPT)
    }

    fn younger_than(&self, id: NodeId, now: Instant, age: Duration) -> Option<Option<String>> {
        let answers = self.answers.lock().expect("never poisoned: no panics held");
        let answer = answers.get(&id)?;
        (now.saturating_duration_since(answer.at) < age).then(|| answer.addr.clone())
    }

    /// Keeps `id`'s answer, and forgets any too old to be used (a member
    /// removed long ago).
    fn record(&self, id: NodeId, addr: Option<String>, now: Instant) {
        let mut answers = self.answers.lock().expect("never poisoned: no panics held");
        answers.retain(|_, answer| now.saturating_duration_since(answer.at) < KAFKA_ADDRESS_KEPT);
        answers.insert(id, Answer { addr, at: now });
    }
}

impl Node {
    /// Each member's Kafka address (`HOST:PORT`), this node's own included,
    /// by node id (= broker id). A member without a Kafka listener, or one
    /// that neither answered now nor recently, is left out.
    pub async fn kafka_brokers(&self) -> BTreeMap<NodeId, String> {
        let others: Vec<Member> = self
            .members()
            .into_iter()
            .filter(|member| member.id != self.id())
            .collect();
        let asked = others.iter().map(|member| async move {
            (
                member.id,
                self.kafka_address_of(member.id, &member.addr).await,
            )
        });
        let mut brokers: BTreeMap<NodeId, String> = futures::future::join_all(asked)
            .await
            .into_iter()
            .filter_map(|(id, addr)| Some((id, addr?)))
            .collect();
        if let Some(own) = &self.config().kafka_advertise {
            brokers.insert(self.id(), own.clone());
        }
        brokers
    }

    /// Member `id`'s Kafka address: kept, asked, or kept a while longer.
    async fn kafka_address_of(&self, id: NodeId, addr: &str) -> Option<String> {
        let cache = self.kafka_addresses();
        if let Some(answer) = cache.fresh(id, Instant::now()) {
            return answer;
        }
        let call = PeerCall {
            addr,
            path: RpcKind::KafkaAddress.path(),
            body: Vec::new(),
            timeout: KAFKA_ADDRESS_TIMEOUT,
        };
        let answer = match self.transport().call(call).await {
            Ok(bytes) => rpc::decode::<KafkaAddressReply>(&bytes).map_err(|e| e.to_string()),
            Err(e) => Err(e.cause()),
        };
        match answer {
            Ok(answer) => {
                cache.record(id, answer.clone(), Instant::now());
                answer
            }
            Err(cause) => {
                // Asked again at the next metadata request: not worth a
                // warning each time; the member's own troubles are
                // logged by Raft's replication to it.
                tracing::debug!(node = id, %addr, %cause, "no Kafka address from a member");
                cache.kept(id, Instant::now()).flatten()
            }
        }
    }

    /// What this node answers a `KafkaAddress` RPC.
    pub(crate) fn kafka_address_reply(&self) -> KafkaAddressReply {
        self.config().kafka_advertise.clone()
    }
}

#[cfg(test)]
mod tests;
