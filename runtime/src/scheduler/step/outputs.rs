//! A step's outputs once an attempt succeeded: each one checked and hashed
//! (with the file list a later cache hit checks by `stat`), exported where
//! the step says, and described as artifact records.

use super::StepTask;
use crate::decide;
use crate::scheduler::Produced;
use crate::state::ArtifactRecord;
use wharf_compiler::pipeline::OutputShape;

impl StepTask {
    pub(super) fn artifacts(&self, produced: &Produced) -> Vec<ArtifactRecord> {
        produced
            .dirs
            .iter()
            .map(|(output, dir)| ArtifactRecord {
                run: self.run.clone(),
                step: self.step.name.clone(),
                output: output.clone(),
                uri: self.artifacts.uri_for(dir),
                // The content's bytes, not the folder entry's own size.
                size: crate::hash::content_size(dir).unwrap_or(0),
                hash: produced.hashes.get(output).cloned().unwrap_or_default(),
                file: self.step.output(output).and_then(|o| match &o.shape {
                    OutputShape::File { name } => Some(name.clone()),
                    OutputShape::Dir => None,
                }),
            })
            .collect()
    }

    /// Copies outputs declared with a path (`outputs { report = "reports/" }`)
    /// there, relative to the pipeline's folder, where `export` allows it
    /// (inside the folder, never over a folder wharf did not export).
    pub(super) async fn export_outputs(&self, produced: &Produced) -> Result<(), String> {
        for output in &self.step.outputs {
            let (Some(dest), Some(dir)) = (&output.export, produced.dirs.get(&output.name)) else {
                continue;
            };
            // An `s3://` export is no local path (the plan refuses it off
            // SageMaker); copying it to a folder named `s3:` helps nobody.
            if !wharf_compiler::export_path::is_local_export(dest) {
                continue;
            }
            let mark = crate::export::ExportMark {
                pipeline: self.pipeline.clone(),
                step: self.step.name.clone(),
                output: output.name.clone(),
                run: self.run.clone(),
            };
            let (project, state, dest2, from) = (
                self.project_dir.clone(),
                self.layout.root().to_path_buf(),
                dest.clone(),
                dir.clone(),
            );
            tokio::task::spawn_blocking(move || {
                crate::export::export_output(&project, Some(&state), &dest2, &from, &mark)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot export output `{}` to {dest}: {e}", output.name))?;
        }
        Ok(())
    }

    /// Checks that every declared output was produced, and hashes it.
    pub(super) async fn collect_outputs(&self, attempt: u32) -> Result<Produced, String> {
        let work_dir = self.layout.attempt_dir(&self.run, &self.step.name, attempt);
        let mut produced = Produced::default();
        for output in &self.step.outputs {
            let dir = work_dir.join("outputs").join(&output.name);
            let present = match &output.shape {
                OutputShape::File { name } => dir.join(name).is_file(),
                // A kind's own folder (a train step's `output`) may stay
                // empty, as SageMaker's output.tar.gz may; a declared one may not.
                OutputShape::Dir if output.implicit => dir.is_dir(),
                OutputShape::Dir => std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()),
            };
            if !present {
                let what = match &output.shape {
                    OutputShape::File { name } => format!("the file {name}"),
                    OutputShape::Dir => "anything".to_string(),
                };
                return Err(format!(
                    "it did not produce output `{}`: nothing wrote {what} to {}",
                    output.name,
                    dir.display()
                ));
            }
            // The content hash, and the list of files a later cache hit
            // checks by `stat` (see `decide::manifest`): the list takes the
            // digests the hash just made, so each file is read once.
            let hashed = dir.clone();
            let (hash, files) = tokio::task::spawn_blocking(move || {
                let (hash, digests) = crate::hash::hash_path_digests(&hashed)?;
                Ok::<_, std::io::Error>((hash, decide::manifest::scan_with(&hashed, &digests)?))
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read output `{}`: {e}", output.name))?;
            produced.hashes.insert(output.name.clone(), hash.hex);
            produced.files.insert(output.name.clone(), files);
            produced.dirs.insert(output.name.clone(), dir);
        }
        Ok(produced)
    }
}
