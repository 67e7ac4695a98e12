//! Where a node's output goes: a log file, the launcher's own streams, or
//! the launcher's streams with a `[n{id}]` prefix on every line.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};

use ordo_core::NodeId;

use crate::args::NodeSpec;
use crate::config::NodeOutput;
use crate::error::LauncherError;

/// The stdout and stderr a child is spawned with.
pub(crate) fn child_stdio(
    output: NodeOutput,
    spec: &NodeSpec,
) -> Result<(Stdio, Stdio), LauncherError> {
    Ok(match output {
        NodeOutput::LogFiles => {
            let context = || format!("opening {}", spec.log_path.display());
            let log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&spec.log_path)
                .map_err(|e| LauncherError::io(context(), e))?;
            let log_too = log
                .try_clone()
                .map_err(|e| LauncherError::io(context(), e))?;
            (Stdio::from(log), Stdio::from(log_too))
        }
        NodeOutput::Inherit => (Stdio::inherit(), Stdio::inherit()),
        NodeOutput::Prefixed => (Stdio::piped(), Stdio::piped()),
    })
}

/// For [`NodeOutput::Prefixed`]: copies the child's pipes to the launcher's
/// stdout and stderr, a line at a time. The threads end when the child
/// closes its pipes, that is, when it exits.
pub(crate) fn forward_prefixed(id: NodeId, child: &mut Child) -> Result<(), LauncherError> {
    let prefix = format!("[n{id}] ");
    if let Some(stdout) = child.stdout.take() {
        spawn_copier(format!("n{id}-stdout"), stdout, prefix.clone(), || {
            Box::new(std::io::stdout())
        })?;
    }
    if let Some(stderr) = child.stderr.take() {
        spawn_copier(format!("n{id}-stderr"), stderr, prefix, || {
            Box::new(std::io::stderr())
        })?;
    }
    Ok(())
}

fn spawn_copier<R: Read + Send + 'static>(
    name: String,
    source: R,
    prefix: String,
    sink: fn() -> Box<dyn Write>,
) -> Result<(), LauncherError> {
    std::thread::Builder::new()
        .name(name)
        .spawn(move || copy_prefixed(BufReader::new(source), &prefix, sink))
        .map(drop)
        .map_err(|e| LauncherError::io("starting an output thread", e))
}

fn copy_prefixed(mut source: impl BufRead, prefix: &str, sink: fn() -> Box<dyn Write>) {
    let mut line = Vec::new();
    loop {
        line.clear();
        match source.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if !line.ends_with(b"\n") {
            line.push(b'\n');
        }
        // One write per line, so lines of different nodes never interleave.
        let mut buffer = Vec::with_capacity(prefix.len() + line.len());
        buffer.extend_from_slice(prefix.as_bytes());
        buffer.extend_from_slice(&line);
        if sink().write_all(&buffer).is_err() {
            // Our own stream is gone (closed pipe); keep draining so the
            // child never blocks on a full pipe.
            continue;
        }
    }
}
