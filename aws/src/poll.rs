//! How often a job is asked for its status: exponential backoff with
//! jitter, capped. A job that runs for ten minutes is described about 25
//! times with the defaults (2 s, doubling, capped at 30 s), not 300; a
//! throttled call backs off further without failing the step. `ask` makes
//! one call that way (throttling waited out, other errors retried a few
//! times), and `salt_of` spreads the jitter of jobs by name.

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Polling {
    /// The wait before the first Describe after a Create.
    pub first: Duration,
    /// The longest wait between two Describe calls of one job.
    pub max: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            first: Duration::from_secs(2),
            max: Duration::from_secs(30),
        }
    }
}

impl Polling {
    /// `WHARF_SAGEMAKER_POLL_MS=first[,max]` (milliseconds) overrides the
    /// defaults, for jobs known to be short and for tests.
    pub fn from_env() -> Polling {
        let Ok(text) = std::env::var("WHARF_SAGEMAKER_POLL_MS") else {
            return Polling::default();
        };
        let mut parts = text.split(',').map(|p| p.trim().parse::<u64>());
        match (parts.next(), parts.next()) {
            (Some(Ok(first)), Some(Ok(max))) => Polling {
                first: Duration::from_millis(first.max(1)),
                max: Duration::from_millis(max.max(first).max(1)),
            },
            (Some(Ok(first)), None) => Polling {
                first: Duration::from_millis(first.max(1)),
                max: Duration::from_millis(first.max(1))
                    .max(Polling::default().max.min(Duration::from_millis(first * 15))),
            },
            _ => Polling::default(),
        }
    }

    /// The wait before Describe number `n` (0 for the first), with up to a
    /// fifth of jitter either way so that 100 jobs started together do not
    /// poll together. `salt` varies the jitter between jobs.
    pub fn delay(&self, n: u32, salt: u64) -> Duration {
        let base = self.first.as_millis() as u64;
        let exp = base.saturating_mul(1u64 << n.min(20)).min(self.max.as_millis() as u64);
        let noise = splitmix(salt ^ u64::from(n)) % 401; // 0..=400 per mille of a fifth
        let jitter = exp as i64 * (noise as i64 - 200) / 1000;
        Duration::from_millis((exp as i64 + jitter).max(1) as u64)
    }

    /// The wait after a throttled call: the next delay, doubled.
    pub fn throttled(&self, n: u32, salt: u64) -> Duration {
        (self.delay(n, salt) * 2).min(self.max * 2)
    }
}

/// Asks SageMaker, waiting out throttling and retrying other errors a few times.
pub(crate) async fn ask<T, F, Fut>(polling: Polling, mut call: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, (bool, String)>>,
{
    let mut failures = 0;
    for n in 0.. {
        match call().await {
            Ok(v) => return Ok(v),
            Err((true, _)) => tokio::time::sleep(polling.throttled(n, 5)).await,
            Err((false, e)) => {
                failures += 1;
                if failures >= 5 {
                    return Err(e);
                }
                tokio::time::sleep(polling.delay(failures, 5)).await;
            }
        }
    }
    unreachable!("the loop above only ends by returning")
}

pub(crate) fn salt_of(name: &str) -> u64 {
    u64::from_le_bytes(
        blake3::hash(name.as_bytes()).as_bytes()[..8]
            .try_into()
            .unwrap_or([0; 8]),
    )
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_to_the_cap_with_bounded_jitter() {
        let p = Polling::default();
        for n in 0..12 {
            let d = p.delay(n, 7).as_millis() as u64;
            let exp = (2000u64 << n).min(30_000);
            assert!(d >= exp * 8 / 10 && d <= exp * 12 / 10, "poll {n}: {d} ms");
        }
    }

    #[test]
    fn a_ten_minute_job_is_described_at_most_30_times() {
        let p = Polling::default();
        let (mut waited, mut calls) = (Duration::ZERO, 0);
        while waited < Duration::from_secs(600) {
            waited += p.delay(calls, 99);
            calls += 1;
        }
        assert!(calls <= 30, "{calls} Describe calls");
    }
}
