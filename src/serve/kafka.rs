//! `ordo serve`'s Kafka listener settings (`--kafka-listen`,
//! `--kafka-advertise`): checked here, once, into the addresses the node
//! binds and tells Kafka clients. Pure: no I/O; `serve` binds and runs it.

use std::net::IpAddr;

use anyhow::{bail, Context};

/// Where the node's Kafka listener listens and what it tells clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KafkaAddrs {
    /// `HOST:PORT` to bind.
    pub(crate) listen: String,
    /// `HOST:PORT` Kafka clients are told to connect to (Metadata,
    /// FindCoordinator), and that the other nodes tell them for this node.
    pub(crate) advertise: String,
}

impl KafkaAddrs {
    /// The Kafka addresses from the settings, `None` without
    /// `--kafka-listen`. `http_listen` is `--listen`, which the Kafka
    /// listener cannot share.
    pub(crate) fn resolve(
        listen: Option<String>,
        advertise: Option<String>,
        http_listen: &str,
    ) -> anyhow::Result<Option<KafkaAddrs>> {
        let Some(listen) = listen else {
            if let Some(advertise) = advertise {
                bail!("--kafka-advertise {advertise} needs --kafka-listen");
            }
            return Ok(None);
        };
        let (host, port) = host_and_port(&listen, "--kafka-listen")?;
        if listen == http_listen {
            bail!("--kafka-listen {listen} is --listen too: the Kafka listener needs a port of its own");
        }
        let advertise = match advertise {
            Some(advertise) => {
                let (host, port) = host_and_port(&advertise, "--kafka-advertise")?;
                if is_unspecified(host) || port == 0 {
                    bail!(
                        "--kafka-advertise {advertise} is no address a client can connect to: \
                         give this node's host name or IP address and port"
                    );
                }
                advertise
            }
            None if is_unspecified(host) || port == 0 => bail!(
                "--kafka-listen {listen} is no address Kafka clients can be told to connect \
                 to: set --kafka-advertise HOST:PORT (ORDO_KAFKA_ADVERTISE), the address \
                 clients reach this node's Kafka listener at"
            ),
            None => listen.clone(),
        };
        Ok(Some(KafkaAddrs { listen, advertise }))
    }
}

/// `HOST:PORT` (`[v6]:PORT` for an IPv6 address) split in two, or an error
/// naming `flag`.
fn host_and_port<'a>(addr: &'a str, flag: &str) -> anyhow::Result<(&'a str, u16)> {
    let (host, port) = addr
        .rsplit_once(':')
        .filter(|(host, _)| !host.is_empty())
        .with_context(|| format!("{flag} {addr:?} is not of the form HOST:PORT"))?;
    let port = port
        .parse()
        .with_context(|| format!("{flag} {addr:?}: the port is not a number from 0 to 65535"))?;
    Ok((host, port))
}

/// `0.0.0.0` or `::`: every interface, which no client can connect to.
fn is_unspecified(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HTTP: &str = "127.0.0.1:7001";

    fn resolve(
        listen: Option<&str>,
        advertise: Option<&str>,
    ) -> anyhow::Result<Option<KafkaAddrs>> {
        KafkaAddrs::resolve(listen.map(Into::into), advertise.map(Into::into), HTTP)
    }

    fn refusal(listen: Option<&str>, advertise: Option<&str>) -> String {
        format!("{:#}", resolve(listen, advertise).unwrap_err())
    }

    #[test]
    fn no_kafka_listen_means_no_kafka_listener() {
        assert_eq!(resolve(None, None).unwrap(), None);
    }

    #[test]
    fn advertise_defaults_to_the_listen_address() {
        let addrs = resolve(Some("127.0.0.1:9092"), None).unwrap().unwrap();
        assert_eq!(addrs.listen, "127.0.0.1:9092");
        assert_eq!(addrs.advertise, "127.0.0.1:9092");
        let named = resolve(Some("0.0.0.0:9092"), Some("kafka-1.internal:19092"))
            .unwrap()
            .unwrap();
        assert_eq!(named.listen, "0.0.0.0:9092");
        assert_eq!(named.advertise, "kafka-1.internal:19092");
    }

    #[test]
    fn every_interface_needs_an_advertised_address() {
        for listen in ["0.0.0.0:9092", "[::]:9092"] {
            let said = refusal(Some(listen), None);
            assert!(said.contains("--kafka-advertise"), "{said}");
            assert!(said.contains(listen), "{said}");
        }
        let said = refusal(Some("127.0.0.1:0"), None);
        assert!(said.contains("--kafka-advertise"), "{said}");
        let said = refusal(Some("0.0.0.0:9092"), Some("0.0.0.0:9092"));
        assert!(
            said.contains("no address a client can connect to"),
            "{said}"
        );
    }

    #[test]
    fn malformed_or_shared_addresses_are_refused() {
        assert!(refusal(Some("9092"), None).contains("HOST:PORT"));
        assert!(refusal(Some(":9092"), None).contains("HOST:PORT"));
        assert!(refusal(Some("127.0.0.1:kafka"), None).contains("port"));
        assert!(refusal(Some("127.0.0.1:70000"), None).contains("port"));
        assert!(refusal(Some("127.0.0.1:9092"), Some("host")).contains("HOST:PORT"));
        assert!(refusal(Some(HTTP), None).contains("port of its own"));
        assert!(refusal(None, Some("127.0.0.1:9092")).contains("needs --kafka-listen"));
    }
}
