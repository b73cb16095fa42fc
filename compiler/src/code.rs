//! The stable diagnostic codes. A code is product surface: once released it
//! keeps its name and meaning. docs/diagnostics.md lists them all; a test
//! keeps that page and this list in step.

use serde::Serialize;

macro_rules! codes {
    ($($variant:ident = $name:literal : $summary:literal,)*) => {
        /// A stable, kebab-case diagnostic code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $name,)* }
            }

            /// One line saying what the code means, for docs and `--help`.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    SyntaxError = "syntax-error": "The text does not follow the grammar.",
    TooDeeplyNested = "too-deeply-nested": "Brackets nest deeper than 64 levels, or an expression chains more than 256 operators.",
    InvalidLiteral = "invalid-literal": "A number, duration or size literal is malformed or out of range.",
    InvalidEscape = "invalid-escape": "A string holds an escape sequence the language does not define.",
    UnknownKind = "unknown-kind": "A step is declared with a kind that does not exist.",
    UnknownType = "unknown-type": "A param or template argument names a type that does not exist.",
    ImportNotFound = "import-not-found": "An imported file does not exist or cannot be read.",
    ImportCycle = "import-cycle": "Files import each other in a cycle.",
    UnknownImport = "unknown-import": "A qualified name uses an import alias that was not declared.",
    NoPipeline = "no-pipeline": "The entry file declares no `pipeline` block.",
    MultiplePipelines = "multiple-pipelines": "A file declares more than one `pipeline` block.",
    PipelineInImport = "pipeline-in-import": "An imported file declares a pipeline; imported files hold templates and targets only.",
    DuplicateName = "duplicate-name": "Two params, steps, targets, templates, entries or arguments share a name.",
    UnknownName = "unknown-name": "An identifier refers to nothing in scope.",
    UnknownStep = "unknown-step": "A reference, or `--from`/`--to`/`--only`, names a step that does not exist.",
    UnknownParam = "unknown-param": "`params.X` or `-p X=...` names a param that does not exist.",
    UnknownOutput = "unknown-output": "A reference names an output the step does not have.",
    UnknownTarget = "unknown-target": "`--target` names a target the file does not declare.",
    UnknownTemplate = "unknown-template": "A call names a template that does not exist.",
    UnknownFunction = "unknown-function": "A call names a built-in function that does not exist.",
    UnknownAttribute = "unknown-attribute": "A step, target or block has an attribute its kind does not take.",
    UnknownArgument = "unknown-argument": "A call passes a named argument the template or function does not take.",
    MissingArgument = "missing-argument": "A call leaves out an argument that has no default.",
    MissingAttribute = "missing-attribute": "A step or target lacks an attribute its kind or backend needs.",
    MissingParam = "missing-param": "A param has no default and no `-p` value.",
    TypeMismatch = "type-mismatch": "A value has the wrong type for where it is used.",
    InvalidOverride = "invalid-override": "A `-p` argument is not of the form NAME=VALUE.",
    InvalidValue = "invalid-value": "A value has the right type but is out of range or not allowed.",
    Cycle = "cycle": "Steps depend on each other in a cycle.",
    WhenNotJson = "when-not-json": "A `when` condition reads a field of an output that is not a JSON file.",
    RuntimeValue = "runtime-value": "A value that exists only at run time (a JSON field of an output) is used outside `when`.",
    NotACondition = "not-a-condition": "A `when` expression does not give a boolean.",
    FanOutNeedsIndex = "fan-out-needs-index": "A fanned-out step is referred to from outside its loop without `[key]` or `[*]`.",
    NotFannedOut = "not-fanned-out": "`[...]` is applied to a step that is not inside a `for` loop.",
    UnknownInstance = "unknown-instance": "`step[key]` names a key the loop does not produce.",
    DuplicateInstance = "duplicate-instance": "Two loop values give the same step instance name.",
    TemplateKindMismatch = "template-kind-mismatch": "A step declares a kind that differs from its template's kind.",
    CannotInterpolate = "cannot-interpolate": "A value that has no text form at compile time is interpolated into a string.",
    SecretMisuse = "secret-misuse": "`secret(...)` is used outside `env`, where it could be printed or stored.",
    ExportOutsideProject = "export-outside-project": "An output is exported to an absolute path, out of the pipeline's folder with `..`, to the folder itself, or into `.wharf/`.",
    SagemakerName = "sagemaker-name": "A step name cannot become a valid SageMaker job name.",
    InvalidInstanceType = "invalid-instance-type": "An instance type is not of SageMaker's `ml.<family>.<size>` shape.",
    BackendUnavailable = "backend-unavailable": "`plan` or `run`: a step runs on a backend this wharf cannot build or reach.",
    UnsupportedOnBackend = "unsupported-on-backend": "`plan` or `run`: a step needs what its backend does not do (a kind it does not run, S3 data on a local backend, a SageMaker-only setting).",
    InputNotFound = "input-not-found": "`plan` or `run`: a step reads a local input that does not exist.",
    UnusedParam = "unused-param": "A param is declared but never read (warning).",
    UnusedImport = "unused-import": "An import is never used (warning).",
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{name}");
            assert!(!code.summary().is_empty());
        }
    }
}
