//! Masking of `secret(...)` values in what wharf writes or shows: a step's
//! log lines, the live view, failure reasons. Each value becomes `***`, as
//! CI systems do. A value shorter than [`MIN_LEN`] characters is left
//! alone (masking every `1` or `ab` in a log would hide everything and
//! protect nothing); a value of several lines is also masked line by line,
//! since logs are handled a line at a time.

use std::borrow::Cow;

/// What a secret value is replaced with.
pub const MASK: &str = "***";
/// Shorter values are not masked.
pub const MIN_LEN: usize = 3;

/// The secret values of one attempt (or one run), longest first so that a
/// value containing another is masked whole.
#[derive(Clone, Default)]
pub struct Masker {
    values: Vec<String>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Masker({} values)", self.values.len())
    }
}

impl Masker {
    pub fn new<I, S>(values: I) -> Masker
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out: Vec<String> = Vec::new();
        for value in values {
            let value = value.as_ref();
            let pieces = std::iter::once(value)
                .chain(value.lines())
                .map(|v| v.trim_end_matches('\r'));
            for piece in pieces {
                if piece.chars().count() >= MIN_LEN && !out.iter().any(|v| v == piece) {
                    out.push(piece.to_string());
                }
            }
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.len()));
        Masker { values: out }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every secret value replaced by [`MASK`].
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if !self.values.iter().any(|v| text.contains(v.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), MASK);
            }
        }
        Cow::Owned(out)
    }

    /// Where to cut `bytes` at most at `cut` so that no secret value is cut
    /// in two (a long line is split in pieces, each masked alone): before
    /// the earliest place where a value could start and still cross `cut`.
    pub(crate) fn safe_cut(&self, bytes: &[u8], cut: usize) -> usize {
        let mut best = cut;
        for value in &self.values {
            let v = value.as_bytes();
            let first = cut.saturating_sub(v.len() - 1).max(1);
            for start in first..cut {
                let end = (start + v.len()).min(bytes.len());
                if start < best && bytes[start..end] == v[..end - start] {
                    best = start;
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_masked_longest_first_and_short_ones_left() {
        let m = Masker::new(["s3cr3t", "s3cr3t-longer", "ab", "line-one\nline-two"]);
        assert_eq!(m.mask("x=s3cr3t-longer y=s3cr3t"), "x=*** y=***");
        assert_eq!(m.mask("ab stays"), "ab stays", "shorter than MIN_LEN");
        assert_eq!(m.mask("got line-two"), "got ***", "each line of a multi-line value");
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
        assert!(Masker::new(["", "xy"]).is_empty());
        assert!(!format!("{m:?}").contains("s3cr3t"), "Debug shows no value");
    }

    #[test]
    fn a_cut_never_splits_a_value() {
        let m = Masker::new(["SECRET"]);
        // "aaaSEC|RET": the cut at 6 moves back to 3.
        assert_eq!(m.safe_cut(b"aaaSECRETbbb", 6), 3);
        // The value's first bytes at the very end: also moved back.
        assert_eq!(m.safe_cut(b"aaaaaSE", 7), 5);
        assert_eq!(m.safe_cut(b"aaaaaaaaaa", 6), 6);
        assert_eq!(Masker::default().safe_cut(b"aaaSECRET", 6), 6);
    }
}
