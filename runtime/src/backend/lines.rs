//! Splits the bytes a step writes into lines, with a bound on memory: a line
//! longer than the cap comes out in pieces of at most the cap, cut before a
//! UTF-8 character where possible so that the pieces decode cleanly. Bytes
//! that are not UTF-8 are replaced (U+FFFD), never an error.

use crate::secrets::Masker;

/// The longest line kept in one piece (64 KiB).
pub(crate) const MAX_LINE: usize = 64 * 1024;

pub(crate) struct LineSplitter {
    pending: Vec<u8>,
    max: usize,
    /// Secret values a cut must not split (each piece is masked alone).
    secrets: Masker,
}

impl LineSplitter {
    pub(crate) fn new(max: usize) -> Self {
        LineSplitter {
            pending: Vec::new(),
            max: max.max(4),
            secrets: Masker::default(),
        }
    }

    /// Cuts long lines so that no value of `secrets` falls across a cut:
    /// a value split in two pieces would escape masking.
    pub(crate) fn keeping_whole(mut self, secrets: Masker) -> Self {
        self.secrets = secrets;
        self
    }

    /// Takes the next bytes of the stream and returns the lines they complete,
    /// without their line breaks (`\n` or `\r\n`).
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut lines = Vec::new();
        // Lines are taken from `start` on and the consumed bytes removed once
        // at the end, so many short lines cost one copy, not one each.
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            let newline = rest.iter().take(self.max + 1).position(|&b| b == b'\n');
            if let Some(end) = newline {
                let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
                lines.push(String::from_utf8_lossy(line).into_owned());
                start += end + 1;
            } else if rest.len() > self.max {
                let cut = self.secrets.safe_cut(rest, char_boundary(rest, self.max));
                lines.push(String::from_utf8_lossy(&rest[..cut]).into_owned());
                start += cut;
            } else {
                break;
            }
        }
        self.pending.drain(..start);
        lines
    }

    /// The last line, when the stream ended without a line break.
    pub(crate) fn finish(self) -> Option<String> {
        let line = self.pending.strip_suffix(b"\r").unwrap_or(&self.pending);
        (!line.is_empty()).then(|| String::from_utf8_lossy(line).into_owned())
    }
}

/// `max`, or up to 3 bytes less so that the cut falls before the first byte
/// of a UTF-8 character rather than inside one. Bytes that are not UTF-8 at
/// all are cut at `max`.
fn char_boundary(bytes: &[u8], max: usize) -> usize {
    let is_continuation = |i: usize| bytes.get(i).is_some_and(|b| b & 0xC0 == 0x80);
    (max.saturating_sub(3)..=max)
        .rev()
        .find(|&cut| cut > 0 && !is_continuation(cut))
        .unwrap_or(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(max: usize, chunks: &[&[u8]]) -> Vec<String> {
        let mut splitter = LineSplitter::new(max);
        let mut lines: Vec<String> = chunks.iter().flat_map(|chunk| splitter.push(chunk)).collect();
        lines.extend(splitter.finish());
        lines
    }

    #[test]
    fn lines_across_chunks() {
        let cases: &[(&[&[u8]], &[&str])] = &[
            (&[b"a\nb\n"], &["a", "b"]),
            (&[b"ab", b"c\nd", b"e\n"], &["abc", "de"]),
            (&[b"crlf\r\n", b"last"], &["crlf", "last"]),
            (&[b"\n\n"], &["", ""]),
            (&[b""], &[]),
            (&[b"\xffbad\n"], &["\u{fffd}bad"]),
        ];
        for (chunks, want) in cases {
            assert_eq!(split(64, chunks), *want, "chunks {chunks:?}");
        }
    }

    #[test]
    fn long_lines_are_cut_at_the_cap() {
        assert_eq!(split(4, &[b"abcdefghij\nk"]), ["abcd", "efgh", "ij", "k"]);
        assert_eq!(split(4, &[b"abcd\n"]), ["abcd"]);
        let mut splitter = LineSplitter::new(4);
        assert!(
            splitter.push(b"abcd").is_empty(),
            "a full line may still end with its break"
        );
        assert_eq!(splitter.push(b"e"), ["abcd"]);
    }

    #[test]
    fn a_cut_keeps_a_secret_whole() {
        let mut splitter = LineSplitter::new(8).keeping_whole(Masker::new(["SECRET"]));
        let mut pieces = splitter.push(b"aaaaaSECRETbbbbbbbbbb\n");
        pieces.extend(splitter.finish());
        assert_eq!(pieces, ["aaaaa", "SECRETbb", "bbbbbbbb"]);
    }

    #[test]
    fn cuts_fall_between_characters() {
        // "aé" is 3 bytes; with a cap of 4 the next "é" would be split.
        assert_eq!(split(4, &["aééé".as_bytes()]), ["aé", "éé"]);
        assert_eq!(split(4, &[b"\x80\x80\x80\x80\x80\x80"]).len(), 2);
    }
}
