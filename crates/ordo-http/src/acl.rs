//! Who may do what: the ACL file (`--acl-file`, DESIGN.md §3b) as
//! principals, each known by a bearer token (or its SHA-256) or a client
//! certificate's common name, with the topics it may read and append to,
//! the consumer groups it may use, and whether it may administer the
//! cluster. Pure: parsing text and answering "may this principal do this
//! to that?"; reading the file, watching it and checking requests are the
//! server's (`principals`, `auth`).

use std::collections::BTreeSet;
use std::sync::Arc;

use ordo_api::secret::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Records, streams, offsets by time, topic info.
    Read,
    Append,
    /// Consumer groups' positions (and queues).
    Groups,
    /// Topic configs, deletes and compaction, membership, backups.
    Admin,
}

/// What a request touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource<'a> {
    Topic(&'a str),
    Group(&'a str),
    Cluster,
}

/// A principal outside its rights: the 403's message names the permission
/// and the resource, never a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal {principal:?} may not {action}")]
pub struct Forbidden {
    pub principal: String,
    pub action: String,
}

/// Why an ACL file was refused: the running node keeps its previous one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("the ACL file is not valid TOML for ordo: {0}")]
    Syntax(String),
    #[error("principal {name:?} must have exactly one of token, token_sha256 and cert_cn")]
    Identity { name: String },
    #[error("principal {name:?}: its token {reason}")]
    Token { name: String, reason: String },
    #[error("principal {name:?}: token_sha256 must be 64 hex digits")]
    TokenSha256 { name: String },
    #[error("principal {name:?}: {pattern:?} is not a topic or group name or glob (A-Z a-z 0-9 . _ - and *)")]
    Pattern { name: String, pattern: String },
    #[error("principal name {name:?} is used twice")]
    DuplicateName { name: String },
    #[error("principals {first:?} and {second:?} are known by the same credential")]
    DuplicateIdentity { first: String, second: String },
}

/// The ACL file's shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AclFile {
    #[serde(default)]
    principals: Vec<PrincipalEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrincipalEntry {
    name: String,
    token: Option<String>,
    token_sha256: Option<String>,
    cert_cn: Option<String>,
    #[serde(default)]
    read: Vec<String>,
    #[serde(default)]
    append: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    admin: bool,
}

/// How a principal is recognised. A token is kept only as its SHA-256, so
/// that comparing a presented one takes the same time wherever it differs.
#[derive(Clone, PartialEq, Eq)]
enum Identity {
    TokenSha256([u8; 32]),
    CertCn(String),
}

/// A name or a glob of names (`*` stands for any run of characters).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern(String);

impl Pattern {
    fn parse(text: &str) -> Option<Pattern> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '*');
        (!text.is_empty() && text.chars().all(allowed)).then(|| Pattern(text.to_string()))
    }

    fn matches(&self, name: &str) -> bool {
        glob_matches(self.0.as_bytes(), name.as_bytes())
    }
}

/// `*` matches any run of bytes (none included); everything else itself.
/// Iterative, in time proportional to the pattern's length times the
/// name's, however many stars: a name comes from a client, and a pattern
/// like `*a*a*a*` must not make a request cost more than a match.
fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut at_pattern, mut at_name) = (0, 0);
    // The last star seen, and where in the name its run would end next.
    let mut backtrack: Option<(usize, usize)> = None;
    while at_name < name.len() {
        match pattern.get(at_pattern) {
            Some(b'*') => {
                backtrack = Some((at_pattern, at_name));
                at_pattern += 1;
            }
            Some(&byte) if byte == name[at_name] => {
                at_pattern += 1;
                at_name += 1;
            }
            // A mismatch: the last star takes one more byte, if any star.
            _ => match backtrack {
                Some((star, taken_to)) => {
                    backtrack = Some((star, taken_to + 1));
                    at_pattern = star + 1;
                    at_name = taken_to + 1;
                }
                None => return false,
            },
        }
    }
    pattern[at_pattern..].iter().all(|byte| *byte == b'*')
}

/// One principal and its rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    read: Vec<Pattern>,
    append: Vec<Pattern>,
    groups: Vec<Pattern>,
    admin: bool,
}

impl Principal {
    /// A principal with every right (the `--api-token-file` token's).
    pub fn everything(name: &str) -> Principal {
        let all = vec![Pattern("*".into())];
        Principal {
            name: name.to_string(),
            read: all.clone(),
            append: all.clone(),
            groups: all,
            admin: true,
        }
    }

    /// Whether this principal may do `permission` to `resource`.
    pub fn check(&self, permission: Permission, resource: Resource<'_>) -> Result<(), Forbidden> {
        let allowed = match (permission, resource) {
            (Permission::Admin, _) => self.admin,
            (Permission::Read, Resource::Topic(topic)) => any_matches(&self.read, topic),
            (Permission::Append, Resource::Topic(topic)) => any_matches(&self.append, topic),
            (Permission::Groups, Resource::Group(group)) => any_matches(&self.groups, group),
            // A permission asked of a resource it does not apply to.
            _ => false,
        };
        if allowed {
            return Ok(());
        }
        let action = match (permission, resource) {
            (Permission::Admin, _) => "administer the cluster".to_string(),
            (Permission::Read, Resource::Topic(t)) => format!("read topic {t:?}"),
            (Permission::Append, Resource::Topic(t)) => format!("append to topic {t:?}"),
            (Permission::Groups, Resource::Group(g)) => format!("use consumer group {g:?}"),
            (permission, resource) => format!("{permission:?} {resource:?}"),
        };
        Err(Forbidden {
            principal: self.name.clone(),
            action,
        })
    }
}

fn any_matches(patterns: &[Pattern], name: &str) -> bool {
    patterns.iter().any(|pattern| pattern.matches(name))
}

/// Every principal the node knows.
#[derive(Clone, Default)]
pub struct Acl {
    principals: Vec<(Identity, Arc<Principal>)>,
}

impl std::fmt::Debug for Acl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .principals
            .iter()
            .map(|(_, p)| p.name.as_str())
            .collect();
        f.debug_struct("Acl").field("principals", &names).finish()
    }
}

impl Acl {
    /// The ACL file's text, checked whole: one bad principal refuses it all.
    pub fn parse(text: &str) -> Result<Acl, AclError> {
        let file: AclFile =
            toml::from_str(text).map_err(|e| AclError::Syntax(syntax_error(text, &e)))?;
        let mut acl = Acl::default();
        let mut names = BTreeSet::new();
        for entry in file.principals {
            if !names.insert(entry.name.clone()) {
                return Err(AclError::DuplicateName { name: entry.name });
            }
            let (identity, principal) = principal(entry)?;
            acl.add(identity, principal)?;
        }
        Ok(acl)
    }

    /// `token` as one more principal with every right.
    pub fn with_token_for_everything(
        mut self,
        name: &str,
        token: &Secret,
    ) -> Result<Acl, AclError> {
        self.add(
            Identity::TokenSha256(sha256(token.expose().as_bytes())),
            Principal::everything(name),
        )?;
        Ok(self)
    }

    fn add(&mut self, identity: Identity, principal: Principal) -> Result<(), AclError> {
        if let Some((_, first)) = self.principals.iter().find(|(known, _)| *known == identity) {
            return Err(AclError::DuplicateIdentity {
                first: first.name.clone(),
                second: principal.name,
            });
        }
        self.principals.push((identity, Arc::new(principal)));
        Ok(())
    }

    /// The principal a presented bearer token belongs to.
    pub fn by_token(&self, presented: &[u8]) -> Option<&Arc<Principal>> {
        let presented = sha256(presented);
        self.principals
            .iter()
            .find_map(|(identity, principal)| match identity {
                Identity::TokenSha256(known) => {
                    bool::from(known.ct_eq(&presented)).then_some(principal)
                }
                Identity::CertCn(_) => None,
            })
    }

    /// The principal a verified client certificate's common name belongs to.
    pub fn by_cert_cn(&self, cn: &str) -> Option<&Arc<Principal>> {
        self.principals
            .iter()
            .find_map(|(identity, principal)| match identity {
                Identity::CertCn(known) => (known == cn).then_some(principal),
                Identity::TokenSha256(_) => None,
            })
    }
}

/// A TOML error in words that cannot leak a token: its line, and its
/// message with every quoted value left out (a token written where a list
/// or a boolean belongs would otherwise be quoted back).
fn syntax_error(text: &str, error: &toml::de::Error) -> String {
    let mut message = String::new();
    let mut quoted = false;
    for c in error.message().chars() {
        if c == '"' {
            quoted = !quoted;
            message.push('"');
            if quoted {
                message.push('…');
            }
        } else if !quoted {
            message.push(c);
        }
    }
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// One entry of the file as an identity and a principal.
fn principal(entry: PrincipalEntry) -> Result<(Identity, Principal), AclError> {
    let name = entry.name;
    let identity = match (entry.token, entry.token_sha256, entry.cert_cn) {
        (Some(token), None, None) => {
            let token = Secret::new(&token).map_err(|e| AclError::Token {
                name: name.clone(),
                reason: e.to_string(),
            })?;
            Identity::TokenSha256(sha256(token.expose().as_bytes()))
        }
        (None, Some(hex), None) => Identity::TokenSha256(
            parse_sha256(&hex).ok_or_else(|| AclError::TokenSha256 { name: name.clone() })?,
        ),
        (None, None, Some(cn)) if !cn.is_empty() => Identity::CertCn(cn),
        _ => return Err(AclError::Identity { name }),
    };
    let patterns = |texts: Vec<String>| -> Result<Vec<Pattern>, AclError> {
        texts
            .into_iter()
            .map(|text| {
                Pattern::parse(&text).ok_or_else(|| AclError::Pattern {
                    name: name.clone(),
                    pattern: text,
                })
            })
            .collect()
    };
    let principal = Principal {
        read: patterns(entry.read)?,
        append: patterns(entry.append)?,
        groups: patterns(entry.groups)?,
        admin: entry.admin,
        name,
    };
    Ok((identity, principal))
}

/// 64 hex digits as 32 bytes.
fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests;
