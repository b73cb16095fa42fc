//! The project: `wharf.toml`, found by walking up from the current folder as
//! cargo finds `Cargo.toml`. Its folder is the project root: the state
//! folder (`.wharf/`) lives there whatever folder a command runs in. Without
//! a `wharf.toml` the current folder is the root, as before it existed.
//!
//! Every setting has one precedence, documented in docs/project.md: a flag,
//! then the environment, then `wharf.toml`, then the built-in default. The
//! flags and variables reach here through clap (`Cli`); this module adds the
//! file and the defaults, and keeps where each value came from so that an
//! error can say so.

use crate::cli::{ColorChoice, LogFormat};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use toml::Spanned;
use wharf_compiler::backends::SettingType;
use wharf_compiler::pipeline::{Setting, Target, TargetSettings};
use wharf_compiler::suggest::did_you_mean;
use wharf_compiler::{Code, Diagnostic, SourceMap, Span};

/// The project file's name.
pub const FILE_NAME: &str = "wharf.toml";

/// The state folder's name under the root when nothing else is set.
pub const DEFAULT_STATE_DIR: &str = ".wharf";

/// A value and where it came from, for messages: `--target`,
/// `WHARF_TARGET`, `wharf.toml:3:10`.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub from: String,
}

/// The project every command of this process works in.
#[derive(Debug)]
pub struct Project {
    /// The `wharf.toml` in use, if any.
    pub file: Option<PathBuf>,
    /// Absolute: where runs, the cache and outputs are kept.
    pub state_dir: PathBuf,
    /// The target a command uses when `--target` is not given.
    pub target: Option<Sourced<String>>,
    /// Where `check` and `fmt` look when given no path (relative to the root).
    pub pipelines: Option<PathBuf>,
    pub log_format: LogFormat,
    pub color: ColorChoice,
    /// `[targets.NAME]`: defaults for a target's settings.
    targets: BTreeMap<String, TargetSettings>,
}

static PROJECT: OnceLock<Project> = OnceLock::new();

/// The project, once `main` has loaded it (a default one in unit tests).
pub fn get() -> &'static Project {
    PROJECT.get_or_init(|| {
        let root = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Project {
            state_dir: root.join(DEFAULT_STATE_DIR),
            file: None,
            target: None,
            pipelines: None,
            log_format: LogFormat::Text,
            color: ColorChoice::Auto,
            targets: BTreeMap::new(),
        }
    })
}

/// What the command line and the environment said (clap reads both).
#[derive(Debug, Default)]
pub struct Given {
    pub state_dir: Option<PathBuf>,
    pub log_format: Option<LogFormat>,
    pub color: Option<ColorChoice>,
}

/// Why the project could not be loaded: diagnostics about `wharf.toml`.
pub struct LoadError {
    pub sources: SourceMap,
    pub diagnostics: Vec<Diagnostic>,
}

/// Finds and reads `wharf.toml` from `cwd` upwards and settles every
/// project setting; installs the result for [`get`].
pub fn load(cwd: &Path, given: Given) -> Result<&'static Project, LoadError> {
    let project = resolve(cwd, given, &|name| std::env::var(name).ok())?;
    Ok(PROJECT.get_or_init(|| project))
}

/// [`load`] without the global, with the environment as a function (tests).
pub fn resolve(cwd: &Path, given: Given, env: &dyn Fn(&str) -> Option<String>) -> Result<Project, LoadError> {
    let file = find(cwd);
    let root = file
        .as_deref()
        .and_then(Path::parent)
        .map_or_else(|| cwd.to_path_buf(), Path::to_path_buf);
    let mut sources = SourceMap::default();
    let config = match &file {
        None => Config::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| LoadError {
                sources: SourceMap::default(),
                diagnostics: vec![
                    Diagnostic::error(Code::InvalidValue, None, format!("cannot read {}: {e}", path.display()))
                        .with_hint("wharf reads the nearest wharf.toml above the current folder"),
                ],
            })?;
            let id = sources.add(wharf_compiler::SourceFile::new(shown(path, cwd), text.clone()));
            match parse(&text, id) {
                Ok(config) => config,
                Err(diagnostics) => return Err(LoadError { sources, diagnostics }),
            }
        }
    };
    let here = |span: std::ops::Range<usize>| -> String {
        let file_id = sources.files().next().map(|(id, _)| id);
        match file_id {
            Some(id) => {
                let source = sources.get(id);
                let at = source.line_col(u32::try_from(span.start).unwrap_or(u32::MAX));
                format!("{}:{}:{}", source.name, at.line, at.column)
            }
            None => FILE_NAME.to_string(),
        }
    };
    let project_section = config.project.unwrap_or_default();
    let state_dir = match given.state_dir {
        Some(dir) => cwd.join(dir),
        None => match project_section.state_dir {
            Some(dir) => root.join(dir.into_inner()),
            None => root.join(DEFAULT_STATE_DIR),
        },
    };
    let target = match env("WHARF_TARGET").filter(|t| !t.trim().is_empty()) {
        Some(name) => Some(Sourced {
            value: name.trim().to_string(),
            from: "WHARF_TARGET".into(),
        }),
        None => project_section.target.map(|t| Sourced {
            from: here(t.span()),
            value: t.into_inner(),
        }),
    };
    let output = config.output.unwrap_or_default();
    let log_format = given.log_format.or(output.log_format).unwrap_or(LogFormat::Text);
    let color = given
        .color
        .or_else(|| color_from_env(env))
        .or(output.color)
        .unwrap_or(ColorChoice::Auto);
    let mut targets = BTreeMap::new();
    let mut diagnostics = Vec::new();
    let file_id = sources.files().next().map(|(id, _)| id);
    for (name, entries) in config.targets {
        let mut settings = TargetSettings::default();
        for (key, value) in entries {
            let span = |r: std::ops::Range<usize>| file_id.map(|id| Span::new(id, r.start, r.end));
            match target_setting(key.get_ref(), value.get_ref()) {
                Ok(setting) => settings.set(key.get_ref(), setting),
                Err(Problem::UnknownKey(known)) => diagnostics.push(
                    Diagnostic::error(
                        Code::UnknownAttribute,
                        span(key.span()),
                        format!("[targets.{name}] has no setting `{}`", key.get_ref()),
                    )
                    .with_hint(
                        did_you_mean(key.get_ref(), known.iter().copied())
                            .unwrap_or_else(|| format!("a target's settings are {}", known.join(", "))),
                    ),
                ),
                Err(Problem::Value(message, hint)) => {
                    diagnostics.push(Diagnostic::error(Code::TypeMismatch, span(value.span()), message).with_hint(hint))
                }
            }
        }
        targets.insert(name, settings);
    }
    if !diagnostics.is_empty() {
        return Err(LoadError { sources, diagnostics });
    }
    Ok(Project {
        file,
        state_dir,
        target,
        pipelines: project_section.pipelines.map(|p| root.join(p.into_inner())),
        log_format,
        color,
        targets,
    })
}

/// The nearest `wharf.toml` in `cwd` or a folder above it.
fn find(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|path| path.is_file())
}

/// `NO_COLOR` (any non-empty value) and `CLICOLOR_FORCE` as the informal
/// standards (no-color.org, bixense.com/clicolors) define them.
fn color_from_env(env: &dyn Fn(&str) -> Option<String>) -> Option<ColorChoice> {
    if env("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        Some(ColorChoice::Never)
    } else if env("CLICOLOR_FORCE").is_some_and(|v| !v.is_empty() && v != "0") {
        Some(ColorChoice::Always)
    } else {
        None
    }
}

impl Project {
    /// The state folder as a person reads it: relative to the current
    /// folder when it is inside it (`.wharf`), else absolute.
    pub fn state_dir_shown(&self) -> String {
        let cwd = std::env::current_dir().unwrap_or_default();
        shown(&self.state_dir, &cwd)
    }

    /// Fills in the settings `wharf.toml` gives for `target` where the
    /// pipeline's own target block does not set them: the pipeline file is
    /// the more specific of the two.
    pub fn apply_target_defaults(&self, target: &mut Target) {
        if let Some(defaults) = self.targets.get(&target.name) {
            target.settings = defaults.merged(&target.settings);
        }
    }

    /// Whether stderr gets colour and escape codes.
    pub fn color_stderr(&self) -> bool {
        use std::io::IsTerminal;
        match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stderr().is_terminal(),
        }
    }
}

/// `path` relative to `cwd` when it is inside it, else as it is.
pub fn shown(path: &Path, cwd: &Path) -> String {
    match path.strip_prefix(cwd) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".into(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// `wharf.toml` as written. Unknown keys are refused by serde and turned
/// into a diagnostic with a suggestion in [`parse`].
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    project: Option<ProjectSection>,
    output: Option<OutputSection>,
    #[serde(default)]
    targets: BTreeMap<String, BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSection {
    pipelines: Option<Spanned<String>>,
    state_dir: Option<Spanned<String>>,
    target: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputSection {
    log_format: Option<LogFormat>,
    color: Option<ColorChoice>,
}

/// The keys of each table, for "did you mean" hints.
const SECTIONS: &[(&str, &[&str])] = &[
    ("", &["project", "output", "targets"]),
    ("project", &["pipelines", "state_dir", "target"]),
    ("output", &["log_format", "color"]),
];

fn parse(text: &str, file: wharf_compiler::FileId) -> Result<Config, Vec<Diagnostic>> {
    toml::from_str::<Config>(text).map_err(|e| {
        let span = e.span().map(|r| Span::new(file, r.start, r.end.max(r.start)));
        let message = e.message().trim().to_string();
        vec![describe_toml_error(&message, span)]
    })
}

/// serde's messages for an unknown key (`unknown field `x`, expected one
/// of ...`) become wharf's own, with a suggestion from the known keys.
fn describe_toml_error(message: &str, span: Option<Span>) -> Diagnostic {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((key, _)) = rest.split_once('`')
    {
        // The table is the one whose keys serde listed.
        let (section, known) = SECTIONS
            .iter()
            .find(|(_, keys)| keys.iter().all(|k| message.contains(&format!("`{k}`"))))
            .copied()
            .unwrap_or(("", &[]));
        let place = if section.is_empty() {
            "wharf.toml has no table".to_string()
        } else {
            format!("[{section}] has no key")
        };
        let hint = did_you_mean(key, known.iter().copied()).unwrap_or_else(|| {
            if known.is_empty() {
                "docs/project.md lists every key".to_string()
            } else {
                format!("the keys of [{section}] are {}", known.join(", "))
            }
        });
        let hint = if section.is_empty() {
            did_you_mean(key, ["project", "output", "targets"])
                .unwrap_or_else(|| "the tables are [project], [output] and [targets.NAME]".into())
        } else {
            hint
        };
        return Diagnostic::error(Code::UnknownAttribute, span, format!("{place} `{key}`")).with_hint(hint);
    }
    if message.starts_with("unknown variant") {
        return Diagnostic::error(Code::InvalidValue, span, message.to_string())
            .with_hint("docs/project.md lists the values each key takes");
    }
    if message.starts_with("invalid type") {
        return Diagnostic::error(Code::TypeMismatch, span, message.to_string())
            .with_hint("docs/project.md gives each key's type");
    }
    Diagnostic::error(
        Code::SyntaxError,
        span,
        format!("wharf.toml is not valid TOML: {message}"),
    )
    .with_hint("see https://toml.io for the syntax")
}

enum Problem {
    UnknownKey(Vec<&'static str>),
    /// (message, hint)
    Value(String, String),
}

/// A `[targets.NAME]` entry, checked as a pipeline's target setting is:
/// a string, `{ env = "NAME" }`, an int or a boolean as the setting takes.
fn target_setting(key: &str, value: &toml::Value) -> Result<Setting, Problem> {
    if key == "backend" {
        return Err(Problem::Value(
            "a target's backend is written in the pipeline file, not in wharf.toml".into(),
            "remove `backend` here; wharf.toml only gives defaults for a target's settings".into(),
        ));
    }
    // Any backend's settings: a target may place steps on several backends.
    let specs: Vec<&wharf_compiler::backends::SettingSpec> =
        wharf::backends::specs().into_iter().flat_map(|b| b.settings).collect();
    let Some(spec) = specs.iter().find(|s| s.name == key) else {
        let mut known: Vec<&'static str> = specs.iter().map(|s| s.name).collect();
        known.sort_unstable();
        known.dedup();
        return Err(Problem::UnknownKey(known));
    };
    let env_var = |value: &toml::Value| -> Option<Result<Setting, Problem>> {
        let table = value.as_table()?;
        let var = table.get("env")?;
        Some(match (var.as_str(), table.len()) {
            (Some(name), 1) if is_env_name(name) => Ok(Setting::Env(name.to_string())),
            _ => Err(Problem::Value(
                format!("`{key}`: `{{ env = ... }}` takes one variable name"),
                format!("for example `{key} = {{ env = \"WHARF_{}\" }}`", key.to_uppercase()),
            )),
        })
    };
    if let Some(result) = env_var(value) {
        return result;
    }
    let want =
        |what: &str, example: &str| Problem::Value(format!("`{key}` takes {what}"), format!("for example `{example}`"));
    match (spec.value, value) {
        (SettingType::Text | SettingType::InstanceType, toml::Value::String(s)) => Ok(Setting::Text(s.clone())),
        (SettingType::S3Uri, toml::Value::String(s)) if s.starts_with("s3://") => Ok(Setting::Text(s.clone())),
        (SettingType::S3Uri, _) => Err(want(
            "an s3:// URI or { env = \"NAME\" }",
            &format!("{key} = \"s3://my-bucket/wharf\""),
        )),
        (SettingType::Int { min, max }, toml::Value::Integer(n)) if (min..=max).contains(n) => Ok(Setting::Int(*n)),
        (SettingType::Int { min, max }, _) => Err(want(
            &format!("a whole number from {min} to {max}"),
            &format!("{key} = {min}"),
        )),
        (SettingType::Bool, toml::Value::Boolean(b)) => Ok(Setting::Bool(*b)),
        (SettingType::Bool, _) => Err(want("true or false", &format!("{key} = true"))),
        (_, _) => Err(want(
            "a string or { env = \"NAME\" }",
            &format!("{key} = {{ env = \"WHARF_{}\" }}", key.to_uppercase()),
        )),
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_in(
        files: &[(&str, &str)],
        cwd: &str,
        env: &[(&str, &str)],
    ) -> (tempfile_dir::Dir, Result<Project, LoadError>) {
        let dir = tempfile_dir::Dir::new();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let cwd = dir.path().join(cwd);
        std::fs::create_dir_all(&cwd).unwrap();
        let env: BTreeMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let result = resolve(&cwd, Given::default(), &|name| env.get(name).cloned());
        (dir, result)
    }

    /// A scratch folder removed on drop (the binary crate has no tempfile).
    mod tempfile_dir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "wharf-project-test-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                let _ = std::fs::remove_dir_all(&path);
                std::fs::create_dir_all(&path).unwrap();
                Dir(path.canonicalize().unwrap())
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn errors(result: Result<Project, LoadError>) -> Vec<(String, String)> {
        match result {
            Ok(_) => panic!("expected errors"),
            Err(e) => e
                .diagnostics
                .iter()
                .map(|d| {
                    let at = d
                        .span
                        .map(|s| {
                            let f = e.sources.get(s.file);
                            let lc = f.line_col(s.start);
                            format!("{}:{}", lc.line, lc.column)
                        })
                        .unwrap_or_default();
                    (at, format!("{} | {}", d.message, d.hints.join(" | ")))
                })
                .collect(),
        }
    }

    #[test]
    fn without_a_file_the_current_folder_is_the_root() {
        let (dir, project) = project_in(&[], "a/b", &[]);
        let project = project.ok().unwrap();
        assert_eq!(project.state_dir, dir.path().join("a/b/.wharf"));
        assert!(project.file.is_none());
    }

    #[test]
    fn the_nearest_file_above_is_the_root() {
        let (dir, project) = project_in(
            &[("wharf.toml", "[project]\nstate_dir = \"state\"\ntarget = \"cloud\"\n")],
            "pipelines/sub",
            &[],
        );
        let project = project.ok().unwrap();
        assert_eq!(project.file, Some(dir.path().join("wharf.toml")));
        assert_eq!(project.state_dir, dir.path().join("state"));
        let target = project.target.unwrap();
        assert_eq!(target.value, "cloud");
        assert!(target.from.ends_with("wharf.toml:3:10"), "{}", target.from);
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let (_dir, project) = project_in(
            &[(
                "wharf.toml",
                "[project]\ntarget = \"cloud\"\n[output]\ncolor = \"always\"\n",
            )],
            ".",
            &[("WHARF_TARGET", "local"), ("NO_COLOR", "1")],
        );
        let project = project.ok().unwrap();
        assert_eq!(project.target.as_ref().unwrap().value, "local");
        assert_eq!(project.target.unwrap().from, "WHARF_TARGET");
        assert_eq!(project.color, ColorChoice::Never);
    }

    #[test]
    fn unknown_keys_are_errors_with_a_place_and_a_suggestion() {
        let (_dir, result) = project_in(&[("wharf.toml", "[output]\ncolour = \"never\"\n")], ".", &[]);
        assert_eq!(
            errors(result),
            [(
                "2:1".to_string(),
                "[output] has no key `colour` | did you mean `color`?".to_string()
            )]
        );
        let (_dir, result) = project_in(&[("wharf.toml", "[projet]\n")], ".", &[]);
        assert_eq!(
            errors(result)[0].1,
            "wharf.toml has no table `projet` | did you mean `project`?"
        );
        let (_dir, result) = project_in(&[("wharf.toml", "[targets.cloud]\nregoin = \"eu-west-1\"\n")], ".", &[]);
        assert_eq!(
            errors(result),
            [(
                "2:1".to_string(),
                "[targets.cloud] has no setting `regoin` | did you mean `region`?".to_string()
            )]
        );
    }

    #[test]
    fn bad_values_and_syntax_are_errors_with_a_place() {
        let (_dir, result) = project_in(&[("wharf.toml", "[output]\ncolor = \"sometimes\"\n")], ".", &[]);
        let found = errors(result);
        assert_eq!(found[0].0, "2:9");
        assert!(found[0].1.contains("sometimes"), "{found:?}");
        let (_dir, result) = project_in(&[("wharf.toml", "[targets.cloud]\nbucket = \"acme\"\n")], ".", &[]);
        let found = errors(result);
        assert_eq!(found[0].0, "2:10");
        assert!(found[0].1.starts_with("`bucket` takes an s3:// URI"), "{found:?}");
        let (_dir, result) = project_in(&[("wharf.toml", "[project\n")], ".", &[]);
        let found = errors(result);
        assert!(found[0].1.starts_with("wharf.toml is not valid TOML"), "{found:?}");
        assert_eq!(found[0].0, "1:9");
    }

    #[test]
    fn target_defaults_fill_what_the_pipeline_leaves_out() {
        let (_dir, project) = project_in(
            &[(
                "wharf.toml",
                "[targets.cloud]\nregion = \"eu-west-1\"\nrole = { env = \"ROLE\" }\nbucket = \"s3://a/b\"\n",
            )],
            ".",
            &[],
        );
        let project = project.ok().unwrap();
        let defaults = &project.targets["cloud"];
        assert_eq!(defaults.get("role"), Some(&Setting::Env("ROLE".into())));
        assert_eq!(defaults.get("region"), Some(&Setting::Text("eu-west-1".into())));
    }
}
