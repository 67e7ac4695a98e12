//! [`ClientAuth`]: whether a client must present a certificate
//! (`--tls-client-auth`).

use std::fmt;
use std::str::FromStr;

/// Whether the server requires a client certificate. A presented one is
/// always verified against the CA, whatever this says: a certificate from
/// another CA is refused in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// A client without a certificate is let in, and a certificate names
    /// no principal (tokens do). Peers present theirs anyway: the HTTP
    /// layer takes Raft messages only from a node's certificate.
    #[default]
    None,
    /// A client without a certificate is let in; the HTTP layer uses a
    /// verified one's common name as its principal.
    Optional,
    /// A client without a certificate is refused in the handshake.
    Required,
}

impl ClientAuth {
    fn as_str(self) -> &'static str {
        match self {
            ClientAuth::None => "none",
            ClientAuth::Optional => "optional",
            ClientAuth::Required => "required",
        }
    }
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `--tls-client-auth` value that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a client auth mode: expected none, optional or required")]
pub struct ParseClientAuthError(String);

impl FromStr for ClientAuth {
    type Err = ParseClientAuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required]
            .into_iter()
            .find(|mode| mode.as_str() == s)
            .ok_or_else(|| ParseClientAuthError(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_displays() {
        for mode in [ClientAuth::None, ClientAuth::Optional, ClientAuth::Required] {
            assert_eq!(mode.to_string().parse::<ClientAuth>(), Ok(mode));
        }
        assert_eq!(ClientAuth::default(), ClientAuth::None);
        let err = "Required".parse::<ClientAuth>().unwrap_err();
        assert!(err
            .to_string()
            .contains("expected none, optional or required"));
    }

    #[test]
    fn deserializes_lowercase() {
        #[derive(serde::Deserialize)]
        struct Config {
            mode: ClientAuth,
        }
        let config: Config = serde_json::from_str(r#"{"mode":"optional"}"#).unwrap();
        assert_eq!(config.mode, ClientAuth::Optional);
        assert!(serde_json::from_str::<Config>(r#"{"mode":"Optional"}"#).is_err());
    }
}
