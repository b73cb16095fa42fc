//! An attempt's inputs as S3 prefixes: uploaded by content, packed as
//! `model.tar.gz` where a served model must be one, or read where an
//! earlier job of this run wrote them.

use super::session::{Inner, Origin};
use crate::step_log::Log;
use wharf_compiler::pipeline::KindSpec;
use wharf_compiler::types::StepKind;
use wharf_runtime::backend::Attempt;
use wharf_runtime::size::human_bytes;

/// Uploads the attempt's local inputs (content-addressed: unchanged data is
/// not sent again, and of a changed folder only the changed files are) and returns each as (name, S3 prefix, file name when the
/// input is one file). A model a `transform` or `deploy` step serves is
/// packed as the `model.tar.gz` SageMaker expects (a multi-model endpoint's
/// folder of archives goes as it is); a monitor's `endpoint` record is read
/// here, not uploaded.
pub(super) async fn upload_inputs(
    inner: &Inner,
    attempt: &Attempt,
    log: &Log,
) -> Result<Vec<(String, String, Option<String>)>, String> {
    let multi_model = matches!(attempt.spec, KindSpec::Deploy { multi_model: true, .. });
    let mut uploaded = Vec::new();
    for (name, path) in &attempt.inputs {
        if attempt.kind == StepKind::Monitor && name == "endpoint" {
            continue;
        }
        let text = path.to_string_lossy();
        if let Some(rest) = text.strip_prefix("s3://") {
            // An archive named directly is a file input; anything else a prefix.
            let (prefix, file) = match rest.rsplit_once('/') {
                Some((dir, file)) if file.ends_with(".tar.gz") => (format!("s3://{dir}"), Some(file.to_string())),
                _ => (text.to_string(), None),
            };
            uploaded.push((name.clone(), prefix, file));
            continue;
        }
        // The output of an earlier SageMaker job of this run: read where the
        // job wrote it rather than uploaded again.
        let origin = inner.origin(path).map(|o| (o, None)).or_else(|| {
            let parent = path.parent()?;
            match inner.origin(parent)? {
                Origin::Prefix(p) => Some((
                    Origin::Prefix(p),
                    path.file_name().map(|f| f.to_string_lossy().into_owned()),
                )),
                Origin::Archive(_) => None,
            }
        });
        let served = name == "model" && !multi_model && matches!(attempt.kind, StepKind::Transform | StepKind::Deploy);
        match origin {
            Some((Origin::Archive(uri), _)) if served => {
                log.line(format!("wharf: model `{name}` is the job's {uri}")).await;
                let (prefix, file) = uri.rsplit_once('/').unwrap_or((uri.as_str(), "model.tar.gz"));
                uploaded.push((name.clone(), format!("{prefix}/"), Some(file.to_string())));
                continue;
            }
            Some((Origin::Prefix(prefix), file)) if !served => {
                log.line(format!("wharf: input `{name}` is the job output at {prefix}"))
                    .await;
                uploaded.push((name.clone(), prefix, file));
                continue;
            }
            _ => {}
        }
        let packs_model = served && path.is_dir();
        if packs_model {
            let uri = inner
                .transfers
                .upload_model(path, &log.progress(format!("packing and uploading model `{name}`")))
                .await?;
            log.line(format!("wharf: model `{name}` is at {uri}")).await;
            let (prefix, file) = uri.rsplit_once('/').unwrap_or((uri.as_str(), "model.tar.gz"));
            uploaded.push((name.clone(), prefix.to_string(), Some(file.to_string())));
            continue;
        }
        let up = inner
            .transfers
            .upload(path, &log.progress(format!("uploading input `{name}`")))
            .await?;
        let file = path
            .is_file()
            .then(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .flatten();
        log.line(if up.skipped {
            format!(
                "wharf: input `{name}` is already at {} ({})",
                up.uri,
                human_bytes(up.bytes)
            )
        } else {
            format!(
                "wharf: uploaded input `{name}` to {} (sent {} files, {}; copied {} unchanged files, {}, within S3)",
                up.uri,
                up.uploaded_files,
                human_bytes(up.uploaded_bytes),
                up.copied_files,
                human_bytes(up.copied_bytes)
            )
        })
        .await;
        // The prefix keeps its trailing `/`: without it, S3Prefix would also
        // match the `<hash>.complete` manifest beside the folder.
        uploaded.push((name.clone(), up.uri, file));
    }
    Ok(uploaded)
}
