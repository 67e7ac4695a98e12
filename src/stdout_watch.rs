//! What the CLI can learn about its stdout without writing to it: what
//! kind of file it is, whether its reader has gone away (as coreutils
//! `tail -f` watches its output), and for a pipe how many written bytes the
//! reader has not taken yet. `ordo tail` uses it to end soon after its
//! reader does, and to commit a group's position only for records the
//! reader took (`delivery.rs`). Unix only; elsewhere stdout is taken to be
//! a terminal that never closes.

use std::io::IsTerminal;

/// What stdout is, as far as delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdoutKind {
    /// A terminal: a written line is in front of the user.
    Terminal,
    /// A regular file or a device (`/dev/null`): written is delivered.
    File,
    /// A pipe: written bytes wait in its buffer until the reader takes them.
    Pipe,
    /// A socket or anything else: a write is not a delivery either.
    Other,
}

impl StdoutKind {
    pub fn detect() -> StdoutKind {
        if std::io::stdout().is_terminal() {
            return StdoutKind::Terminal;
        }
        #[cfg(unix)]
        {
            // SAFETY: fstat writes only into the zeroed struct we own, and
            // fd 1 is only inspected, never closed or changed.
            let mut stat: libc::stat = unsafe { std::mem::zeroed() };
            if unsafe { libc::fstat(libc::STDOUT_FILENO, &mut stat) } == 0 {
                return match stat.st_mode & libc::S_IFMT {
                    libc::S_IFIFO => StdoutKind::Pipe,
                    libc::S_IFREG | libc::S_IFCHR | libc::S_IFBLK => StdoutKind::File,
                    _ => StdoutKind::Other,
                };
            }
        }
        StdoutKind::Other
    }

    /// Bytes written to stdout that its reader has not taken yet: what a
    /// pipe still buffers (`FIONREAD`, which Linux answers on either end);
    /// 0 for anything else, or if the kernel will not say.
    pub fn unread_bytes(self) -> u64 {
        #[cfg(unix)]
        if self == StdoutKind::Pipe {
            let mut unread: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int into `unread`, which we own.
            let answered = unsafe {
                libc::ioctl(
                    libc::STDOUT_FILENO,
                    libc::FIONREAD,
                    &mut unread as *mut libc::c_int,
                )
            };
            if answered == 0 {
                return u64::try_from(unread).unwrap_or(0);
            }
        }
        0
    }
}

/// True once stdout's reader has gone away: a pipe or socket whose other
/// end closed, or a terminal that hung up. A file never closes this way.
pub fn stdout_closed() -> bool {
    #[cfg(unix)]
    {
        let mut poll = libc::pollfd {
            fd: libc::STDOUT_FILENO,
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd we own, a zero timeout: poll only fills in
        // `revents` and never blocks.
        let ready = unsafe { libc::poll(&mut poll, 1, 0) };
        ready > 0 && poll.revents & (libc::POLLERR | libc::POLLHUP) != 0
    }
    #[cfg(not(unix))]
    false
}
