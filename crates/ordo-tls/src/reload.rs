//! Certificate rotation: [`NodeTls::reload`] re-reads the files and swaps
//! in a new identity if they changed and the new one passes every check;
//! [`NodeTls::watch`] does so periodically and logs the outcome.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::identity::{Identity, Sources};
use crate::{NodeTls, TlsError};

/// How often [`NodeTls::watch`] checks at most, whatever it is asked.
const SHORTEST_WATCH_PERIOD: Duration = Duration::from_millis(10);

impl NodeTls {
    /// Re-reads the files and compares their contents with those loaded:
    /// `Ok(true)` if they changed and the new identity is now in use,
    /// `Ok(false)` if they did not change. On an error the identity in use
    /// stays.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let inner = &self.inner;
        let sources = Sources::read(&inner.files)?;
        if sources.digest() == inner.current.get().source_digest {
            return Ok(false);
        }
        let identity = Identity::load(&inner.files, inner.client_auth, &sources, &inner.provider)?;
        inner.current.set(identity);
        Ok(true)
    }

    /// Spawns a task (on the current tokio runtime) that calls
    /// [`reload`](Self::reload) every `every`, logging at info a certificate
    /// taken and at warn one refused, with the reason (the old one stays).
    ///
    /// A refusal is logged once it is seen on two checks in a row: a
    /// rotation replaces the certificate and the key one after the other,
    /// and a check that falls between the two sees them not match. A
    /// refusal is logged once for as long as its reason stays the same.
    pub fn watch(&self, every: Duration) -> JoinHandle<()> {
        let tls = self.clone();
        let every = every.max(SHORTEST_WATCH_PERIOD);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut refusals = Refusals::default();
            loop {
                ticks.tick().await;
                let checker = tls.clone();
                let outcome = match tokio::task::spawn_blocking(move || checker.reload()).await {
                    Ok(outcome) => outcome,
                    // Only a panic in reload gets here; keep watching.
                    Err(join_error) => {
                        tracing::error!(error = %join_error, "TLS certificate check failed");
                        continue;
                    }
                };
                tls.log_outcome(outcome, &mut refusals);
            }
        })
    }

    fn log_outcome(&self, outcome: Result<bool, TlsError>, refusals: &mut Refusals) {
        match outcome {
            Ok(changed) => {
                refusals.clear();
                if changed {
                    tracing::info!(
                        cert = %self.inner.files.cert.display(),
                        not_after = %self.certificate_not_after(),
                        sha256 = %self.certificate_sha256(),
                        "TLS certificate reloaded"
                    );
                }
            }
            Err(error) => {
                if refusals.should_warn(error.to_string()) {
                    tracing::warn!(
                        cert = %self.inner.files.cert.display(),
                        sha256 = %self.certificate_sha256(),
                        %error,
                        "TLS certificate replacement refused; the current one stays in use"
                    );
                }
            }
        }
    }
}

/// The refusal seen on the last check, and whether it was logged.
#[derive(Debug, Default)]
struct Refusals {
    last: Option<String>,
    logged: bool,
}

impl Refusals {
    fn clear(&mut self) {
        *self = Refusals::default();
    }

    /// Whether `reason` should be logged now: the second time in a row it
    /// is seen, and only then.
    fn should_warn(&mut self, reason: String) -> bool {
        if self.last.as_deref() != Some(reason.as_str()) {
            self.last = Some(reason);
            self.logged = false;
            return false;
        }
        let warn = !self.logged;
        self.logged = true;
        warn
    }
}

#[cfg(test)]
mod tests {
    use super::Refusals;

    #[test]
    fn a_refusal_is_logged_once_on_its_second_sighting() {
        let mut refusals = Refusals::default();
        assert!(!refusals.should_warn("mismatch".into()));
        assert!(refusals.should_warn("mismatch".into()));
        assert!(!refusals.should_warn("mismatch".into()));
        assert!(!refusals.should_warn("expired".into()));
        assert!(refusals.should_warn("expired".into()));
        refusals.clear();
        assert!(!refusals.should_warn("expired".into()));
    }
}
