//! The step's process group. Each attempt starts as the leader of a group of
//! its own, so that one signal reaches everything it started (`sh -c` and its
//! children, a Python script and its data loader workers), not just the
//! process Wharf spawned.

use std::time::Duration;
use tokio::time::Instant;

/// How often `wait_until_gone` looks at the group.
const POLL: Duration = Duration::from_millis(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ProcessGroup(libc::pid_t);

impl ProcessGroup {
    /// The group whose leader is `pid` (started with `process_group(0)`).
    pub(super) fn led_by(pid: u32) -> Option<Self> {
        libc::pid_t::try_from(pid).ok().filter(|&id| id > 1).map(ProcessGroup)
    }

    pub(super) fn id(self) -> libc::pid_t {
        self.0
    }

    /// Sends `signal` to every process of the group. A group that is already
    /// gone is not an error.
    pub(super) fn signal(self, signal: libc::c_int) {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours;
        // the negative id addresses the group, and `led_by` refused ids that
        // would mean "every process" (-1) or "our own group" (0).
        unsafe {
            libc::kill(-self.0, signal);
        }
    }

    /// Whether any process of the group still exists (zombies not yet
    /// reaped by their parent count).
    pub(super) fn exists(self) -> bool {
        // SAFETY: as in `signal`; signal 0 only checks that the group exists.
        let found = unsafe { libc::kill(-self.0, 0) } == 0;
        // EPERM means a member exists that we may not signal (it changed its
        // user id), which is still a member.
        found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }

    /// Whether a process of the group was started for `run` (its
    /// environment holds `WHARF_RUN=<run>`, which the backend sets). A group
    /// id is a process id, and ids are reused: a group found long after a
    /// killed wharf may be someone else's. Where `/proc` cannot tell (no
    /// `/proc`, another user's processes), the group is taken as the run's.
    pub(super) fn belongs_to(self, run: &str) -> bool {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return true;
        };
        let wanted = format!("WHARF_RUN={run}");
        let mut unreadable = false;
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // Field 5, the group, comes after the name in parentheses.
            let pgrp = stat
                .rfind(')')
                .and_then(|end| stat[end + 1..].split_whitespace().nth(2))
                .and_then(|g| g.parse::<libc::pid_t>().ok());
            if pgrp != Some(self.0) {
                continue;
            }
            match std::fs::read(format!("/proc/{pid}/environ")) {
                Ok(environ) if environ.split(|&b| b == 0).any(|var| var == wanted.as_bytes()) => return true,
                Ok(_) => {}
                Err(_) => unreadable = true,
            }
        }
        unreadable
    }

    /// Waits until the group is empty or `deadline` passes; says which.
    pub(super) async fn wait_until_gone(self, deadline: Instant) -> bool {
        loop {
            if !self.exists() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }
}

/// A signal's usual name, for failure reasons.
pub(super) fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => return format!("signal {signal}"),
    };
    format!("signal {signal} ({name})")
}
