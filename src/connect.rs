//! How the CLI reaches a cluster: the connection flags every client command
//! takes (`--addr`, `--timeout-ms`, `--api-token-file`), accepted after the
//! command (`ordo read t --addr X`) or before it (`ordo --addr X read t`, as
//! etcdctl and nats take them), the one `ordo_client::Client` they build,
//! and client errors in the user's terms.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::parser::ValueSource;
use clap::ArgMatches;
use ordo_api::secret::Secret;
use ordo_client::{Client, ClientBuilder, ClientError, RetryPolicy};

use crate::secrets::{self, SecretSetting, API_TOKEN_ENV, TOKEN_ENV};

/// The CLI's default node, node 1 of `make cluster`.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7001";
/// The default for `--timeout-ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// How to reach the cluster; shared by every subcommand that talks to it.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Connection")]
pub struct ConnectArgs {
    /// Node address(es), `host:port`, `http://host:port` or, for a TLS
    /// cluster, `https://host:port`, comma-separated;
    /// any node serves any request, and more than one lets the command
    /// fail over.
    #[arg(
        long,
        env = "ORDO_ADDR",
        default_value = DEFAULT_ADDR,
        value_delimiter = ',',
        value_name = "HOST:PORT"
    )]
    pub addr: Vec<String>,
    /// How long one request may take, retries and failover included, in
    /// milliseconds (a long-poll's wait comes on top). A node that refuses
    /// the connection is reported at once.
    #[arg(long, env = "ORDO_TIMEOUT_MS", default_value_t = DEFAULT_TIMEOUT_MS, value_name = "MS")]
    pub timeout_ms: u64,
    /// A file holding this client's token (trimmed; or put the token
    /// itself in ORDO_TOKEN), for a cluster whose nodes require a
    /// principal. `--api-token-file` and ORDO_API_TOKEN are the same.
    #[arg(
        long = "token-file",
        alias = "api-token-file",
        env = "ORDO_API_TOKEN_FILE",
        value_name = "FILE"
    )]
    pub api_token_file: Option<PathBuf>,
    /// The CA bundle (PEM) that signed the nodes' certificates, for
    /// `https://` addresses (default: the web's roots).
    #[arg(long, env = "ORDO_CA", value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// A client certificate (PEM) to present, for a cluster that names
    /// principals by certificate; needs --cert-key.
    #[arg(long, env = "ORDO_CERT", value_name = "FILE", requires = "cert_key")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM). Not `--key`: that is a record's
    /// key in `ordo append`.
    #[arg(long, env = "ORDO_CERT_KEY", value_name = "FILE", requires = "cert")]
    pub cert_key: Option<PathBuf>,
}

impl ConnectArgs {
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        self.client_with(RetryPolicy::interactive(self.timeout()))
    }

    /// A client with its own retry policy (a status probe tries each node
    /// once); the same addresses, timeout and token.
    pub(crate) fn client_with(&self, retry: RetryPolicy) -> anyhow::Result<Client> {
        Ok(self.builder(self.addr.clone())?.retry(retry).build()?)
    }

    /// A client builder for `addrs` with these flags' timeout, token and
    /// TLS.
    pub(crate) fn builder(&self, addrs: Vec<String>) -> anyhow::Result<ClientBuilder> {
        let mut builder = Client::builder(addrs)
            .timeout(self.timeout())
            .api_token(self.api_token()?);
        if let Some(tls) = self.tls()? {
            builder = builder.tls(tls);
        }
        Ok(builder)
    }

    /// The TLS these flags ask for: `None` leaves the client's default
    /// (the web's roots, no client certificate).
    pub(crate) fn tls(&self) -> anyhow::Result<Option<ordo_tls::rustls::ClientConfig>> {
        let identity = self.cert.as_deref().zip(self.cert_key.as_deref());
        if self.ca.is_none() && identity.is_none() {
            return Ok(None);
        }
        Ok(Some(ordo_tls::client_config(self.ca.as_deref(), identity)?))
    }

    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.max(1))
    }

    /// The token from --token-file, ORDO_TOKEN or ORDO_API_TOKEN, if one
    /// is set.
    pub(crate) fn api_token(&self) -> anyhow::Result<Option<Secret>> {
        let (env, value) = match secrets::from_env(TOKEN_ENV)? {
            Some(token) => (TOKEN_ENV, Some(token)),
            None => (API_TOKEN_ENV, secrets::from_env(API_TOKEN_ENV)?),
        };
        SecretSetting {
            flag: "--token-file",
            env,
            file: self.api_token_file.as_deref(),
            value,
            config_file: None,
        }
        .resolve()
    }
}

/// The connection flags given before the command (`ordo --addr X read t`).
/// No defaults or environment here: those belong to the command's own
/// [`ConnectArgs`], which these override unless the command line gave the
/// flag again after the command (the later one wins, as usual).
#[derive(clap::Args, Debug, Default)]
#[command(next_help_heading = "Connection (for the commands that talk to a cluster)")]
pub struct GlobalConnect {
    /// Node address(es) for the command: see its --addr.
    #[arg(long, value_delimiter = ',', value_name = "HOST:PORT")]
    pub addr: Option<Vec<String>>,
    /// Deadline of each request, retries included, in milliseconds: see the
    /// command's --timeout-ms.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// The token file for the command: see its --token-file.
    #[arg(long = "token-file", alias = "api-token-file", value_name = "FILE")]
    pub api_token_file: Option<PathBuf>,
}

impl GlobalConnect {
    fn given(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        if self.addr.is_some() {
            given.push("--addr");
        }
        if self.timeout_ms.is_some() {
            given.push("--timeout-ms");
        }
        if self.api_token_file.is_some() {
            given.push("--token-file");
        }
        given
    }

    /// Puts these flags into the command's `connect` (`None`: a command
    /// that talks to no cluster, which refuses them). `matches` is the
    /// whole command line's, to tell a flag given after the command from
    /// an environment variable or a default.
    pub fn apply(
        self,
        command_name: &str,
        connect: Option<&mut ConnectArgs>,
        matches: &ArgMatches,
    ) -> anyhow::Result<()> {
        let given = self.given();
        if given.is_empty() {
            return Ok(());
        }
        let Some(connect) = connect else {
            bail!(
                "{} before the command is for the commands that talk to a cluster, not `ordo {command_name}`",
                given.join(", ")
            );
        };
        let mut innermost = matches;
        while let Some((_, sub)) = innermost.subcommand() {
            innermost = sub;
        }
        let given_after = |id: &str| innermost.value_source(id) == Some(ValueSource::CommandLine);
        if let Some(addr) = self.addr {
            if !given_after("addr") {
                connect.addr = addr;
            }
        }
        if let Some(ms) = self.timeout_ms {
            if !given_after("timeout_ms") {
                connect.timeout_ms = ms;
            }
        }
        if let Some(file) = self.api_token_file {
            if !given_after("api_token_file") {
                connect.api_token_file = Some(file);
            }
        }
        Ok(())
    }
}

/// A client error in the user's terms.
pub(crate) fn explain(error: &ClientError, connect: &ConnectArgs) -> String {
    match error {
        ClientError::Unavailable { answer: None, .. } => format!(
            "{error}; is the cluster at --addr {} (or ORDO_ADDR) running?",
            connect.addr.join(",")
        ),
        ClientError::Api { status: 401, .. } => {
            format!("{error} (give your token with --token-file or {TOKEN_ENV})")
        }
        _ => error.to_string(),
    }
}

/// A client result as an `anyhow` result with [`explain`]'s text.
pub(crate) trait Explain<T> {
    fn explained(self, connect: &ConnectArgs) -> anyhow::Result<T>;
}

impl<T> Explain<T> for Result<T, ClientError> {
    fn explained(self, connect: &ConnectArgs) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!(explain(&e, connect)))
    }
}
