//! The principals a node knows, kept current: the ACL file (`--acl-file`),
//! re-read when it changes on disk, plus the `--api-token-file` token as a
//! principal with every right. A replacement that does not parse is
//! refused whole: the node keeps the principals it had and says why in
//! its log (never quoting a token).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use ordo_api::secret::Secret;

use crate::acl::{Acl, AclError};

/// The name the `--api-token-file` token's principal goes by in 403s and
/// logs.
pub const API_TOKEN_PRINCIPAL: &str = "api-token";

/// Why the principals could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PrincipalsError {
    #[error("reading the ACL file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("the ACL file {path}: {cause}")]
    Invalid { path: PathBuf, cause: AclError },
    #[error("the API token: {0}")]
    Token(AclError),
}

/// Where the principals come from.
#[derive(Debug)]
struct Sources {
    acl_file: Option<PathBuf>,
    api_token: Option<Secret>,
}

/// The node's principals; cheap to clone (one shared store).
#[derive(Clone, Debug)]
pub struct Principals(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    sources: Sources,
    current: RwLock<Arc<Acl>>,
    /// The ACL file's text behind `current`: a reload with the same text
    /// changes nothing.
    loaded_text: Mutex<Option<String>>,
}

impl Principals {
    /// The principals of `acl_file` and `api_token`; `None` when neither is
    /// set (the API is then open).
    pub fn load(
        acl_file: Option<PathBuf>,
        api_token: Option<Secret>,
    ) -> Result<Option<Principals>, PrincipalsError> {
        if acl_file.is_none() && api_token.is_none() {
            return Ok(None);
        }
        let sources = Sources {
            acl_file,
            api_token,
        };
        let text = sources.acl_file.as_deref().map(read).transpose()?;
        let acl = build(&sources, text.as_deref())?;
        Ok(Some(Principals(Arc::new(Shared {
            sources,
            current: RwLock::new(Arc::new(acl)),
            loaded_text: Mutex::new(text),
        }))))
    }

    /// Only `token`, with every right.
    pub fn api_token(token: Secret) -> Principals {
        Principals::load(None, Some(token))
            .expect("one token alone is always a valid set of principals")
            .expect("a token was given")
    }

    /// The principals in force now.
    pub fn current(&self) -> Arc<Acl> {
        Arc::clone(
            &self
                .0
                .current
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Re-reads the ACL file: `Ok(true)` if it changed and was taken. On an
    /// error the principals in force stay.
    pub fn reload(&self) -> Result<bool, PrincipalsError> {
        let Some(path) = self.0.sources.acl_file.as_deref() else {
            return Ok(false);
        };
        let text = read(path)?;
        let mut loaded = self
            .0
            .loaded_text
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if loaded.as_deref() == Some(text.as_str()) {
            return Ok(false);
        }
        let acl = build(&self.0.sources, Some(&text))?;
        *self
            .0
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(acl);
        *loaded = Some(text);
        Ok(true)
    }

    /// Re-reads the ACL file every `every`, saying in the log what changed
    /// or why a replacement was refused (once per distinct refusal).
    pub fn watch(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let principals = self.clone();
        tokio::spawn(async move {
            let mut last_refusal = None;
            loop {
                tokio::time::sleep(every).await;
                match principals.reload() {
                    Ok(true) => {
                        last_refusal = None;
                        tracing::info!(
                            acl_file = ?principals.0.sources.acl_file,
                            principals = ?principals.current(),
                            "ACL file reloaded"
                        );
                    }
                    Ok(false) => {}
                    Err(e) => {
                        let reason = e.to_string();
                        if last_refusal.as_ref() != Some(&reason) {
                            tracing::warn!(
                                error = %reason,
                                "ACL file not reloaded: keeping the principals in force"
                            );
                            last_refusal = Some(reason);
                        }
                    }
                }
            }
        })
    }
}

fn read(path: &Path) -> Result<String, PrincipalsError> {
    std::fs::read_to_string(path).map_err(|cause| PrincipalsError::Read {
        path: path.to_path_buf(),
        cause,
    })
}

fn build(sources: &Sources, acl_text: Option<&str>) -> Result<Acl, PrincipalsError> {
    let acl = match (acl_text, &sources.acl_file) {
        (Some(text), Some(path)) => Acl::parse(text).map_err(|cause| PrincipalsError::Invalid {
            path: path.clone(),
            cause,
        })?,
        _ => Acl::default(),
    };
    match &sources.api_token {
        Some(token) => acl
            .with_token_for_everything(API_TOKEN_PRINCIPAL, token)
            .map_err(PrincipalsError::Token),
        None => Ok(acl),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BILLING: &str =
        "[[principals]]\nname = \"billing\"\ntoken = \"b-token\"\nread = [\"orders\"]\n";

    #[test]
    fn a_changed_acl_file_is_taken_and_a_bad_one_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("acl.toml");
        std::fs::write(&file, BILLING).unwrap();
        let token = Secret::new("admin-token").unwrap();
        let principals = Principals::load(Some(file.clone()), Some(token))
            .unwrap()
            .unwrap();
        assert!(principals.current().by_token(b"b-token").is_some());
        assert!(principals.current().by_token(b"admin-token").is_some());
        assert!(!principals.reload().unwrap(), "unchanged");

        std::fs::write(&file, BILLING.replace("b-token", "b2-token")).unwrap();
        assert!(principals.reload().unwrap());
        assert!(principals.current().by_token(b"b-token").is_none());
        assert!(principals.current().by_token(b"b2-token").is_some());

        std::fs::write(
            &file,
            "[[principals]]\nname = \"x\"\ntoken = \"secret-x\"\nread = [\"a b\"]\n",
        )
        .unwrap();
        let refused = principals.reload().unwrap_err().to_string();
        assert!(refused.contains("acl.toml"), "{refused}");
        assert!(!refused.contains("secret-x"), "a token leaked: {refused}");
        assert!(
            principals.current().by_token(b"b2-token").is_some(),
            "the old one stays"
        );
        assert!(principals.current().by_token(b"admin-token").is_some());
    }

    #[test]
    fn nothing_configured_is_an_open_api_and_a_missing_file_an_error() {
        assert!(Principals::load(None, None).unwrap().is_none());
        let missing = PathBuf::from("/nonexistent/acl.toml");
        assert!(matches!(
            Principals::load(Some(missing), None),
            Err(PrincipalsError::Read { .. })
        ));
    }
}
