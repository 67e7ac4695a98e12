//! `Client`: the one client the CLI, the tests, the simulation's workload
//! and the bench use. Cheap to clone; clones share the connection pool and
//! the leader hint.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ordo_api::secret::Secret;
use ordo_api::{ClusterStatus, Member, MembershipResponse};
use ordo_core::NodeId;
use ordo_transport::{Credential, HttpTransport, Method, Request, Transport};

use crate::addr::{normalize_addr, normalize_addr_as};
use crate::error::ClientError;
use crate::retry::RetryPolicy;
use crate::routing::Routing;

/// Deadline for one HTTP exchange with one node.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for a TCP connection: a dead node should be skipped
/// quickly, and a connect failure is always safe to retry elsewhere.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

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
    tls: Option<rustls::ClientConfig>,
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

    /// How to verify (and, with a client certificate, answer) the nodes of
    /// a TLS cluster, reached at `https://` addresses. Default: the web's
    /// roots, no client certificate.
    pub fn tls(mut self, tls: rustls::ClientConfig) -> Self {
        self.tls = Some(tls);
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
        let transport: Arc<dyn Transport> = match (self.transport, self.tls) {
            (Some(transport), _) => transport,
            (None, Some(tls)) => Arc::new(HttpTransport::with_tls(CONNECT_TIMEOUT, tls)?),
            (None, None) => Arc::new(HttpTransport::new(CONNECT_TIMEOUT)?),
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
            tls: None,
        }
    }

    /// A client that talks to `addr` only: no failover, no leader
    /// following, still retrying what is safe against that one node. Shares
    /// this client's connection pool, timeout, retry policy and API token.
    pub fn for_node(&self, addr: &str) -> Result<Client, ClientError> {
        // `host:port` is reached as this client's nodes are (`https://` in
        // a TLS cluster).
        let addr = normalize_addr_as(addr, self.routing().scheme())?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Arc::clone(&self.inner.transport),
                routing: Mutex::new(Routing::new(vec![addr], true)),
                timeout: self.inner.timeout,
                retry: self.inner.retry,
                api_token: self.inner.api_token.clone(),
                answered: AtomicBool::new(self.inner.answered.load(Ordering::Relaxed)),
            }),
        })
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
            let request = self.request(Method::Get, format!("{addr}{path}"), self.inner.timeout);
            if let Ok(response) = self.inner.transport.send(request).await {
                if response.is_success() {
                    return true;
                }
            }
        }
        false
    }

    /// A request to `url` carrying this client's API token, if any.
    pub(crate) fn request(&self, method: Method, url: String, timeout: Duration) -> Request {
        Request {
            credential: self.inner.api_token.clone().map(Credential::ApiToken),
            ..Request::new(method, url, timeout)
        }
    }

    pub(crate) fn learn_membership(&self, membership: MembershipResponse) -> MembershipResponse {
        let mut routing = self.routing();
        routing.learn_members(&membership.members);
        routing.set_leader(membership.leader);
        membership
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
