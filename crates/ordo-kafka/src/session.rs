//! Who is on the other end of a connection, and what it may do: with the
//! node's principals (an ACL file or an API token), a client is known by
//! the ordo token it sends as its SASL/PLAIN password (the user name is
//! only logged), or by its TLS client certificate's common name, and holds
//! that principal's rights (DESIGN.md §3b); without them, every client may
//! do everything, as over HTTP.

use std::sync::Arc;

use ordo_http::acl::{Permission, Principal, Resource};

use crate::Broker;

/// One connection's identity.
#[derive(Default)]
pub(crate) struct Session {
    /// The client's address, as DescribeGroups shows it (`/ip`, Kafka's
    /// form).
    pub client_host: String,
    pub principal: Option<Arc<Principal>>,
    /// SaslHandshake v0 was answered: the next frame is a bare PLAIN token,
    /// not a request.
    pub bare_sasl_token_next: bool,
}

/// Why a SASL/PLAIN token was refused; the message names no credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SaslError {
    #[error("a PLAIN token is authzid NUL user NUL password")]
    Malformed,
    #[error("the password is not a token this node knows")]
    UnknownToken,
}

impl Session {
    /// Whether the connection may make requests other than ApiVersions
    /// and SASL's.
    pub fn authenticated(&self, broker: &Broker) -> bool {
        broker.config.principals.is_none() || self.principal.is_some()
    }

    /// Whether the client may do `permission` to `resource`.
    pub fn may(&self, broker: &Broker, permission: Permission, resource: Resource<'_>) -> bool {
        if broker.config.principals.is_none() {
            return true;
        }
        self.principal
            .as_ref()
            .is_some_and(|principal| principal.check(permission, resource).is_ok())
    }

    /// Authenticates with a SASL/PLAIN token.
    pub fn plain(&mut self, broker: &Broker, token: &[u8]) -> Result<(), SaslError> {
        let mut parts = token.splitn(3, |byte| *byte == 0);
        let (Some(_authzid), Some(user), Some(password)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(SaslError::Malformed);
        };
        let Some(principals) = &broker.config.principals else {
            tracing::debug!(user = %String::from_utf8_lossy(user), "SASL/PLAIN on an open node");
            return Ok(());
        };
        let acl = principals.current();
        let principal = acl.by_token(password).ok_or(SaslError::UnknownToken)?;
        tracing::debug!(
            user = %String::from_utf8_lossy(user),
            principal = %principal.name,
            "SASL/PLAIN authenticated"
        );
        self.principal = Some(Arc::clone(principal));
        Ok(())
    }

    /// Authenticates with a verified client certificate's common name.
    pub fn certificate(&mut self, broker: &Broker, common_name: &str) {
        if !broker.config.certificate_principals {
            return;
        }
        if let Some(principals) = &broker.config.principals {
            self.principal = principals.current().by_cert_cn(common_name).cloned();
        }
    }
}
