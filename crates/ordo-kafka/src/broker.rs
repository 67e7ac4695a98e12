//! What every connection of a node's listener shares: the node, the
//! config, the group coordinator, the caps on requests in flight, and the
//! cluster's Kafka addresses as this node knows them.

use std::collections::BTreeMap;
use std::sync::Arc;

use ordo_core::NodeId;
use ordo_node::Node;
use tokio::sync::Semaphore;

use crate::groups::Groups;
use crate::KafkaConfig;

/// See the module's documentation.
pub struct Broker {
    pub(crate) node: Arc<Node>,
    pub(crate) config: KafkaConfig,
    pub(crate) groups: Groups,
    pub(crate) inflight: Arc<Semaphore>,
    pub(crate) streams: Arc<Semaphore>,
}

/// A broker as Metadata and FindCoordinator name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BrokerAddress {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

impl Broker {
    pub fn new(node: Arc<Node>, config: KafkaConfig) -> Broker {
        Broker {
            inflight: Arc::new(Semaphore::new(config.limits.max_inflight_requests)),
            streams: Arc::new(Semaphore::new(config.limits.max_streams)),
            groups: Groups::new(),
            node,
            config,
        }
    }

    /// Whether this node leads now (and so coordinates groups and serves
    /// fetches).
    pub(crate) fn leads(&self) -> bool {
        self.node.current_leader() == Some(self.node.id())
    }

    /// Every node whose Kafka address this node knows, itself included,
    /// by node id.
    pub(crate) async fn brokers(&self) -> BTreeMap<NodeId, BrokerAddress> {
        let mut brokers: BTreeMap<NodeId, BrokerAddress> = self
            .node
            .kafka_brokers()
            .await
            .into_iter()
            .filter_map(|(id, addr)| Some((id, broker_address(id, &addr)?)))
            .collect();
        let me = self.node.id();
        if let Some(address) = broker_address(me, &self.config.advertise) {
            brokers.insert(me, address);
        }
        brokers
    }

    /// The leader, if it is known and its Kafka address too.
    pub(crate) async fn leader(&self) -> Option<BrokerAddress> {
        let leader = self.node.current_leader()?;
        if leader == self.node.id() {
            return broker_address(leader, &self.config.advertise);
        }
        self.brokers().await.remove(&leader)
    }
}

/// `HOST:PORT` (or `[V6]:PORT`) as a broker's address; `None` if it is not
/// one, or the id does not fit Kafka's 32 bits.
pub(crate) fn broker_address(id: NodeId, addr: &str) -> Option<BrokerAddress> {
    let (host, port) = addr.rsplit_once(':')?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(BrokerAddress {
        id: i32::try_from(id).ok()?,
        host: host.to_owned(),
        port: port.parse::<u16>().ok()?.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_into_host_and_port() {
        assert_eq!(
            broker_address(2, "127.0.0.1:9093"),
            Some(BrokerAddress {
                id: 2,
                host: "127.0.0.1".into(),
                port: 9093
            })
        );
        assert_eq!(
            broker_address(3, "[::1]:9092").map(|b| b.host),
            Some("::1".into())
        );
        assert_eq!(
            broker_address(1, "kafka-1.internal:19092").map(|b| b.port),
            Some(19092)
        );
        assert_eq!(broker_address(1, "no-port"), None);
        assert_eq!(broker_address(1, "host:99999"), None);
        assert_eq!(broker_address(u64::MAX, "host:1"), None);
    }
}
