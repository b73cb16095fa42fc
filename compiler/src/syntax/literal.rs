//! Classifies number-like tokens: integers, floats, durations (`30s`, `1h30m`)
//! and sizes (`512MiB`, `1.5GB`). The grammar accepts any digit-led word so
//! that a typo such as `30x` gets a precise `invalid-literal` instead of a
//! vague syntax error.

use super::ast::NumberValue;
use std::borrow::Cow;

const DURATION_UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

const SIZE_UNITS: [(&str, u64); 9] = [
    ("B", 1),
    ("KB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];

pub const LITERAL_HINT: &str = "numbers look like `3` or `0.5`; durations like `500ms`, `30s`, `5m`, `2h`, `1d` or `1h30m`; sizes like `512MiB`, `10GiB` or `1GB`";

/// Returns the value, or a message saying what is wrong.
pub fn classify(text: &str) -> Result<NumberValue, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let negative = digits.len() != text.len();
    // Most literals have no `_`: they are read in place, without a copy.
    let underscores = digits.contains('_');
    let clean: Cow<str> = if underscores {
        Cow::Owned(digits.replace('_', ""))
    } else {
        Cow::Borrowed(digits)
    };
    if clean.bytes().all(|b| b.is_ascii_digit()) {
        let int = if underscores {
            text.replace('_', "").parse::<i64>()
        } else {
            text.parse::<i64>()
        };
        return int
            .map(NumberValue::Int)
            .map_err(|_| format!("`{text}` does not fit in a 64-bit integer"));
    }
    if is_float(&clean) {
        let value: f64 = clean.parse().map_err(|_| format!("`{text}` is not a number"))?;
        if !value.is_finite() {
            return Err(format!("`{text}` is out of range"));
        }
        return Ok(NumberValue::Float(if negative { -value } else { value }));
    }
    if negative {
        return Err(format!("`{text}`: durations and sizes cannot be negative"));
    }
    if let Some(bytes) = size(&clean) {
        return bytes.map(NumberValue::Size);
    }
    duration(&clean)
        .unwrap_or_else(|| Err(format!("`{text}` is not a number, duration or size")))
        .map(NumberValue::Duration)
}

fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => !a.is_empty() && !b.is_empty() && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit()),
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = match exponent {
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
        }
        None => mantissa.contains('.'),
    };
    mantissa_ok && exponent_ok
}

/// `Some(Ok(bytes))` for a size, `Some(Err)` for a size with a bad amount, `None` if not a size.
fn size(s: &str) -> Option<Result<u64, String>> {
    let unit_start = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (amount, unit) = s.split_at(unit_start);
    let (_, factor) = SIZE_UNITS.iter().find(|(u, _)| *u == unit)?;
    let value: f64 = match amount.parse() {
        Ok(v) => v,
        Err(_) => return Some(Err(format!("`{s}`: `{amount}` is not an amount"))),
    };
    let bytes = value * *factor as f64;
    if bytes.fract() != 0.0 {
        return Some(Err(format!("`{s}` is not a whole number of bytes")));
    }
    if bytes > u64::MAX as f64 / 2.0 {
        return Some(Err(format!("`{s}` is too large")));
    }
    Some(Ok(bytes as u64))
}

/// Parses one or more `<digits><unit>` groups, largest unit first (`1h30m`).
fn duration(s: &str) -> Option<Result<u64, String>> {
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_factor = u64::MAX;
    while !rest.is_empty() {
        let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits_end == 0 {
            return None;
        }
        let amount: u64 = match rest[..digits_end].parse() {
            Ok(v) => v,
            Err(_) => return Some(Err(format!("`{s}` is too large"))),
        };
        rest = &rest[digits_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        let (_, factor) = DURATION_UNITS.iter().find(|(u, _)| *u == unit)?;
        if *factor >= last_factor {
            return Some(Err(format!(
                "`{s}`: write the larger units first, each once (as in `1h30m`)"
            )));
        }
        last_factor = *factor;
        total = match amount.checked_mul(*factor).and_then(|v| total.checked_add(v)) {
            Some(v) => v,
            None => return Some(Err(format!("`{s}` is too large"))),
        };
        rest = &rest[unit_end..];
    }
    Some(Ok(total))
}

/// Renders milliseconds the way a person would write them.
pub fn format_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut rest = ms;
    for (unit, factor) in DURATION_UNITS.iter().rev() {
        if rest >= *factor {
            out.push_str(&format!("{}{unit}", rest / factor));
            rest %= factor;
        }
    }
    out
}

/// Renders bytes with the largest binary unit that divides them.
pub fn format_size(bytes: u64) -> String {
    for (unit, factor) in [
        ("TiB", 1u64 << 40),
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
    ] {
        if bytes >= factor && bytes.is_multiple_of(factor) {
            return format!("{}{unit}", bytes / factor);
        }
    }
    format!("{bytes}B")
}

/// The character a `\\x` escape in a string stands for, if the language defines it.
pub fn unescape(escape: &str) -> Option<char> {
    match escape {
        "\\\"" => Some('"'),
        "\\\\" => Some('\\'),
        "\\n" => Some('\n'),
        "\\t" => Some('\t'),
        "\\r" => Some('\r'),
        "\\$" => Some('$'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NumberValue::*;

    #[test]
    fn classifies_literals() {
        let cases: &[(&str, NumberValue)] = &[
            ("0", Int(0)),
            ("-42", Int(-42)),
            ("1_000", Int(1000)),
            ("0.80", Float(0.8)),
            ("-1.5", Float(-1.5)),
            ("1e3", Float(1000.0)),
            ("2.5e-1", Float(0.25)),
            ("30s", Duration(30_000)),
            ("500ms", Duration(500)),
            ("2h", Duration(7_200_000)),
            ("1h30m", Duration(5_400_000)),
            ("1d", Duration(86_400_000)),
            ("512MiB", Size(512 << 20)),
            ("10GiB", Size(10 << 30)),
            ("1.5KiB", Size(1536)),
            ("1GB", Size(1_000_000_000)),
            ("7B", Size(7)),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_literals() {
        for text in [
            "30x",
            "1.5s",
            "2m1h",
            "1h1h",
            "-3s",
            "99999999999999999999",
            "1.5B",
            "12abc",
            "3GiBs",
            "1e",
            "1.2.3",
        ] {
            assert!(classify(text).is_err(), "{text} should be rejected");
        }
    }

    #[test]
    fn formats_round_trip() {
        assert_eq!(format_duration(5_400_000), "1h30m");
        assert_eq!(format_duration(30_000), "30s");
        assert_eq!(format_size(10 << 30), "10GiB");
        assert_eq!(format_size(1000), "1000B");
    }
}
