//! Everything the CLI prints on stdout goes through here. A stdout whose
//! reader went away (`ordo topics | head -1`, `ordo cluster status | true`)
//! is how a pipe normally ends, not a failure: a write then fails with
//! [`StdoutClosed`], which `main` turns into a quiet exit with status 0,
//! for every command at once (as `ordo tail | head` always did). Nothing
//! here panics: `print!` would ("failed printing to stdout").

use std::io::Write;

/// The reader of stdout has gone away; nothing more can be printed.
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct StdoutClosed;

/// Writes `text` to stdout and flushes it, so that what a command printed
/// is out of the process once this returns (a consumer commits a position
/// only for records printed this way).
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        Err(e) => Err(anyhow::anyhow!("writing to stdout: {e}")),
    }
}

/// `println!` that returns [`StdoutClosed`] (or another write error)
/// instead of panicking.
macro_rules! outln {
    () => {
        $crate::output::print("\n")
    };
    ($($arg:tt)*) => {
        $crate::output::print(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// Prints `value` as pretty JSON and a newline.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| anyhow::anyhow!("encoding the answer as JSON: {e}"))?;
    outln!("{text}")
}

/// True if `error` says stdout was closed: the command ends quietly.
pub fn is_stdout_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<StdoutClosed>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_stdout_is_recognised_through_added_context() {
        let error = anyhow::Error::from(StdoutClosed).context("printing the topics");
        assert!(is_stdout_closed(&error));
        assert!(!is_stdout_closed(&anyhow::anyhow!("no leader")));
    }
}
