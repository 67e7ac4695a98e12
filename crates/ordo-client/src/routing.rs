//! Which node to ask next. Pure bookkeeping, no I/O: the leader if its
//! address is known, else the node that answered last, rotating past nodes
//! that already failed in the current call.
//!
//! Any node accepts any request (followers forward to the leader), so going
//! to the leader directly only saves a hop; correctness never depends on the
//! hint being right.

use std::collections::BTreeMap;

use ordo_api::Member;
use ordo_core::NodeId;

use crate::addr::normalize_addr_as;

#[derive(Debug, Clone)]
pub(crate) struct Routing {
    /// Base URLs to try: the seeds first, then members learned later.
    addrs: Vec<String>,
    /// Node id to base URL, from `ClusterStatus.members` or the caller.
    members: BTreeMap<NodeId, String>,
    /// The leader the cluster last named.
    leader: Option<NodeId>,
    /// Index into `addrs` of the node that answered last.
    preferred: usize,
    /// A pinned client talks to its one node only and learns no others.
    pinned: bool,
}

impl Routing {
    /// `addrs` must be normalized and non-empty.
    pub fn new(addrs: Vec<String>, pinned: bool) -> Self {
        assert!(!addrs.is_empty(), "a client needs at least one address");
        Routing {
            addrs,
            members: BTreeMap::new(),
            leader: None,
            preferred: 0,
            pinned,
        }
    }

    pub fn addrs(&self) -> &[String] {
        &self.addrs
    }

    /// The seeds' scheme, `http` or `https` (the first seed's).
    pub fn scheme(&self) -> &str {
        self.addrs[0]
            .split_once("://")
            .map_or("http", |(scheme, _)| scheme)
    }

    pub fn leader(&self) -> Option<NodeId> {
        self.leader
    }

    /// The next node to try, skipping those in `failed`; `None` once every
    /// known node has failed in this sweep.
    pub fn pick(&self, failed: &[String]) -> Option<String> {
        if let Some(leader_addr) = self.leader_addr() {
            if !failed.iter().any(|f| f == leader_addr) {
                return Some(leader_addr.to_string());
            }
        }
        let count = self.addrs.len();
        (0..count)
            .map(|step| &self.addrs[(self.preferred + step) % count])
            .find(|addr| !failed.contains(addr))
            .cloned()
    }

    /// The leader's base URL, when a leader is known and so is its address.
    pub fn leader_addr(&self) -> Option<&str> {
        if self.pinned {
            return None;
        }
        self.members.get(&self.leader?).map(String::as_str)
    }

    /// True when the cluster named a leader whose address this client lacks.
    pub fn leader_addr_unknown(&self) -> bool {
        !self.pinned && self.leader.is_some() && self.leader_addr().is_none()
    }

    /// A node answered. A definite answer (success or refusal) makes it the
    /// preferred node; every answer updates the leader hint, since a node
    /// that names no leader knows of none.
    pub fn on_answer(&mut self, addr: &str, leader: Option<NodeId>, definite: bool) {
        self.leader = leader;
        if definite {
            if let Some(index) = self.addrs.iter().position(|a| a == addr) {
                self.preferred = index;
            }
        }
    }

    /// Learns the id-to-address map (and so new nodes to fail over to).
    pub fn learn_members(&mut self, members: &[Member]) {
        if self.pinned {
            return;
        }
        for member in members {
            // A member's address is `host:port`: it is reached as the
            // seeds are (a TLS cluster's seeds are `https://`).
            let Ok(addr) = normalize_addr_as(&member.addr, self.scheme()) else {
                tracing::debug!(id = member.id, addr = %member.addr, "ignoring unparseable member address");
                continue;
            };
            if !self.addrs.contains(&addr) {
                self.addrs.push(addr.clone());
            }
            self.members.insert(member.id, addr);
        }
    }

    /// Records a leader named in a status body (more current than a header).
    pub fn set_leader(&mut self, leader: Option<NodeId>) {
        self.leader = leader;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(ports: &[u16]) -> Vec<String> {
        ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect()
    }

    #[test]
    fn members_of_a_tls_cluster_are_reached_over_https_as_the_seeds_are() {
        let mut routing = Routing::new(vec!["https://127.0.0.1:1".to_string()], false);
        routing.learn_members(&[member(2, 2)]);
        assert_eq!(routing.addrs()[1], "https://127.0.0.1:2");
    }

    fn member(id: NodeId, port: u16) -> Member {
        Member {
            id,
            addr: format!("127.0.0.1:{port}"),
            voter: true,
        }
    }

    #[test]
    fn goes_to_the_known_leader_first() {
        let mut routing = Routing::new(urls(&[1, 2, 3]), false);
        routing.learn_members(&[member(1, 1), member(2, 2), member(3, 3)]);
        routing.on_answer("http://127.0.0.1:1", Some(3), true);
        assert_eq!(routing.pick(&[]).as_deref(), Some("http://127.0.0.1:3"));
    }

    #[test]
    fn rotates_past_failed_nodes_from_the_last_one_that_answered() {
        let mut routing = Routing::new(urls(&[1, 2, 3]), false);
        routing.on_answer("http://127.0.0.1:2", None, true);
        assert_eq!(routing.pick(&[]).as_deref(), Some("http://127.0.0.1:2"));
        let failed = urls(&[2]);
        assert_eq!(routing.pick(&failed).as_deref(), Some("http://127.0.0.1:3"));
        let failed = urls(&[2, 3]);
        assert_eq!(routing.pick(&failed).as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(routing.pick(&urls(&[1, 2, 3])), None);
    }

    #[test]
    fn a_failed_leader_is_skipped_for_the_rest_of_the_sweep() {
        let mut routing = Routing::new(urls(&[1, 2]), false);
        routing.learn_members(&[member(1, 1), member(2, 2)]);
        routing.on_answer("http://127.0.0.1:1", Some(2), true);
        assert_eq!(
            routing.pick(&urls(&[2])).as_deref(),
            Some("http://127.0.0.1:1")
        );
    }

    #[test]
    fn learned_members_become_failover_targets() {
        let mut routing = Routing::new(urls(&[1]), false);
        routing.learn_members(&[member(1, 1), member(2, 2)]);
        assert_eq!(routing.addrs(), urls(&[1, 2]).as_slice());
        assert_eq!(
            routing.pick(&urls(&[1])).as_deref(),
            Some("http://127.0.0.1:2")
        );
    }

    #[test]
    fn a_pinned_client_never_leaves_its_node() {
        let mut routing = Routing::new(urls(&[1]), true);
        routing.learn_members(&[member(1, 1), member(2, 2)]);
        routing.on_answer("http://127.0.0.1:1", Some(2), true);
        assert_eq!(routing.addrs(), urls(&[1]).as_slice());
        assert_eq!(routing.pick(&[]).as_deref(), Some("http://127.0.0.1:1"));
        assert!(!routing.leader_addr_unknown());
    }
}
