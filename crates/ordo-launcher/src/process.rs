//! One `ordo serve` child process: spawned, signalled, reaped. The only
//! place that sends signals, and it signals only its own child, only while
//! that child is unreaped (so its pid cannot have been reused).
//!
//! Dropping a `NodeProcess` SIGKILLs and reaps the child if it is still
//! running: whatever path a test takes out, no node outlives it.

use std::ffi::OsString;
use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::args::NodeSpec;
use crate::config::{tls_settings, LauncherConfig, NodeOutput};
use crate::error::LauncherError;
use crate::output::{child_stdio, forward_prefixed};

pub(crate) struct NodeProcess {
    child: Child,
    /// Set once the child is reaped; from then on its pid is not ours.
    exit: Option<ExitStatus>,
    pid_path: PathBuf,
}

impl NodeProcess {
    pub fn spawn(
        config: &LauncherConfig,
        spec: &NodeSpec,
        args: Vec<OsString>,
    ) -> Result<NodeProcess, LauncherError> {
        let (stdout, stderr) = child_stdio(config.output, spec)?;
        let mut command = Command::new(&config.binary);
        command
            .args(args)
            .envs(config.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // After `env`: these settings are the launcher's to make.
        if let Some(secret) = &config.cluster_secret {
            command
                .env("ORDO_CLUSTER_SECRET", secret.expose())
                .env_remove("ORDO_CLUSTER_SECRET_FILE");
        }
        if let Some(token) = &config.api_token {
            command
                .env("ORDO_API_TOKEN", token.expose())
                .env_remove("ORDO_API_TOKEN_FILE");
        }
        if config.tls {
            for (_, env, file) in tls_settings(&config.base_dir, spec.id) {
                command.env(env, file);
            }
        }
        // A process group of its own: a terminal's Ctrl-C reaches only the
        // launcher, which then stops every node gracefully, in order.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        if config.die_with_launcher {
            die_with_parent(&mut command);
        }
        let mut child = command.spawn().map_err(|source| LauncherError::Spawn {
            binary: config.binary.clone(),
            source,
        })?;
        let process = NodeProcess {
            exit: None,
            pid_path: spec.pid_path.clone(),
            child: {
                if config.output == NodeOutput::Prefixed {
                    forward_prefixed(spec.id, &mut child)?;
                }
                child
            },
        };
        // Constructed before the pid file is written, so a failure here
        // still kills the child on drop.
        fs::write(&process.pid_path, format!("{}\n", process.pid()))
            .map_err(|e| LauncherError::io(format!("writing {}", process.pid_path.display()), e))?;
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the child has exited (reaping it), else `None`.
    pub fn try_exit(&mut self) -> Result<Option<ExitStatus>, LauncherError> {
        if self.exit.is_none() {
            let status = self
                .child
                .try_wait()
                .map_err(|e| LauncherError::io("checking a node process", e))?;
            if let Some(status) = status {
                self.reaped(status);
            }
        }
        Ok(self.exit)
    }

    /// Asks the child to shut down gracefully.
    pub fn terminate(&mut self) -> Result<(), LauncherError> {
        if self.try_exit()?.is_some() {
            return Ok(());
        }
        let pid = libc::pid_t::try_from(self.pid()).expect("pids fit in pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions. The pid is our
        // unreaped child, so it cannot name another process.
        let result = unsafe { libc::kill(pid, libc::SIGTERM) };
        if result != 0 {
            let error = std::io::Error::last_os_error();
            // ESRCH: it exited between the check and the signal.
            if error.raw_os_error() != Some(libc::ESRCH) {
                return Err(LauncherError::io("sending SIGTERM to a node", error));
            }
        }
        Ok(())
    }

    /// SIGKILLs the child (if still running) and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus, LauncherError> {
        if let Some(status) = self.exit {
            return Ok(status);
        }
        // An error here means it already exited; `wait` still reaps it.
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map_err(|e| LauncherError::io("reaping a killed node", e))?;
        self.reaped(status);
        Ok(status)
    }

    fn reaped(&mut self, status: ExitStatus) {
        self.exit = Some(status);
        // A stale pid file would name a pid that is no longer ours.
        let _ = fs::remove_file(&self.pid_path);
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Err(error) = self.kill() {
            tracing::warn!(pid = self.pid(), %error, "could not kill a node on drop");
        }
    }
}

/// Linux: the kernel SIGKILLs the child when the spawning thread exits, so
/// a launcher that is itself SIGKILLed leaves no orphans.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: runs in the forked child before exec; it calls only prctl(2),
    // getppid(2) and _exit(2), which are async-signal-safe, and touches no
    // memory shared with the parent.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}
