//! How `ordo serve` logs: to stderr, one line per event, as text (colour
//! codes only on a terminal, never with `NO_COLOR`) or as JSON objects for
//! log shippers; levels from `RUST_LOG` (default [`DEFAULT_FILTER`]); and
//! without openraft's warning per failed Raft message, which
//! `ordo_node::peer_log` reports in fewer lines and in words.

use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use serde::Deserialize;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Levels when `RUST_LOG` is unset: openraft and sled report their
/// routine at info, which says nothing an operator acts on.
pub const DEFAULT_FILTER: &str = "info,openraft=warn,sled=warn";

/// What a log line is.
#[derive(clap::ValueEnum, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// A line of words per event: time, level, message, fields (colour
    /// codes only on a terminal).
    #[default]
    Text,
    /// A JSON object per line: timestamp, level, message, the fields, target.
    Json,
}

/// Installs the process's logger; call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Text => lines
            .with_target(false)
            .with_ansi(colours(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .boxed(),
        LogFormat::Json => lines.json().flatten_event(true).with_ansi(false).boxed(),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(WithoutReplacedOpenraftWarnings)
        .with(lines)
        .init();
}

/// Colour codes are for a person at a terminal, and not even then with
/// `NO_COLOR` set to anything (<https://no-color.org>).
fn colours(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stderr_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Drops the openraft warnings `ordo_node::peer_log` replaces, whatever
/// `RUST_LOG` says; every other openraft event passes.
struct WithoutReplacedOpenraftWarnings;

impl<S: Subscriber> Layer<S> for WithoutReplacedOpenraftWarnings {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let metadata = event.metadata();
        if *metadata.level() != Level::WARN || !metadata.target().starts_with("openraft::") {
            return true;
        }
        let mut message = Message::default();
        event.record(&mut message);
        !ordo_node::peer_log::replaces_openraft_warning(metadata.target(), &message.0)
    }
}

/// An event's formatted message.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_only_on_a_terminal_without_no_color() {
        assert!(colours(true, None));
        assert!(colours(true, Some(OsStr::new(""))));
        assert!(!colours(true, Some(OsStr::new("1"))));
        assert!(!colours(false, None));
    }

    #[test]
    fn only_the_replaced_openraft_warnings_are_dropped() {
        use std::sync::{Arc, Mutex};

        /// Collects the messages of the events that reach it.
        #[derive(Clone, Default)]
        struct Seen(Arc<Mutex<Vec<String>>>);
        impl<S: Subscriber> Layer<S> for Seen {
            fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
                let mut message = Message::default();
                event.record(&mut message);
                self.0.lock().unwrap().push(message.0);
            }
        }

        let seen = Seen::default();
        let subscriber = tracing_subscriber::registry()
            .with(WithoutReplacedOpenraftWarnings)
            .with(seen.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                target: "openraft::core::raft_core",
                "while requesting pre-vote, error: timeout after 75ms when Vote 2->3, target: {}",
                3
            );
            tracing::warn!(
                target: "openraft::core::raft_core",
                "A message will be ignored because this node is no longer Leader"
            );
            tracing::debug!(
                target: "openraft::core::raft_core",
                "while requesting vote, error: (detail at debug level stays)"
            );
            tracing::warn!("while requesting something of our own");
        });
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "A message will be ignored because this node is no longer Leader",
                "while requesting vote, error: (detail at debug level stays)",
                "while requesting something of our own",
            ]
        );
    }
}
