//! Who runs a run: `host/pid/start`, recorded with the run (the `owner`
//! column) so that `wharf runs` and `wharf show` can say which process runs
//! it and whether that process is still there. `start` is the process's
//! start time (clock ticks since boot, from `/proc/<pid>/stat`), which tells
//! a reused process id apart from the process that recorded the run.

/// `host/pid/start` of this process.
pub fn me() -> String {
    let pid = std::process::id();
    format!("{}/{pid}/{}", hostname(), start_time(pid).unwrap_or(0))
}

/// This machine's name.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    if !ok {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A recorded owner, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    pub start: u64,
}

impl Owner {
    pub fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.rsplitn(3, '/');
        let start = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        let host = parts.next()?.to_string();
        Some(Owner { host, pid, start })
    }

    /// Whether this owner is on this machine (only those can be checked).
    pub fn is_local(&self) -> bool {
        self.host == hostname()
    }

    /// Whether the recorded process still runs: same id and same start time.
    /// One on another machine cannot be checked and is taken as alive.
    pub fn alive(&self) -> bool {
        if !self.is_local() {
            return true;
        }
        match start_time(self.pid) {
            Some(start) => self.start == 0 || start == self.start,
            None => false,
        }
    }
}

/// The start time of process `pid` in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`); `None` when there is no such process (or no /proc),
/// or only its zombie: a killed wharf whose parent has not reaped it yet
/// holds no locks and runs nothing.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_id_is_not() {
        let me = Owner::parse(&me()).expect("parses");
        assert_eq!(me.pid, std::process::id());
        assert!(me.alive());
        let reused = Owner {
            start: me.start + 1,
            ..me.clone()
        };
        assert!(!reused.alive(), "same pid, other start time: another process");
        let elsewhere = Owner {
            host: "another-machine".into(),
            ..reused
        };
        assert!(elsewhere.alive(), "cannot be checked from here");
    }
}
