//! The glob of a `.dockerignore` pattern: Go's `filepath.Match` (`*` and
//! `?` stop at `/`, `[...]` with `^` to negate, `\` escapes) plus `**`, any
//! number of folders. Unlike moby's regex translation, `*` and `?` inside
//! `[...]` are plain characters. Matching remembers what failed, so no
//! pattern takes more than tokens x characters steps.

/// One glob, compiled to tokens matched against a whole relative path.
#[derive(Debug)]
pub(super) struct Pattern {
    tokens: Vec<Token>,
}

#[derive(Debug)]
enum Token {
    Char(char),
    /// `?`: one character but `/`.
    AnyChar,
    /// `*`: any run of characters without `/`.
    Star,
    /// `[...]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**/`, or `**` inside a pattern: nothing, or anything ending in `/`.
    AnyFolders,
    /// `**` at the end: anything at all.
    AnyRest,
}

impl Pattern {
    /// A pattern that matches `path` (a clean relative path) and nothing else.
    pub(super) fn literal(path: &str) -> Pattern {
        Pattern {
            tokens: path.chars().map(Token::Char).collect(),
        }
    }

    /// Compiles a cleaned pattern; the error says what is wrong with it.
    pub(super) fn parse(pattern: &str) -> Result<Pattern, String> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut tokens = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    i += 2;
                    let slash = chars.get(i) == Some(&'/');
                    if slash {
                        i += 1;
                    }
                    // moby matches a pattern that is `**` and then plain text
                    // as a suffix: `**.log` is any path ending in `.log`.
                    let suffix_only = tokens.is_empty()
                        && !slash
                        && !chars[i..].iter().any(|c| matches!(c, '*' | '?' | '[' | ']' | '\\'));
                    if i == chars.len() || suffix_only {
                        tokens.push(Token::AnyRest);
                    } else {
                        tokens.push(Token::AnyFolders);
                    }
                    continue;
                }
                '*' => tokens.push(Token::Star),
                '?' => tokens.push(Token::AnyChar),
                '\\' => {
                    i += 1;
                    let escaped = chars.get(i).ok_or("it ends with `\\`, which escapes nothing")?;
                    tokens.push(Token::Char(*escaped));
                }
                '[' => {
                    let (token, next) = parse_class(&chars, i + 1)?;
                    tokens.push(token);
                    i = next;
                    continue;
                }
                c => tokens.push(Token::Char(c)),
            }
            i += 1;
        }
        Ok(Pattern { tokens })
    }

    pub(super) fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        Matcher::new(&self.tokens, &chars, false).run(0, 0)
    }

    /// Whether some path beginning with `prefix` could match.
    pub(super) fn matches_some_path_starting_with(&self, prefix: &str) -> bool {
        let chars: Vec<char> = prefix.chars().collect();
        Matcher::new(&self.tokens, &chars, true).run(0, 0)
    }
}

/// Parses a class after its `[`, as Go's `filepath.Match` does: `^` negates,
/// then one or more characters or ranges `a-z` (`\` escapes), then `]`.
/// Returns the token and the index after the `]`.
fn parse_class(chars: &[char], mut i: usize) -> Result<(Token, usize), String> {
    const UNTERMINATED: &str = "a `[` is not closed by `]`";
    let negated = chars.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        match chars.get(i) {
            None => return Err(UNTERMINATED.into()),
            Some(']') if !ranges.is_empty() => return Ok((Token::Class { negated, ranges }, i + 1)),
            _ => {}
        }
        let (low, next) = class_char(chars, i)?;
        i = next;
        let mut high = low;
        if chars.get(i) == Some(&'-') {
            (high, i) = class_char(chars, i + 1)?;
            if high < low {
                return Err(format!("the range `{low}-{high}` in `[...]` runs backwards"));
            }
        }
        ranges.push((low, high));
    }
}

fn class_char(chars: &[char], i: usize) -> Result<(char, usize), String> {
    match chars.get(i) {
        None => Err("a `[` is not closed by `]`".into()),
        Some('-') | Some(']') => Err("`[...]` is missing a character before `-` or `]`".into()),
        Some('\\') => match chars.get(i + 1) {
            Some(c) => Ok((*c, i + 2)),
            None => Err("a `[` is not closed by `]`".into()),
        },
        Some(c) => Ok((*c, i + 1)),
    }
}

/// Matches tokens against characters, remembering the (token, character)
/// positions that failed so no pattern takes more than tokens x characters
/// steps. With `prefix`, running out of characters is a match: the rest of
/// the pattern could match whatever follows.
struct Matcher<'a> {
    tokens: &'a [Token],
    chars: &'a [char],
    prefix: bool,
    failed: Vec<bool>,
}

impl<'a> Matcher<'a> {
    fn new(tokens: &'a [Token], chars: &'a [char], prefix: bool) -> Self {
        let failed = vec![false; (tokens.len() + 1) * (chars.len() + 1)];
        Matcher {
            tokens,
            chars,
            prefix,
            failed,
        }
    }

    fn run(&mut self, t: usize, c: usize) -> bool {
        let key = t * (self.chars.len() + 1) + c;
        if self.failed[key] {
            return false;
        }
        let end = self.chars.len();
        let next = self.chars.get(c).copied();
        let matched = if self.prefix && c == end {
            true
        } else {
            match self.tokens.get(t) {
                None => c == end,
                Some(Token::Char(want)) => next == Some(*want) && self.run(t + 1, c + 1),
                Some(Token::AnyChar) => next.is_some_and(|ch| ch != '/') && self.run(t + 1, c + 1),
                Some(Token::Class { negated, ranges }) => {
                    next.is_some_and(|ch| ranges.iter().any(|&(low, high)| low <= ch && ch <= high) != *negated)
                        && self.run(t + 1, c + 1)
                }
                Some(Token::Star) => {
                    let run_end = (c..end).find(|&i| self.chars[i] == '/').unwrap_or(end);
                    (c..=run_end).any(|i| self.run(t + 1, i))
                }
                Some(Token::AnyFolders) => {
                    self.run(t + 1, c) || (c..end).any(|i| self.chars[i] == '/' && self.run(t + 1, i + 1))
                }
                Some(Token::AnyRest) => (c..=end).any(|i| self.run(t + 1, i)),
            }
        };
        if !matched {
            self.failed[key] = true;
        }
        matched
    }
}
