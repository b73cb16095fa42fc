//! The rules of a `.dockerignore` file, as the Docker CLI reads them
//! (moby's `patternmatcher` and `ignorefile`): each line is trimmed; `#`
//! starts a comment; a pattern is cleaned like Go's `filepath.Clean` and
//! loses a leading `/`; `!` re-includes; the last pattern that matches a
//! path or one of its parent folders decides. An excluded folder is skipped
//! unless an exception could match something inside it; a folder holding a
//! re-included file is sent with it. The patterns are `glob.rs`'s.

use super::glob::Pattern;
use std::fs;
use std::io;
use std::path::Path;

/// The rules of a `.dockerignore` file, in order.
#[derive(Debug, Default)]
pub(super) struct DockerIgnore {
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
    pub(super) fn read(dir: &Path) -> Result<DockerIgnore, String> {
        let path = dir.join(".dockerignore");
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(DockerIgnore::default()),
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
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
    pub(super) fn always_send(&mut self, path: &str) {
        self.rules.push(Rule {
            exception: true,
            pattern: Pattern::literal(path),
        });
    }

    /// Whether `path` (relative, `/`-separated) is left out: the last rule
    /// matching it or one of its parent folders decides.
    pub(super) fn excludes(&self, path: &str) -> bool {
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
    pub(super) fn may_include_below(&self, dir: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
