//! Free loopback ports, found by binding port 0.
//!
//! All listeners are held until every port is chosen, so the ports are
//! distinct; they are released before the nodes bind them, so another
//! process could take one in between. On loopback in a test that race is
//! rare, and a node that loses it exits, which the launcher reports.

use std::net::TcpListener;

use crate::config::LOOPBACK_HOST;
use crate::error::LauncherError;

pub fn pick_free_ports(count: usize) -> Result<Vec<u16>, LauncherError> {
    let listeners = (0..count)
        .map(|_| TcpListener::bind((LOOPBACK_HOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LauncherError::io("binding 127.0.0.1:0 to find a free port", e))?;
    listeners
        .iter()
        .map(|listener| {
            listener
                .local_addr()
                .map(|addr| addr.port())
                .map_err(|e| LauncherError::io("reading a bound port", e))
        })
        .collect()
}

/// Fails if any of `ports` is taken on loopback. A node that cannot bind
/// exits, but until it does, whatever holds its port (another cluster, say)
/// would answer in its place; checking first rules that out.
pub fn ensure_free(ports: &[u16]) -> Result<(), LauncherError> {
    for &port in ports {
        TcpListener::bind((LOOPBACK_HOST, port))
            .map_err(|source| LauncherError::PortInUse { port, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_nonzero_ports() {
        let mut ports = pick_free_ports(5).unwrap();
        assert!(ports.iter().all(|&p| p != 0));
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 5);
    }

    #[test]
    fn a_taken_port_is_reported() {
        let taken = TcpListener::bind((LOOPBACK_HOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        assert!(matches!(
            ensure_free(&[port]),
            Err(LauncherError::PortInUse { port: p, .. }) if p == port
        ));
        drop(taken);
        assert!(ensure_free(&[port]).is_ok());
    }
}
