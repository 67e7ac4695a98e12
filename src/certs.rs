//! `ordo certs`: a development CA and the certificates a TLS cluster needs
//! (DESIGN.md §3b), so that one is two commands away: `create-ca` once,
//! `create-node` per node (and `create-client` per principal that proves
//! itself with a certificate). For production, certificates from your own
//! CA do as well: nodes need theirs usable as server and client.

use std::path::PathBuf;

use ordo_tls::certs::{self, CreatedFiles};

use crate::output::outln;

/// Where certificates go unless told otherwise.
const DEFAULT_DIR: &str = "certs";

// The variants are the subcommands' names (`create-ca`, `create-node`,
// `create-client`), which DESIGN.md §3b fixes.
#[allow(clippy::enum_variant_names)]
#[derive(clap::Subcommand, Debug)]
pub enum CertsCommand {
    /// Write a new CA: DIR/ca.crt and DIR/ca.key (never overwritten).
    CreateCa {
        /// Where to write them.
        #[arg(long, default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Keep a CA already in DIR and succeed (a container's first start
        /// makes one, later starts keep it); without it, an existing CA is
        /// an error.
        #[arg(long)]
        if_missing: bool,
    },
    /// Write node N's certificate and key, signed by the CA: DIR/node-N.crt,
    /// DIR/node-N.key, for every host peers and clients reach it by.
    CreateNode {
        /// The node's id.
        #[arg(long)]
        id: u64,
        /// A host name or IP address the node is reached at (repeat for more).
        #[arg(long = "host", required = true, value_name = "HOST")]
        hosts: Vec<String>,
        #[command(flatten)]
        place: Place,
    },
    /// Write a client certificate for principal NAME (its common name, as
    /// `cert_cn` in an ACL file), signed by the CA: DIR/NAME.crt, DIR/NAME.key.
    CreateClient {
        /// The principal's common name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        place: Place,
    },
}

/// Where a certificate is written and which CA signs it.
#[derive(clap::Args, Debug)]
pub struct Place {
    /// Where to write it.
    #[arg(long, default_value = DEFAULT_DIR)]
    dir: PathBuf,
    /// Where the CA's ca.crt and ca.key are (default: --dir).
    #[arg(long, value_name = "DIR")]
    ca_dir: Option<PathBuf>,
    /// Replace an existing certificate and key (a rotation).
    #[arg(long)]
    force: bool,
}

impl Place {
    fn ca_dir(&self) -> &std::path::Path {
        self.ca_dir.as_deref().unwrap_or(&self.dir)
    }
}

pub fn run(command: CertsCommand) -> anyhow::Result<()> {
    let created = match &command {
        CertsCommand::CreateCa { dir, if_missing } => {
            let existing = CreatedFiles {
                cert: dir.join("ca.crt"),
                key: dir.join("ca.key"),
            };
            if *if_missing && existing.cert.exists() && existing.key.exists() {
                return outln!(
                    "kept the CA in {} and {}",
                    existing.cert.display(),
                    existing.key.display()
                );
            }
            certs::create_ca(dir)?
        }
        CertsCommand::CreateNode { id, hosts, place } => {
            certs::create_node(place.ca_dir(), &place.dir, *id, hosts, place.force)?
        }
        CertsCommand::CreateClient { name, place } => {
            certs::create_client(place.ca_dir(), &place.dir, name, place.force)?
        }
    };
    let CreatedFiles { cert, key } = created;
    outln!(
        "wrote {} and {} (the key is readable by you only)",
        cert.display(),
        key.display()
    )
}
