//! The cluster: a node's status (which also teaches the client the members
//! and the leader), every member's own view, the members' recent events,
//! init, adding and removing nodes, and moving leadership.

use std::time::Duration;

use ordo_api::limits::DEFAULT_CATCH_UP_TIMEOUT_MS;
use ordo_api::{
    AddNodeRequest, ClusterNodes, ClusterStatus, EventList, EventsParams, InitRequest,
    MembershipResponse, NodeView, TransferLeaderRequest,
};
use ordo_core::NodeId;
use ordo_transport::Method;

use crate::call::Safety;
use crate::client::Client;
use crate::error::ClientError;
use crate::exchange::Call;

impl Client {
    /// The status of whichever node answers; also teaches this client the
    /// members' addresses and the current leader.
    pub async fn cluster_status(&self) -> Result<ClusterStatus, ClientError> {
        let status: ClusterStatus = self.send(Call::get("/v1/cluster")).await?.json()?;
        self.learn(&status);
        Ok(status)
    }

    /// Every member as it answered for itself to whichever node answers
    /// (`reachable: false` for one that did not), by id.
    pub async fn cluster_nodes(&self) -> Result<Vec<NodeView>, ClientError> {
        let nodes: ClusterNodes = self.send(Call::get("/v1/cluster/nodes")).await?.json()?;
        Ok(nodes.nodes)
    }

    /// The members' newest events, oldest first, as whichever node answers
    /// gathered them (`params.after` filters that node's own only).
    pub async fn events(&self, params: &EventsParams) -> Result<EventList, ClientError> {
        let encoded =
            serde_urlencoded::to_string(params).expect("EventsParams is a flat struct of numbers");
        let path = format!("/v1/events?{encoded}");
        self.send(Call::get(&path)).await?.json()
    }

    /// Initializes the cluster's membership. Doing it twice is harmless on
    /// the server, so it is retried like a read.
    pub async fn init(&self, request: &InitRequest) -> Result<(), ClientError> {
        let call = Call::post("/v1/cluster/init", request, Safety::Idempotent);
        self.send(call).await?;
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
        let catch_up = Duration::from_millis(
            request
                .catch_up_timeout_ms
                .unwrap_or(DEFAULT_CATCH_UP_TIMEOUT_MS),
        );
        let waits = catch_up + self.inner.timeout * 2;
        let call = Call::post("/v1/cluster/nodes", request, Safety::AppendOnce);
        let membership = self.send(call.waiting(waits)).await?.json()?;
        Ok(self.learn_membership(membership))
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
        let call = Call::bare(Method::Delete, &path, Safety::AppendOnce);
        let membership = self.send(call).await?.json()?;
        Ok(self.learn_membership(membership))
    }

    /// Hands leadership to voter `to`, or to the most caught-up other
    /// voter; answers once the old leader sees the new one lead. Resent
    /// after an unknown outcome: a transfer to the leader does nothing.
    pub async fn transfer_leader(
        &self,
        to: Option<NodeId>,
    ) -> Result<MembershipResponse, ClientError> {
        let request = TransferLeaderRequest { id: to };
        let call = Call::post("/v1/cluster/leader", &request, Safety::Idempotent);
        let membership = self.send(call).await?.json()?;
        Ok(self.learn_membership(membership))
    }
}
