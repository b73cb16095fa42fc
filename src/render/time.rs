//! Times and durations as people read them: local `YYYY-MM-DD HH:MM:SS`
//! for the instants the state store keeps (UTC milliseconds), and short
//! durations (`0.4s`, `3.4s`, `4s`, `2m05s`, `1h02m`).

use chrono::{Local, TimeZone};
use std::time::Duration;

/// A short duration: tenths of a second under a minute (a whole second
/// without its `.0`), then minutes and seconds, then hours and minutes.
pub fn duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 59.95 {
        let text = format!("{secs:.1}");
        let text = text.strip_suffix(".0").unwrap_or(&text);
        return format!("{text}s");
    }
    let whole = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    if whole < 3600 {
        format!("{}m{:02}s", whole / 60, whole % 60)
    } else {
        format!("{}h{:02}m", whole / 3600, whole % 3600 / 60)
    }
}

/// The time between two recorded instants, when both are known (never negative).
pub fn between(started_ms: Option<i64>, finished_ms: Option<i64>) -> Option<Duration> {
    let (start, end) = (started_ms?, finished_ms?);
    Some(Duration::from_millis(end.saturating_sub(start).max(0) as u64))
}

/// `duration(between(..))`, or `-` when the span is not known yet.
pub fn span(started_ms: Option<i64>, finished_ms: Option<i64>) -> String {
    between(started_ms, finished_ms).map_or_else(|| "-".to_string(), duration)
}

/// Milliseconds since the Unix epoch as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_datetime(ms: i64) -> String {
    match Local.timestamp_millis_opt(ms).earliest() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => format!("{ms} ms after 1970"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_short() {
        let cases = [
            (0, "0s"),
            (40, "0s"),
            (400, "0.4s"),
            (1_200, "1.2s"),
            (4_000, "4s"),
            (59_940, "59.9s"),
            (59_960, "1m00s"),
            (125_000, "2m05s"),
            (3_599_400, "59m59s"),
            (3_720_000, "1h02m"),
            (90_000_000, "25h00m"),
        ];
        for (ms, text) in cases {
            assert_eq!(duration(Duration::from_millis(ms)), text, "{ms} ms");
        }
    }

    #[test]
    fn spans_need_both_ends() {
        assert_eq!(span(Some(1_000), Some(4_400)), "3.4s");
        assert_eq!(span(Some(1_000), None), "-");
        assert_eq!(span(None, Some(1)), "-");
        assert_eq!(
            span(Some(5), Some(1)),
            "0s",
            "a clock that went back is not a negative duration"
        );
    }
}
