//! A Docker build context: the files of a folder that its `.dockerignore`
//! lets through, with a content hash and a deterministic tar of them, which is
//! what the engine's build API takes.
//!
//! The hash names the image (see `build::image_tag`), so it covers
//! everything the tar carries that can change the image (relative paths,
//! kinds, permission bits, contents, link targets) and nothing else (no
//! timestamps, owners or the folder's place). [`BuildContext::tar`] reads
//! the files again and refuses to send one that changed since
//! [`BuildContext::read`], so an image never carries a tag computed from other
//! content.
//!
//! `.dockerignore` follows the Docker CLI (moby's `patternmatcher` and
//! `ignorefile`): each line is trimmed; `#` starts a comment; a pattern is
//! cleaned like Go's `filepath.Clean` and loses a leading `/`; the glob is
//! Go's `filepath.Match` (`*` and `?` stop at `/`, `[...]` with `^` to negate,
//! `\` escapes) plus `**`, any number of folders; `!` re-includes; the last
//! pattern that matches a path or one of its parent folders decides. Unlike
//! moby's regex translation, `*` and `?` inside `[...]` are plain characters.
//! An excluded folder is skipped unless an exception could match something
//! inside it; a folder holding a re-included file is sent with it.
//! `.dockerignore` and the Dockerfile are always sent, as the Docker CLI
//! sends them. Sockets, FIFOs and devices are left out.

use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A build context read from a folder: the files `.dockerignore` lets through.
#[derive(Debug, Clone)]
pub struct BuildContext {
    dir: PathBuf,
    dockerfile: String,
    /// Parents before children, siblings by name: the tar's order.
    entries: Vec<Entry>,
    hash: String,
    files: usize,
    bytes: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Relative to the context folder, `/`-separated.
    path: String,
    /// Permission bits (`0o7777`).
    mode: u32,
    kind: EntryKind,
}

#[derive(Debug, Clone)]
enum EntryKind {
    Dir,
    File { size: u64, content: [u8; 32] },
    Symlink { target: PathBuf },
}

impl BuildContext {
    /// Reads `dir` (the context folder) honouring `dir/.dockerignore`.
    /// `dockerfile` is the Dockerfile's path relative to `dir` (default
    /// `Dockerfile`); it must exist, and it is sent even if ignored.
    pub fn read(dir: &Path, dockerfile: Option<&str>) -> Result<BuildContext, String> {
        match fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(format!("the build context {} is not a folder", dir.display())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(format!("the build context folder {} does not exist", dir.display()));
            }
            Err(error) => {
                return Err(format!(
                    "cannot read the build context folder {}: {error}",
                    dir.display()
                ));
            }
        }
        let given = dockerfile.unwrap_or("Dockerfile");
        let dockerfile = relative_path(given).ok_or_else(|| {
            format!(
                "the Dockerfile `{given}` must be a path inside the build context folder {}",
                dir.display()
            )
        })?;
        let dockerfile_path = dir.join(&dockerfile);
        match fs::metadata(&dockerfile_path) {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Err(format!("the Dockerfile {} is not a file", dockerfile_path.display())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(format!(
                    "there is no Dockerfile at {} (the build context is {})",
                    dockerfile_path.display(),
                    dir.display()
                ));
            }
            Err(error) => {
                return Err(format!(
                    "cannot read the Dockerfile {}: {error}",
                    dockerfile_path.display()
                ));
            }
        }

        let mut ignore = DockerIgnore::read(dir)?;
        ignore.always_send(".dockerignore");
        ignore.always_send(&dockerfile);
        let mut entries = Vec::new();
        walk(dir, "", &ignore, &mut entries)?;

        let mut hasher = blake3::Hasher::new();
        hasher.update(b"wharf-build-context-v1\0");
        hasher.update(dockerfile.as_bytes());
        hasher.update(b"\0");
        let (mut files, mut bytes) = (0, 0);
        for entry in &entries {
            let tag: &[u8] = match entry.kind {
                EntryKind::Dir => b"d\0",
                EntryKind::File { .. } => b"f\0",
                EntryKind::Symlink { .. } => b"l\0",
            };
            hasher.update(tag);
            hasher.update(entry.path.as_bytes());
            hasher.update(b"\0");
            hasher.update(&entry.mode.to_le_bytes());
            match &entry.kind {
                EntryKind::Dir => {}
                EntryKind::File { size, content } => {
                    files += 1;
                    bytes += size;
                    hasher.update(&size.to_le_bytes());
                    hasher.update(content);
                }
                EntryKind::Symlink { target } => {
                    files += 1;
                    hasher.update(target.as_os_str().as_bytes());
                    hasher.update(b"\0");
                }
            }
        }
        Ok(BuildContext {
            dir: dir.to_path_buf(),
            dockerfile,
            entries,
            hash: hasher.finalize().to_hex().to_string(),
            files,
            bytes,
        })
    }

    /// BLAKE3 hex hash of the context: relative paths, kinds, permission bits,
    /// contents and link targets of the included entries, in order; not
    /// timestamps or owners.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The context as an uncompressed tar, deterministic: the entries in
    /// order, mtime 0, uid/gid 0, permission bits kept, symbolic links kept as
    /// links. Fails if a file changed since [`BuildContext::read`].
    pub fn tar(&self) -> Result<Vec<u8>, String> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in &self.entries {
            let mut header = tar::Header::new_gnu();
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_mode(entry.mode);
            let path = self.dir.join(&entry.path);
            let written = match &entry.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    builder.append_data(&mut header, &entry.path, io::empty())
                }
                EntryKind::Symlink { target } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    builder.append_link(&mut header, &entry.path, target)
                }
                EntryKind::File { size, content } => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(*size);
                    let file = fs::File::open(&path).map_err(|error| cannot_read(&path, error))?;
                    // Stop at the recorded size: a file that grew must not
                    // overrun its header. The hash below catches any change.
                    let mut reader = HashingReader::new(file.take(*size));
                    builder
                        .append_data(&mut header, &entry.path, &mut reader)
                        .map_err(|error| format!("cannot add {} to the build context: {error}", path.display()))?;
                    if reader.count != *size || reader.hasher.finalize().as_bytes() != content {
                        return Err(format!(
                            "{} changed while wharf was sending the build context; run again",
                            path.display()
                        ));
                    }
                    Ok(())
                }
            };
            written.map_err(|error| format!("cannot add {} to the build context: {error}", path.display()))?;
        }
        builder
            .into_inner()
            .map_err(|error| format!("cannot write the build context's tar: {error}"))
    }

    /// Number of files (symbolic links included) in the context.
    pub fn files(&self) -> usize {
        self.files
    }

    /// Total size of the context's files, in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The Dockerfile's path inside the context, `/`-separated.
    pub fn dockerfile(&self) -> &str {
        &self.dockerfile
    }
}

/// Appends the entries of `root/relative` that `ignore` lets through, parents
/// first, siblings sorted by name.
fn walk(root: &Path, relative: &str, ignore: &DockerIgnore, out: &mut Vec<Entry>) -> Result<(), String> {
    let dir = root.join(relative);
    let mut children = fs::read_dir(&dir)
        .and_then(|listing| listing.collect::<Result<Vec<_>, _>>())
        .map_err(|error| cannot_read(&dir, error))?;
    children.sort_by_key(|child| child.file_name());
    for child in children {
        let name = child.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!(
                "{} has a name that is not UTF-8; rename it or list it in .dockerignore",
                child.path().display()
            ));
        };
        let path = if relative.is_empty() {
            name.to_string()
        } else {
            format!("{relative}/{name}")
        };
        let meta = fs::symlink_metadata(child.path()).map_err(|error| cannot_read(&child.path(), error))?;
        let mode = meta.permissions().mode() & 0o7777;
        let excluded = ignore.excludes(&path);
        let kind = meta.file_type();
        if kind.is_dir() {
            if excluded && !ignore.may_include_below(&path) {
                continue;
            }
            let mut inside = Vec::new();
            walk(root, &path, ignore, &mut inside)?;
            if !excluded || !inside.is_empty() {
                out.push(Entry {
                    path,
                    mode,
                    kind: EntryKind::Dir,
                });
                out.append(&mut inside);
            }
        } else if excluded {
            continue;
        } else if kind.is_symlink() {
            let target = fs::read_link(child.path()).map_err(|error| cannot_read(&child.path(), error))?;
            out.push(Entry {
                path,
                mode,
                kind: EntryKind::Symlink { target },
            });
        } else if kind.is_file() {
            let file = fs::File::open(child.path()).map_err(|error| cannot_read(&child.path(), error))?;
            let mut reader = HashingReader::new(file);
            io::copy(&mut reader, &mut io::sink()).map_err(|error| cannot_read(&child.path(), error))?;
            out.push(Entry {
                path,
                mode,
                kind: EntryKind::File {
                    size: reader.count,
                    content: *reader.hasher.finalize().as_bytes(),
                },
            });
        }
    }
    Ok(())
}

fn cannot_read(path: &Path, error: io::Error) -> String {
    format!("cannot read {}: {error}", path.display())
}

/// `path` as a clean `/`-separated path inside the context, or `None` when it
/// is absolute, empty or leaves the context.
fn relative_path(path: &str) -> Option<String> {
    if path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(part),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Reads and hashes as it goes.
struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: blake3::Hasher::new(),
            count: 0,
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The rules of a `.dockerignore` file, in order.
#[derive(Debug, Default)]
struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    /// A `!` line: re-includes what it matches.
    exception: bool,
    pattern: Pattern,
}

impl DockerIgnore {
    /// Reads `dir/.dockerignore`; no file means no rules.
    fn read(dir: &Path) -> Result<DockerIgnore, String> {
        let path = dir.join(".dockerignore");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(DockerIgnore::default()),
            Err(error) => return Err(cannot_read(&path, error)),
        };
        let text = String::from_utf8(bytes).map_err(|_| format!("{} is not UTF-8 text", path.display()))?;
        DockerIgnore::parse(&text).map_err(|(line, message)| format!("{}, line {line}: {message}", path.display()))
    }

    /// Parses the text of a `.dockerignore`; an error gives the line (from 1).
    fn parse(text: &str) -> Result<DockerIgnore, (usize, String)> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, glob) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            if glob.is_empty() {
                return Err((
                    index + 1,
                    "`!` alone is not a pattern: write the path to re-include after it".into(),
                ));
            }
            let pattern =
                Pattern::parse(&clean(glob)).map_err(|message| (index + 1, format!("`{line}`: {message}")))?;
            rules.push(Rule { exception, pattern });
        }
        Ok(DockerIgnore { rules })
    }

    /// Adds an exception for `path` (a clean relative path) at the end, so
    /// that it is sent whatever the file says.
    fn always_send(&mut self, path: &str) {
        let tokens = path.chars().map(Token::Char).collect();
        self.rules.push(Rule {
            exception: true,
            pattern: Pattern { tokens },
        });
    }

    /// Whether `path` (relative, `/`-separated) is left out: the last rule
    /// matching it or one of its parent folders decides.
    fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            // Only a rule that would flip the verdict needs to be tried.
            if rule.exception != excluded {
                continue;
            }
            let hit = rule.pattern.matches(path)
                || path
                    .match_indices('/')
                    .any(|(slash, _)| rule.pattern.matches(&path[..slash]));
            if hit {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// Whether an exception could match something inside folder `dir`, so an
    /// excluded folder must still be walked.
    fn may_include_below(&self, dir: &str) -> bool {
        let inside = format!("{dir}/");
        self.rules
            .iter()
            .any(|rule| rule.exception && rule.pattern.matches_some_path_starting_with(&inside))
    }
}

/// Go's `filepath.Clean` for a `/`-separated pattern, then without a leading
/// `/` (a pattern is relative to the context whichever way it is written).
fn clean(pattern: &str) -> String {
    let rooted = pattern.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|last| *last != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            _ => parts.push(part),
        }
    }
    match (rooted, parts.is_empty()) {
        (true, true) => "/".into(),
        (false, true) => ".".into(),
        _ => parts.join("/"),
    }
}

/// One glob, compiled to tokens matched against a whole relative path.
#[derive(Debug)]
struct Pattern {
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
    /// Compiles a cleaned pattern; the error says what is wrong with it.
    fn parse(pattern: &str) -> Result<Pattern, String> {
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

    fn matches(&self, path: &str) -> bool {
        let chars: Vec<char> = path.chars().collect();
        Matcher::new(&self.tokens, &chars, false).run(0, 0)
    }

    /// Whether some path beginning with `prefix` could match.
    fn matches_some_path_starting_with(&self, prefix: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn dockerignore_patterns_decide_like_docker() {
        // (.dockerignore text, path, excluded?)
        let cases: &[(&str, &str, bool)] = &[
            ("*.md", "README.md", true),
            ("*.md", "docs/guide.md", false),
            ("docs/*.md", "docs/guide.md", true),
            ("docs/*.md", "README.md", false),
            ("docs/*.md", "docs/sub/deep.md", false),
            ("**/*.md", "docs/sub/deep.md", true),
            ("**/*.md", "top.md", true),
            ("**", "any/thing/at/all", true),
            ("**.log", "deep/down/run.log", true),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "ab", false),
            ("logs/**", "logs/today/run.txt", true),
            ("logs/**", "logs", false),
            ("*.md\n!README.md", "README.md", false),
            ("*.md\n!README.md", "CHANGES.md", true),
            ("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", true),
            ("*.md\n!README*.md\nREADME-secret.md", "README-public.md", false),
            ("*.md\nREADME-secret.md\n!README*.md", "README-secret.md", false),
            ("build", "build", true),
            ("build", "build/out/main.o", true),
            ("build", "buildx/main.o", false),
            ("build", "src/build", false),
            ("node_modules/", "node_modules/left-pad/index.js", true),
            ("build\n!build/keep.txt", "build/keep.txt", false),
            ("build\n!build/keep.txt", "build/other.txt", true),
            ("*\n!src", "src/main.rs", false),
            ("*\n!src", "data.csv", true),
            ("/foo/bar", "foo/bar", true),
            ("/foo/bar", "x/foo/bar", false),
            ("./src/../secret.txt", "secret.txt", true),
            ("# secret.txt", "secret.txt", false),
            ("# comment\n\n   \nsecret.txt", "secret.txt", true),
            ("   temp?   ", "tempa", true),
            ("temp?", "temp", false),
            ("temp?", "tempab", false),
            ("temp?", "temp/", false),
            ("*/temp*", "somedir/temporary.txt", true),
            ("*/temp*", "somedir/sub/temporary.txt", false),
            ("*/*/temp*", "somedir/sub/temporary.txt", true),
            ("[a-c].txt", "b.txt", true),
            ("[a-c].txt", "d.txt", false),
            ("[^a].txt", "a.txt", false),
            ("[^a].txt", "b.txt", true),
            ("[*].txt", "*.txt", true),
            ("[*].txt", "a.txt", false),
            ("\\*.txt", "*.txt", true),
            ("\\*.txt", "a.txt", false),
            ("*.txt", "a/b.txt", false),
            ("data.*", "data.csv", true),
            ("data.*", "dataXcsv", false),
            ("!secret.txt", "secret.txt", false),
        ];
        for (text, path, want) in cases {
            let ignore = DockerIgnore::parse(text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e:?}"));
            assert_eq!(ignore.excludes(path), *want, ".dockerignore {text:?}, path {path:?}");
        }
    }

    #[test]
    fn a_folder_is_walked_only_when_an_exception_could_reach_inside() {
        let cases: &[(&str, &str, bool)] = &[
            ("build", "build", false),
            ("build\n!build/keep.txt", "build", true),
            ("build\n!build/keep.txt", "other", false),
            ("*\n!**/*.txt", "deep", true),
            ("*\n!*.txt", "deep", false),
            ("*\n!src/*/main.rs", "src", true),
        ];
        for (text, dir, want) in cases {
            let ignore = DockerIgnore::parse(text).expect("parse");
            assert_eq!(
                ignore.may_include_below(dir),
                *want,
                ".dockerignore {text:?}, folder {dir:?}"
            );
        }
    }

    #[test]
    fn bad_patterns_are_reported_with_their_line() {
        let cases: &[(&str, usize, &str)] = &[
            ("ok\n!\n", 2, "`!` alone"),
            ("# fine\n\n[abc\n", 3, "not closed"),
            ("trailing\\", 1, "escapes nothing"),
            ("x\ny\n[z-a]", 3, "runs backwards"),
            ("[]", 1, "missing a character"),
        ];
        for (text, line, words) in cases {
            let (at, message) = DockerIgnore::parse(text).expect_err(text);
            assert_eq!(at, *line, "{text:?}: {message}");
            assert!(message.contains(words), "{text:?}: {message}");
        }
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        write(dir.path(), ".dockerignore", "*.log\n\n[oops\n");
        let error = BuildContext::read(dir.path(), None).expect_err("bad pattern");
        assert!(error.contains(".dockerignore, line 3: `[oops`"), "{error}");
    }

    fn write(dir: &Path, name: &str, text: &str) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("mkdir");
        }
        fs::write(path, text).expect("write");
    }

    /// A context folder with an ignored file, an ignored folder and a link.
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "Dockerfile", "FROM scratch\nCOPY . /app/\n");
        write(dir.path(), ".dockerignore", "# local clutter\n*.log\nsecrets/\n");
        write(dir.path(), "train.py", "print('fit')\n");
        write(dir.path(), "lib/util.py", "X = 1\n");
        write(dir.path(), "run.log", "noise\n");
        write(dir.path(), "secrets/key.txt", "hunter2\n");
        std::os::unix::fs::symlink("train.py", dir.path().join("main.py")).expect("symlink");
        dir
    }

    fn tar_listing(tar: &[u8]) -> Vec<(String, char, u32, u64, u64)> {
        let mut archive = tar::Archive::new(tar);
        let mut listing = Vec::new();
        for entry in archive.entries().expect("entries") {
            let entry = entry.expect("entry");
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Regular => 'f',
                other => panic!("unexpected {other:?}"),
            };
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let owner = header.uid().expect("uid") + header.gid().expect("gid");
            listing.push((
                path,
                kind,
                header.mode().expect("mode"),
                header.mtime().expect("mtime"),
                owner,
            ));
        }
        listing
    }

    #[test]
    fn reads_what_dockerignore_lets_through_into_a_deterministic_tar() {
        let dir = project();
        fs::set_permissions(dir.path().join("train.py"), fs::Permissions::from_mode(0o755)).expect("chmod");
        let context = BuildContext::read(dir.path(), None).expect("read");
        assert_eq!(context.dockerfile(), "Dockerfile");
        assert_eq!(
            context.files(),
            5,
            ".dockerignore, Dockerfile, lib/util.py, main.py, train.py"
        );
        assert_eq!(context.bytes(), 31 + 26 + 13 + 6);
        let tar = context.tar().expect("tar");
        assert_eq!(tar, context.tar().expect("tar again"), "the tar is deterministic");
        let listing = tar_listing(&tar);
        let names: Vec<_> = listing
            .iter()
            .map(|(path, kind, ..)| format!("{kind} {path}"))
            .collect();
        assert_eq!(
            names,
            [
                "f .dockerignore",
                "f Dockerfile",
                "d lib",
                "f lib/util.py",
                "l main.py",
                "f train.py"
            ]
        );
        for (path, _, mode, mtime, owner) in &listing {
            assert_eq!((*mtime, *owner), (0, 0), "{path}: no timestamps, root owns it");
            if path == "train.py" {
                assert_eq!(mode & 0o777, 0o755, "the executable bit is kept");
            }
        }
        let mut archive = tar::Archive::new(&tar[..]);
        let link = archive
            .entries()
            .expect("entries")
            .map(|entry| entry.expect("entry"))
            .find(|entry| entry.path().expect("path").as_os_str() == "main.py")
            .expect("main.py");
        assert_eq!(link.link_name().expect("link").expect("target").as_os_str(), "train.py");
    }

    #[test]
    fn the_hash_follows_content_not_timestamps_or_ignored_files() {
        let dir = project();
        let first = BuildContext::read(dir.path(), None).expect("read");
        let again = BuildContext::read(dir.path(), None).expect("read");
        assert_eq!(first.hash(), again.hash(), "an unchanged folder");
        assert_eq!(first.hash().len(), 64);

        let old = SystemTime::now() - Duration::from_secs(86_400);
        fs::File::options()
            .write(true)
            .open(dir.path().join("train.py"))
            .and_then(|file| file.set_modified(old))
            .expect("touch");
        let touched = BuildContext::read(dir.path(), None).expect("read");
        assert_eq!(first.hash(), touched.hash(), "mtime only");

        write(dir.path(), "run.log", "other noise\n");
        write(dir.path(), "secrets/new.txt", "x\n");
        assert_eq!(
            first.hash(),
            BuildContext::read(dir.path(), None).expect("read").hash(),
            "ignored files"
        );

        let same_elsewhere = project();
        assert_eq!(
            first.hash(),
            BuildContext::read(same_elsewhere.path(), None).expect("read").hash(),
            "the folder's place does not count"
        );

        type Change = (&'static str, fn(&Path));
        let changes: &[Change] = &[
            ("an edit", |d| write(d, "train.py", "print('fit!')\n")),
            ("a new file", |d| write(d, "lib/extra.py", "")),
            ("a rename", |d| {
                fs::rename(d.join("lib"), d.join("pkg")).expect("rename")
            }),
            ("the executable bit", |d| {
                fs::set_permissions(d.join("train.py"), fs::Permissions::from_mode(0o755)).expect("chmod")
            }),
            ("a link's target", |d| {
                fs::remove_file(d.join("main.py")).expect("rm");
                std::os::unix::fs::symlink("lib/util.py", d.join("main.py")).expect("symlink");
            }),
            ("the .dockerignore", |d| write(d, ".dockerignore", "*.log\n")),
        ];
        for (what, change) in changes {
            let dir = project();
            change(dir.path());
            let changed = BuildContext::read(dir.path(), None).expect("read");
            assert_ne!(first.hash(), changed.hash(), "{what} changes the hash");
        }
    }

    #[test]
    fn the_dockerfile_and_dockerignore_are_sent_even_when_ignored() {
        let dir = tempfile::tempdir().expect("tmp");
        write(dir.path(), "docker/train.Dockerfile", "FROM scratch\n");
        write(dir.path(), "docker/notes.txt", "skip me\n");
        write(dir.path(), "data/keep.csv", "1\n");
        write(dir.path(), "data/drop.csv", "2\n");
        write(
            dir.path(),
            ".dockerignore",
            ".dockerignore\ndocker\n**/*.Dockerfile\ndata\n!data/keep.csv\n",
        );
        let context = BuildContext::read(dir.path(), Some("./docker/train.Dockerfile")).expect("read");
        assert_eq!(context.dockerfile(), "docker/train.Dockerfile");
        let names: Vec<_> = tar_listing(&context.tar().expect("tar"))
            .into_iter()
            .map(|(path, ..)| path)
            .collect();
        assert_eq!(
            names,
            [
                ".dockerignore",
                "data",
                "data/keep.csv",
                "docker",
                "docker/train.Dockerfile"
            ]
        );
        let other = BuildContext::read(dir.path(), None).expect_err("no ./Dockerfile");
        assert!(
            other.contains(&format!("no Dockerfile at {}", dir.path().join("Dockerfile").display())),
            "{other}"
        );
    }

    #[test]
    fn clear_errors_for_a_missing_folder_a_bad_dockerfile_path_and_a_changed_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let missing = dir.path().join("nowhere");
        let error = BuildContext::read(&missing, None).expect_err("missing");
        assert_eq!(
            error,
            format!("the build context folder {} does not exist", missing.display())
        );
        write(dir.path(), "Dockerfile", "FROM scratch\n");
        for outside in ["../Dockerfile", "/etc/passwd", "."] {
            let error = BuildContext::read(dir.path(), Some(outside)).expect_err(outside);
            assert!(error.contains("must be a path inside the build context"), "{error}");
        }
        write(dir.path(), "data.txt", "before\n");
        let context = BuildContext::read(dir.path(), None).expect("read");
        write(dir.path(), "data.txt", "after!\n");
        let error = context.tar().expect_err("changed");
        assert!(error.contains("data.txt changed while wharf was sending"), "{error}");
    }
}
