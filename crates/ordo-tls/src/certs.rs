//! Development certificates (rcgen): a CA, node certificates signed by it,
//! and client certificates for principals. Keys are ECDSA P-256, written
//! with mode 0600; every file is PEM and written atomically, so a node
//! watching its files never reads half of one.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::DnsName;

use crate::files::{self, Access};
use crate::TlsError;

/// The subject common name of the CA [`create_ca`] makes.
pub const CA_COMMON_NAME: &str = "ordo development CA";
const CA_VALIDITY: time::Duration = time::Duration::days(3650);
const LEAF_VALIDITY: time::Duration = time::Duration::days(365);
/// Certificates start an hour in the past, so that a machine whose clock is
/// a little behind the one that made them accepts them at once.
const BACKDATE: time::Duration = time::Duration::hours(1);

/// A certificate and its key, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CreatedFiles {
    /// `<dir>/<stem>.crt` and `<dir>/<stem>.key`.
    fn in_dir(dir: &Path, stem: &str) -> CreatedFiles {
        CreatedFiles {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
        }
    }

    fn refuse_existing(&self) -> Result<(), TlsError> {
        let existing: Vec<PathBuf> = [&self.cert, &self.key]
            .into_iter()
            .filter(|path| path.exists())
            .cloned()
            .collect();
        if existing.is_empty() {
            Ok(())
        } else {
            Err(TlsError::WouldOverwrite { paths: existing })
        }
    }

    /// Writes the key, then the certificate.
    fn write(&self, cert_pem: &str, key: &KeyPair, overwrite: bool) -> Result<(), TlsError> {
        let dir = self.cert.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|cause| TlsError::Write {
            path: dir.to_owned(),
            cause,
        })?;
        let key_pem = key.serialize_pem();
        files::write_atomic(&self.key, key_pem.as_bytes(), Access::OwnerOnly, overwrite)?;
        files::write_atomic(&self.cert, cert_pem.as_bytes(), Access::Public, overwrite)
    }
}

/// Writes `<dir>/ca.crt` and `<dir>/ca.key`, a new CA with the common name
/// [`CA_COMMON_NAME`] valid for ten years. Never overwrites.
pub fn create_ca(dir: &Path) -> Result<CreatedFiles, TlsError> {
    let created = CreatedFiles::in_dir(dir, "ca");
    created.refuse_existing()?;
    let key = KeyPair::generate().map_err(generate_error)?;
    let mut params = params(CA_COMMON_NAME, CA_VALIDITY);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).map_err(generate_error)?;
    created.write(&cert.pem(), &key, false)?;
    Ok(created)
}

/// Reads the CA in `ca_dir` and writes `<dir>/node-<id>.crt` and `.key`: the
/// common name `ordo-node-<id>`, one subject alternative name per host (an
/// IP address, `[v6]` allowed, or a DNS name), usable by a TLS server and a
/// TLS client (nodes are both), valid for a year. Existing files are
/// replaced only with `overwrite` (a rotation).
pub fn create_node(
    ca_dir: &Path,
    dir: &Path,
    id: u64,
    hosts: &[String],
    overwrite: bool,
) -> Result<CreatedFiles, TlsError> {
    if hosts.is_empty() {
        return Err(TlsError::NoHosts);
    }
    let mut params = params(&format!("ordo-node-{id}"), LEAF_VALIDITY);
    params.subject_alt_names = hosts
        .iter()
        .map(|host| subject_alt_name(host))
        .collect::<Result<_, _>>()?;
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    issue(
        ca_dir,
        CreatedFiles::in_dir(dir, &format!("node-{id}")),
        params,
        overwrite,
    )
}

/// Reads the CA in `ca_dir` and writes `<dir>/<common_name>.crt` and `.key`:
/// a client certificate (usable only by a TLS client) for the principal
/// `common_name` (1 to 64 of `A-Z a-z 0-9 . _ -`), valid for a year.
/// Existing files are replaced only with `overwrite`.
pub fn create_client(
    ca_dir: &Path,
    dir: &Path,
    common_name: &str,
    overwrite: bool,
) -> Result<CreatedFiles, TlsError> {
    let valid = (1..=64).contains(&common_name.len())
        && common_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(TlsError::InvalidCommonName(common_name.to_owned()));
    }
    let mut params = params(common_name, LEAF_VALIDITY);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    issue(
        ca_dir,
        CreatedFiles::in_dir(dir, common_name),
        params,
        overwrite,
    )
}

/// Signs `params` with a new key by the CA in `ca_dir`; writes `created`.
fn issue(
    ca_dir: &Path,
    created: CreatedFiles,
    mut params: CertificateParams,
    overwrite: bool,
) -> Result<CreatedFiles, TlsError> {
    let ca = CreatedFiles::in_dir(ca_dir, "ca");
    // A client called "ca" written next to the CA would replace it.
    if same_file_or_target(&created.cert, &ca.cert) || same_file_or_target(&created.key, &ca.key) {
        return Err(TlsError::WouldOverwrite {
            paths: vec![ca.cert, ca.key],
        });
    }
    if !overwrite {
        created.refuse_existing()?;
    }
    let ca_cert_pem = files::read(&ca.cert)?;
    let ca_key_pem = files::read(&ca.key)?;
    // Refuses a CA key that does not match its certificate, which would
    // sign certificates nobody can verify.
    files::certified_key(
        &ca.cert,
        &ca_cert_pem,
        &ca.key,
        &ca_key_pem,
        &crate::provider(),
    )?;
    let ca_key_pem = String::from_utf8(ca_key_pem).map_err(|_| TlsError::BadKey {
        path: ca.key.clone(),
        reason: "not text".into(),
    })?;
    let ca_key = KeyPair::from_pem(&ca_key_pem).map_err(|e| TlsError::BadKey {
        path: ca.key.clone(),
        reason: e.to_string(),
    })?;
    let ca_cert_pem = String::from_utf8_lossy(&ca_cert_pem);
    let issuer =
        Issuer::from_ca_cert_pem(&ca_cert_pem, ca_key).map_err(|e| TlsError::BadCertificate {
            path: ca.cert.clone(),
            reason: e.to_string(),
        })?;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let key = KeyPair::generate().map_err(generate_error)?;
    let cert = params.signed_by(&key, &issuer).map_err(generate_error)?;
    created.write(&cert.pem(), &key, overwrite)?;
    Ok(created)
}

/// Parameters with the subject `common_name`, valid from a little before
/// now for `validity`.
fn params(common_name: &str, validity: time::Duration) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    params
}

fn subject_alt_name(host: &str) -> Result<SanType, TlsError> {
    let unbracketed = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let invalid = || TlsError::InvalidHost(host.to_owned());
    DnsName::try_from(host).map_err(|_| invalid())?;
    Ok(SanType::DnsName(host.try_into().map_err(|_| invalid())?))
}

/// Whether `a` and `b` name the same file: equal paths, or the same
/// existing file reached two ways.
fn same_file_or_target(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(a), Ok(b)) if a == b
        )
}

fn generate_error(e: rcgen::Error) -> TlsError {
    TlsError::Generate(e.to_string())
}
