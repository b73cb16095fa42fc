//! Tokens for the fast parser (`fast.rs`). Whitespace and comments are
//! skipped exactly as `wharf.pest` skips them; a string is one token whose
//! parts (text, escapes, `${...}`) the parser reads itself.

/// What a token is. Names (keywords included) are `Ident`; the parser looks
/// at their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tok {
    Ident,
    Number,
    Str,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    /// A lone `=`.
    Assign,
    /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Cmp,
    Comma,
    Dot,
    Colon,
    Star,
    Eof,
    /// Anything the grammar has no token for; the fast parser gives up.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

pub(super) struct Lexer<'t> {
    text: &'t [u8],
    pos: usize,
    /// Where lexing stops (the end of the text, or of a `${...}` body).
    limit: usize,
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'t> Lexer<'t> {
    pub fn new(text: &'t str, start: usize, limit: usize) -> Lexer<'t> {
        Lexer {
            text: text.as_bytes(),
            pos: start,
            limit,
        }
    }

    /// Skips whitespace (space and `\t`..`\r`, as the grammar's WHITESPACE) and comments.
    fn skip_trivia(&mut self) {
        while self.pos < self.limit {
            match self.text[self.pos] {
                b' ' | b'\t'..=b'\r' => self.pos += 1,
                b'#' => {
                    while self.pos < self.limit && self.text[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// Where the lexer is, to come back to after a look-ahead.
    pub fn clone_state(&self) -> usize {
        self.pos
    }

    pub fn restore(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Where lexing stops.
    pub fn limit(&self) -> usize {
        self.limit
    }

    pub fn next(&mut self) -> Token {
        self.skip_trivia();
        let start = self.pos;
        if start >= self.limit {
            return Token {
                kind: Tok::Eof,
                start: self.limit,
                end: self.limit,
            };
        }
        let b = self.text[start];
        let at = |i: usize| if i < self.limit { self.text[i] } else { 0 };
        let (kind, len) = match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let mut end = start + 1;
                while end < self.limit && is_ident_char(self.text[end]) {
                    end += 1;
                }
                (Tok::Ident, end - start)
            }
            b'0'..=b'9' => (Tok::Number, self.number_len(start)),
            b'-' if at(start + 1).is_ascii_digit() => (Tok::Number, self.number_len(start + 1) + 1),
            b'"' => match self.string_len(start) {
                Some(len) => (Tok::Str, len),
                None => (Tok::Unknown, 1),
            },
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b'[' => (Tok::LBracket, 1),
            b']' => (Tok::RBracket, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b'.' => (Tok::Dot, 1),
            b':' => (Tok::Colon, 1),
            b'*' => (Tok::Star, 1),
            b'=' if at(start + 1) == b'=' => (Tok::Cmp, 2),
            b'=' => (Tok::Assign, 1),
            b'<' | b'>' if at(start + 1) == b'=' => (Tok::Cmp, 2),
            b'<' | b'>' => (Tok::Cmp, 1),
            b'!' if at(start + 1) == b'=' => (Tok::Cmp, 2),
            _ => (Tok::Unknown, 1),
        };
        self.pos = start + len;
        Token {
            kind,
            start,
            end: start + len,
        }
    }

    /// The grammar's `number`: digits, letters, `_`, `.digit` and `e+digit`/`e-digit`.
    fn number_len(&self, from: usize) -> usize {
        let t = self.text;
        let mut i = from + 1;
        while i < self.limit {
            let b = t[i];
            let next = |k: usize| if i + k < self.limit { t[i + k] } else { 0 };
            if b == b'.' && next(1).is_ascii_digit() {
                i += 2;
            } else if (b == b'e' || b == b'E') && (next(1) == b'+' || next(1) == b'-') && next(2).is_ascii_digit() {
                i += 3;
            } else if is_ident_char(b) {
                i += 1;
            } else {
                break;
            }
        }
        i - from
    }

    /// The length of a string literal starting at `start` (a `"`), skipping
    /// over `${...}` bodies with their own strings; `None` if unterminated.
    fn string_len(&self, start: usize) -> Option<usize> {
        let t = self.text;
        let mut i = start + 1;
        while i < self.limit {
            match t[i] {
                b'"' => return Some(i + 1 - start),
                b'\\' => i += 2,
                b'$' if i + 2 < self.limit && t[i + 1] == b'$' && t[i + 2] == b'{' => i += 3,
                b'$' if i + 1 < self.limit && t[i + 1] == b'{' => i = self.interp_end(i + 2)? + 1,
                _ => i += 1,
            }
        }
        None
    }

    /// The offset of the `}` that closes a `${` whose body starts at `from`.
    pub fn interp_end(&self, from: usize) -> Option<usize> {
        let t = self.text;
        let mut depth = 0usize;
        let mut i = from;
        while i < self.limit {
            match t[i] {
                b'"' => {
                    let sub = Lexer {
                        text: self.text,
                        pos: i,
                        limit: self.limit,
                    };
                    i += sub.string_len(i)?;
                    continue;
                }
                b'#' => {
                    while i < self.limit && t[i] != b'\n' {
                        i += 1;
                    }
                    continue;
                }
                b'{' => depth += 1,
                b'}' if depth == 0 => return Some(i),
                b'}' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        None
    }
}
