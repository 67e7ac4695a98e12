//! `Client`: the one client the CLI, the tests, the simulation's workload
//! and the bench use. Cheap to clone; clones share the connection pool and
//! the leader hint.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::de::DeserializeOwned;

use ordo_api::limits::{DEFAULT_CATCH_UP_TIMEOUT_MS, MIN_LOG_INDEX_WAIT_MS};
use ordo_api::secret::Secret;
use ordo_api::{
    AddNodeRequest, AppendRequest, AppendResponse, CleanupResponse, ClusterStatus,
    CommitOffsetRequest, CommitOffsetResponse, Consistency, ConsumerGroup, ConsumerOffset,
    InitRequest, Member, MembershipResponse, OffsetForTime, PositionParams, ReadParams, ReadQuery,
    ReadResponse, TopicInfo, TopicList, TransferLeaderRequest,
};
use ordo_core::{NewRecord, NodeId, Offset, TopicConfig};

use crate::addr::{encode_path_segment, normalize_addr};
use crate::call::Safety;
use crate::error::ClientError;
use crate::http::ReqwestTransport;
use crate::retry::RetryPolicy;
use crate::routing::Routing;
use crate::transport::{Method, RawRequest, Transport};

/// Deadline for one HTTP exchange with one node.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A client of an ordo cluster, given the addresses of some of its nodes.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) routing: Mutex<Routing>,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) api_token: Option<Secret>,
    /// Some node has answered this client (or the one it was made from):
    /// the cluster exists, so failures to connect are worth riding out.
    pub(crate) answered: AtomicBool,
}

/// Configures a [`Client`]; every setting has a sensible default.
pub struct ClientBuilder {
    addrs: Vec<String>,
    timeout: Duration,
    retry: RetryPolicy,
    members: BTreeMap<NodeId, String>,
    transport: Option<Arc<dyn Transport>>,
    api_token: Option<Secret>,
}

impl ClientBuilder {
    /// Deadline for each HTTP exchange (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How hard to retry what is safe to retry.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Node ids and addresses known up front (a launcher knows them), so
    /// the leader hint can be followed from the first answer on.
    pub fn members(mut self, members: BTreeMap<NodeId, String>) -> Self {
        self.members = members;
        self
    }

    /// The token a cluster started with an API token (`ORDO_API_TOKEN`)
    /// requires; sent as `Authorization: Bearer <token>` on every request.
    /// `None` (the default): no token.
    pub fn api_token(mut self, token: Option<Secret>) -> Self {
        self.api_token = token;
        self
    }

    /// Replaces the network (a simulation brings its own).
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    pub fn build(self) -> Result<Client, ClientError> {
        if self.addrs.is_empty() {
            return Err(ClientError::InvalidAddr {
                addr: String::new(),
                reason: "no node addresses given".into(),
            });
        }
        let mut addrs = Vec::with_capacity(self.addrs.len());
        for addr in &self.addrs {
            let addr = normalize_addr(addr)?;
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        let transport = match self.transport {
            Some(transport) => transport,
            None => Arc::new(ReqwestTransport::new()?),
        };
        let mut routing = Routing::new(addrs, false);
        let members: Vec<Member> = self
            .members
            .into_iter()
            .map(|(id, addr)| Member {
                id,
                addr,
                voter: true,
            })
            .collect();
        routing.learn_members(&members);
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                routing: Mutex::new(routing),
                timeout: self.timeout,
                retry: self.retry,
                api_token: self.api_token,
                answered: AtomicBool::new(false),
            }),
        })
    }
}

impl Client {
    /// A client over `addrs` (`host:port` or `http(s)://host:port`) with the
    /// default timeout and retry policy.
    pub fn new(addrs: Vec<String>) -> Result<Client, ClientError> {
        Client::builder(addrs).build()
    }

    pub fn builder(addrs: Vec<String>) -> ClientBuilder {
        ClientBuilder {
            addrs,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            retry: RetryPolicy::default(),
            members: BTreeMap::new(),
            transport: None,
            api_token: None,
        }
    }

    /// A client that talks to `addr` only: no failover, no leader
    /// following, still retrying what is safe against that one node. Shares
    /// this client's connection pool, timeout, retry policy and API token.
    pub fn for_node(&self, addr: &str) -> Result<Client, ClientError> {
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Arc::clone(&self.inner.transport),
                routing: Mutex::new(Routing::new(vec![normalize_addr(addr)?], true)),
                timeout: self.inner.timeout,
                retry: self.inner.retry,
                api_token: self.inner.api_token.clone(),
                answered: AtomicBool::new(self.inner.answered.load(Ordering::Relaxed)),
            }),
        })
    }

    /// Appends `records` to `topic` atomically, in order. Retried only when
    /// it certainly did not happen; see [`ClientError::OutcomeUnknown`].
    pub async fn append(
        &self,
        topic: &str,
        records: Vec<NewRecord>,
    ) -> Result<AppendResponse, ClientError> {
        let request = AppendRequest {
            records,
            producer: None,
            condition: None,
        };
        self.append_with(topic, &request).await
    }

    /// Appends with everything an append request may carry: a producer id
    /// and seq (see [`crate::Producer`], which numbers them for you) and a
    /// condition. A failed condition is [`ClientError::Api`] 409
    /// `condition_failed` with what the server found in
    /// [`ClientError::current`]. Retried only when it certainly did not
    /// happen, like [`Client::append`].
    pub async fn append_with(
        &self,
        topic: &str,
        request: &AppendRequest,
    ) -> Result<AppendResponse, ClientError> {
        let body = serde_json::to_vec(request)
            .expect("an AppendRequest always serializes: string keys, JSON values");
        let path = format!("/v1/topics/{}/records", encode_path_segment(topic));
        let (addr, response) = self
            .call(Method::Post, &path, Some(body), Safety::AppendOnce)
            .await?;
        decode(&addr, &response.body)
    }

    /// Sets `group`'s position in `topic` (the next offset it will read).
    /// `expected`: `None` sets it whatever it was; `Some(None)` only if the
    /// group has no position there yet; `Some(Some(o))` only if it is `o`,
    /// else [`ClientError::Api`] 409 `position_conflict` with the current
    /// position in [`ClientError::current`]. An unconditional commit is
    /// retried like a read; a compare-and-set like an append.
    pub async fn commit_offset(
        &self,
        group: &str,
        topic: &str,
        offset: Offset,
        expected: Option<Option<Offset>>,
    ) -> Result<CommitOffsetResponse, ClientError> {
        let safety = match expected {
            None => Safety::Idempotent,
            Some(_) => Safety::AppendOnce,
        };
        let body = serde_json::to_vec(&CommitOffsetRequest { offset, expected })
            .expect("a CommitOffsetRequest is numbers only");
        let (addr, response) = self
            .call(
                Method::Put,
                &position_path(group, topic),
                Some(body),
                safety,
            )
            .await?;
        decode(&addr, &response.body)
    }

    /// `group`'s position in `topic`; `None` if it never committed one.
    pub async fn consumer_offset(
        &self,
        group: &str,
        topic: &str,
        consistency: Consistency,
    ) -> Result<Option<Offset>, ClientError> {
        let path = format!(
            "{}?{}",
            position_path(group, topic),
            consistency_query(consistency)
        );
        match self
            .call(Method::Get, &path, None, Safety::Idempotent)
            .await
        {
            Ok((addr, response)) => {
                let position: ConsumerOffset = decode(&addr, &response.body)?;
                Ok(Some(position.offset))
            }
            Err(e) if e.code() == Some("position_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every position `group` committed, with each topic's end offset and
    /// the group's lag in it.
    pub async fn consumer_group(
        &self,
        group: &str,
        consistency: Consistency,
    ) -> Result<ConsumerGroup, ClientError> {
        let path = format!(
            "/v1/consumers/{}?{}",
            encode_path_segment(group),
            consistency_query(consistency)
        );
        let (addr, response) = self
            .call(Method::Get, &path, None, Safety::Idempotent)
            .await?;
        decode(&addr, &response.body)
    }

    /// Reads one page of `topic` from `params.from`.
    pub async fn read(
        &self,
        topic: &str,
        params: &ReadParams,
    ) -> Result<ReadResponse, ClientError> {
        let query = serde_urlencoded::to_string(params)
            .expect("ReadParams is a flat struct of numbers and a unit enum");
        let path = format!("/v1/topics/{}/records?{query}", encode_path_segment(topic));
        let (addr, response) = self
            .call(Method::Get, &path, None, Safety::Idempotent)
            .await?;
        decode(&addr, &response.body)
    }

    /// Reads one page of `topic` with the query's waits: a long-poll
    /// (`wait_ms`) answers as soon as a record at or after `from` exists, or
    /// with an empty page at the deadline; `min_log_index` first waits for
    /// the node to apply that index (read-your-writes on a `local` read).
    /// The exchange's deadline is the client's timeout plus the wait.
    pub async fn read_wait(
        &self,
        topic: &str,
        query: &ReadQuery,
    ) -> Result<ReadResponse, ClientError> {
        let encoded = serde_urlencoded::to_string(query)
            .expect("ReadQuery is a flat struct of numbers and a unit enum");
        let path = format!(
            "/v1/topics/{}/records?{encoded}",
            encode_path_segment(topic)
        );
        let mut wait = Duration::from_millis(query.wait_ms.unwrap_or(0));
        if query.min_log_index.is_some() {
            wait += Duration::from_millis(MIN_LOG_INDEX_WAIT_MS);
        }
        let (addr, response) = self
            .call_timed(
                Method::Get,
                &path,
                None,
                Safety::Idempotent,
                self.inner.timeout + wait,
            )
            .await?;
        decode(&addr, &response.body)
    }

    /// The status of whichever node answers; also teaches this client the
    /// members' addresses and the current leader.
    /// Every topic with its config and offsets.
    pub async fn topics(&self, consistency: Consistency) -> Result<TopicList, ClientError> {
        let path = format!("/v1/topics?{}", consistency_query(consistency));
        let (addr, response) = self
            .call(Method::Get, &path, None, Safety::Idempotent)
            .await?;
        decode(&addr, &response.body)
    }

    /// One topic; `None` if it does not exist.
    pub async fn topic(
        &self,
        topic: &str,
        consistency: Consistency,
    ) -> Result<Option<TopicInfo>, ClientError> {
        let path = format!("{}?{}", topic_path(topic), consistency_query(consistency));
        match self
            .call(Method::Get, &path, None, Safety::Idempotent)
            .await
        {
            Ok((addr, response)) => Ok(Some(decode(&addr, &response.body)?)),
            Err(e) if e.code() == Some("topic_not_found") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates `topic` with `config`, or sets an existing topic's config.
    /// Setting the same config twice does the same as once, so it is retried.
    pub async fn put_topic(
        &self,
        topic: &str,
        config: &TopicConfig,
    ) -> Result<TopicInfo, ClientError> {
        let body = serde_json::to_vec(config).expect("a TopicConfig is plain data");
        let (addr, response) = self
            .call(
                Method::Put,
                &topic_path(topic),
                Some(body),
                Safety::Idempotent,
            )
            .await?;
        decode(&addr, &response.body)
    }

    /// Deletes `topic`, its records and every group's position in it. Not
    /// resent after an unknown outcome: a second delete would be a 404, or
    /// delete a topic made again in between.
    pub async fn delete_topic(&self, topic: &str) -> Result<(), ClientError> {
        self.call(Method::Delete, &topic_path(topic), None, Safety::AppendOnce)
            .await?;
        Ok(())
    }

    /// Compacts or expires `topic` now (see `POST /v1/topics/{topic}/compact`)
    /// and answers with what was removed. Resent after an unknown outcome:
    /// a second pass removes only what the first left.
    pub async fn compact_topic(&self, topic: &str) -> Result<CleanupResponse, ClientError> {
        let path = format!("{}/compact", topic_path(topic));
        let (addr, response) = self
            .call(Method::Post, &path, None, Safety::Idempotent)
            .await?;
        decode(&addr, &response.body)
    }

    /// The first offset of `topic` whose record is stamped at or after
    /// `timestamp_ms` (the topic's end offset if none is).
    pub async fn offset_for_timestamp(
        &self,
        topic: &str,
        timestamp_ms: u64,
        consistency: Consistency,
    ) -> Result<Offset, ClientError> {
        let path = format!(
            "{}/offsets?timestamp_ms={timestamp_ms}&{}",
            topic_path(topic),
            consistency_query(consistency)
        );
        let (addr, response) = self
            .call(Method::Get, &path, None, Safety::Idempotent)
            .await?;
        let found: OffsetForTime = decode(&addr, &response.body)?;
        Ok(found.offset)
    }

    pub async fn cluster_status(&self) -> Result<ClusterStatus, ClientError> {
        let (addr, response) = self
            .call(Method::Get, "/v1/cluster", None, Safety::Idempotent)
            .await?;
        let status: ClusterStatus = decode(&addr, &response.body)?;
        self.learn(&status);
        Ok(status)
    }

    /// Initializes the cluster's membership. Doing it twice is harmless on
    /// the server, so it is retried like a read.
    pub async fn init(&self, request: &InitRequest) -> Result<(), ClientError> {
        let body = serde_json::to_vec(request)
            .expect("an InitRequest always serializes: integer ids, string addresses");
        self.call(
            Method::Post,
            "/v1/cluster/init",
            Some(body),
            Safety::Idempotent,
        )
        .await?;
        Ok(())
    }

    /// Adds node `request.id` at `request.addr`: as a learner, then, once it
    /// has caught up with the leader's log, as a voter; answers with the
    /// membership after the change. Waits as long as the server may (its
    /// catch-up timeout and the two membership entries). Not resent after an
    /// unknown outcome; sending the same add again is safe, though: it
    /// resumes a learner left by a timed-out add, and is a 409
    /// `already_member` once the node is a voter.
    pub async fn add_node(
        &self,
        request: &AddNodeRequest,
    ) -> Result<MembershipResponse, ClientError> {
        let body = serde_json::to_vec(request).expect("an AddNodeRequest is plain data");
        let catch_up = Duration::from_millis(
            request
                .catch_up_timeout_ms
                .unwrap_or(DEFAULT_CATCH_UP_TIMEOUT_MS),
        );
        let (addr, response) = self
            .call_timed(
                Method::Post,
                "/v1/cluster/nodes",
                Some(body),
                Safety::AppendOnce,
                catch_up + self.inner.timeout * 3,
            )
            .await?;
        self.learn_membership(decode(&addr, &response.body)?)
    }

    /// Removes voter or learner `id` from the membership; `force` allows a
    /// change that leaves fewer than 3 voters. Not resent after an unknown
    /// outcome (a second remove would be a 404).
    pub async fn remove_node(
        &self,
        id: NodeId,
        force: bool,
    ) -> Result<MembershipResponse, ClientError> {
        let path = format!("/v1/cluster/nodes/{id}?force={force}");
        let (addr, response) = self
            .call(Method::Delete, &path, None, Safety::AppendOnce)
            .await?;
        self.learn_membership(decode(&addr, &response.body)?)
    }

    /// Hands leadership to voter `to`, or to the most caught-up other
    /// voter; answers once the old leader sees the new one lead. Resent
    /// after an unknown outcome: a transfer to the leader does nothing.
    pub async fn transfer_leader(
        &self,
        to: Option<NodeId>,
    ) -> Result<MembershipResponse, ClientError> {
        let body = serde_json::to_vec(&TransferLeaderRequest { id: to })
            .expect("a TransferLeaderRequest is one number");
        let (addr, response) = self
            .call(
                Method::Post,
                "/v1/cluster/leader",
                Some(body),
                Safety::Idempotent,
            )
            .await?;
        self.learn_membership(decode(&addr, &response.body)?)
    }

    /// True if any known node answers `/healthz` with success (one try each).
    pub async fn healthz(&self) -> bool {
        self.probe("/healthz").await
    }

    /// True if any known node answers `/readyz` with success: it is in a
    /// cluster with a known leader (one try each).
    pub async fn readyz(&self) -> bool {
        self.probe("/readyz").await
    }

    /// The leader the cluster last named, if any.
    pub fn leader_hint(&self) -> Option<NodeId> {
        self.routing().leader()
    }

    /// The base URLs this client may talk to (seeds and learned members).
    pub fn addrs(&self) -> Vec<String> {
        self.routing().addrs().to_vec()
    }

    async fn probe(&self, path: &str) -> bool {
        for addr in self.addrs() {
            let request = RawRequest {
                method: Method::Get,
                url: format!("{addr}{path}"),
                body: None,
                timeout: self.inner.timeout,
                api_token: self.inner.api_token.clone(),
            };
            if let Ok(response) = self.inner.transport.send(request).await {
                if response.is_success() {
                    return true;
                }
            }
        }
        false
    }

    fn learn_membership(
        &self,
        membership: MembershipResponse,
    ) -> Result<MembershipResponse, ClientError> {
        let mut routing = self.routing();
        routing.learn_members(&membership.members);
        routing.set_leader(membership.leader);
        Ok(membership)
    }

    pub(crate) fn learn(&self, status: &ClusterStatus) {
        let mut routing = self.routing();
        routing.learn_members(&status.members);
        routing.set_leader(status.leader);
    }

    /// The routing table. It holds only hints, so a panic elsewhere while
    /// it was locked cannot leave it in a state worth refusing to read.
    pub(crate) fn routing(&self) -> MutexGuard<'_, Routing> {
        self.inner
            .routing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn position_path(group: &str, topic: &str) -> String {
    format!(
        "/v1/consumers/{}/offsets/{}",
        encode_path_segment(group),
        encode_path_segment(topic)
    )
}

fn topic_path(topic: &str) -> String {
    format!("/v1/topics/{}", encode_path_segment(topic))
}

fn consistency_query(consistency: Consistency) -> String {
    serde_urlencoded::to_string(PositionParams { consistency })
        .expect("PositionParams is one unit enum")
}

fn decode<T: DeserializeOwned>(addr: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Decode {
        addr: addr.to_string(),
        reason: e.to_string(),
    })
}
