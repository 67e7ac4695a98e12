//! What the access-rights tests share: a cluster started with an ACL file
//! (`ORDO_ACL_FILE`) and an admin API token (which the launcher's own
//! probes send), the file replaced on disk the way a deploy would (written
//! beside it, then renamed over it), principals' entries in it, and raw
//! requests as a principal with what a refusal said.

use std::path::{Path, PathBuf};

use ordo_api::secret::Secret;
use ordo_launcher::LauncherConfig;
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::TestCluster;

/// The `--api-token-file` token every ACL test cluster has (the principal
/// "api-token", with every right): the launcher waits for a leader with it.
pub const ADMIN_TOKEN: &str = "test-admin-token-3f2a9c41e7b05d68";

/// An ACL file in a temporary dir of its own.
pub struct AclFile {
    dir: TempDir,
    path: PathBuf,
}

impl AclFile {
    pub fn new(text: &str) -> AclFile {
        let dir = tempfile::Builder::new()
            .prefix("ordo-acl-")
            .tempdir()
            .expect("a temporary dir for the ACL file");
        let path = dir.path().join("acl.toml");
        let file = AclFile { dir, path };
        file.replace(text);
        file
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file's text at once: a node re-reading it sees the old
    /// text or the new, never half of one.
    pub fn replace(&self, text: &str) {
        let staged = self.dir.path().join("acl.toml.new");
        std::fs::write(&staged, text).expect("writing the new ACL file");
        std::fs::rename(&staged, &self.path).expect("renaming the new ACL file into place");
    }
}

/// One `[[principals]]` entry: `identity` is its `token = "…"` or
/// `cert_cn = "…"` line.
pub fn principal(
    name: &str,
    identity: &str,
    read: &[&str],
    append: &[&str],
    groups: &[&str],
    admin: bool,
) -> String {
    format!(
        "[[principals]]\nname = {name:?}\n{identity}\nread = {read:?}\nappend = {append:?}\n\
         groups = {groups:?}\nadmin = {admin}\n\n"
    )
}

/// `token = "<token>"`, for [`principal`].
pub fn token(token: &str) -> String {
    format!("token = {token:?}")
}

/// Starts a cluster whose nodes read `acl` and take [`ADMIN_TOKEN`],
/// with the launcher's config changed by `configure` after that (TLS, a
/// cluster secret, more environment).
pub async fn start_with_acl(
    acl: &AclFile,
    configure: impl FnOnce(&mut LauncherConfig),
) -> TestCluster {
    let acl_path = acl.path().to_str().expect("a UTF-8 temp path").to_owned();
    TestCluster::start_with_config(|config| {
        config.api_token = Some(Secret::new(ADMIN_TOKEN).expect("a valid token"));
        config.env.push(("ORDO_ACL_FILE".into(), acl_path));
        configure(config);
    })
    .await
}

/// What a node answered to a raw request: its status and JSON body (or
/// `Null` if the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The `error.message` of an error body.
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// Panics unless this is a 403 `forbidden` whose message names
    /// `principal` and says `may not {action}`.
    pub fn assert_forbidden(&self, principal: &str, action: &str, what: &str) {
        assert_eq!(self.status, 403, "{what}: {self:?}");
        assert_eq!(self.code(), "forbidden", "{what}: {self:?}");
        let expected = format!("principal {principal:?} may not {action}");
        assert_eq!(self.message(), expected, "{what}");
    }
}

/// Sends `method path` (with a JSON `body`, if any) to node `id` with
/// `token` as the bearer token (none if `None`).
pub async fn send_as(
    cluster: &TestCluster,
    id: ordo_core::NodeId,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let url = format!("{}{path}", cluster.base_url(id));
    let mut request = cluster.http().request(method.clone(), &url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    answer(with_token(request, token))
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// `request` with `token` as its bearer token, if any.
pub fn with_token(request: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
}

/// Sends `request` and reads its status and JSON body.
pub async fn answer(request: RequestBuilder) -> Result<Answer, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok(Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    })
}
