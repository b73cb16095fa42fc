//! `wharf fmt`: rewrite files in the canonical style (comments kept), or with
//! `--check` list the files that are not (and with `--diff` what would change).

use super::collect_files;
use crate::Outcome;
use crate::cli::FmtArgs;
use crate::render::diagnostics;
use wharf_compiler::source::{SourceFile, SourceMap};

pub fn run(args: FmtArgs) -> anyhow::Result<Outcome> {
    let files = collect_files(&args.paths)?;
    if args.stdout && files.len() != 1 {
        anyhow::bail!("--stdout formats exactly one file; {} were given", files.len());
    }
    let mut unformatted = 0;
    let mut broken = 0;
    for file in &files {
        let text =
            std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", file.display()))?;
        let formatted = match wharf_compiler::syntax::format::format(&text) {
            Ok(f) => f,
            Err(diags) => {
                broken += 1;
                let mut sources = SourceMap::default();
                sources.add(SourceFile::new(file.display().to_string(), text));
                let stderr = std::io::stderr();
                diagnostics::write_text(
                    &mut stderr.lock(),
                    &sources,
                    &diags.sorted(),
                    diagnostics::stderr_color(),
                )?;
                continue;
            }
        };
        if args.stdout {
            print!("{formatted}");
        } else if formatted != text {
            unformatted += 1;
            if args.check && args.diff {
                // The diff's header names the file; the output stays a patch.
                print!("{}", unified_diff(file, &text, &formatted));
            } else if args.check {
                println!("{}", file.display());
            } else {
                write_atomically(file, &formatted)?;
                eprintln!("formatted {}", file.display());
            }
        }
    }
    if broken > 0 {
        eprintln!("error: {broken} file(s) do not parse and were left as they are");
        return Ok(Outcome::Unusable);
    }
    if args.check && unformatted > 0 {
        eprintln!("{unformatted} file(s) need formatting; run `wharf fmt` to fix");
        return Ok(Outcome::Findings);
    }
    Ok(Outcome::Success)
}

/// What formatting would change in `file`, as `diff -u` prints it (three
/// lines of context, the file's path on both header lines, so that
/// `patch -p0` applies it), for CI's log to show the fix and not only the file.
fn unified_diff(file: &std::path::Path, text: &str, formatted: &str) -> String {
    let name = file.display().to_string();
    let mut out = similar::TextDiff::from_lines(text, formatted)
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .missing_newline_hint(true)
        .to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// Writes next to the file and renames over it, so an interrupted `fmt`
/// never leaves a half-written pipeline.
fn write_atomically(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("pipeline.wharf");
    let tmp = path.with_file_name(format!(".{name}.wharf-fmt.tmp"));
    std::fs::write(&tmp, text).map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow::anyhow!("cannot replace `{}`: {e}", path.display())
    })
}
