//! Wall-clock time, behind a trait so tests can fix it. (Sleeps and
//! timeouts use tokio's timer, which tests pause and advance instead.)

/// Milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock that says what it is told, for tests.
pub struct FixedClock(pub std::sync::atomic::AtomicI64);

impl FixedClock {
    pub fn new(ms: i64) -> FixedClock {
        FixedClock(std::sync::atomic::AtomicI64::new(ms))
    }

    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A run id that sorts by time: `20261125-024501-3f9a`.
pub fn run_id(now_ms: i64) -> String {
    let secs = now_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    // Two runs started in the same second must not share an id. The clock's
    // low bits are coarse on some machines and `pid.rotate_left(16)` put the
    // pid's low bits above the mask, so mix both through the standard
    // library's randomly keyed hasher (a new key per process).
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut mix = std::collections::hash_map::RandomState::new().build_hasher();
    mix.write_u32(nanos);
    mix.write_u32(std::process::id());
    let suffix = mix.finish() & 0xffff;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{suffix:04x}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_carry_the_utc_time() {
        let id = super::run_id(1_795_574_701_000);
        assert!(id.starts_with("20261125-024501-"), "{id}");
        assert_eq!(id.len(), "20261125-024501-3f9a".len());
        assert!(super::run_id(0).starts_with("19700101-000000-"));
    }
}
