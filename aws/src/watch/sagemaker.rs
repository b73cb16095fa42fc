//! The watcher's List calls against SageMaker: `ListProcessingJobs` and
//! `ListTrainingJobs`, a page of summaries at a time.

use super::{ListKind, Lister, Page, Summary};
use aws_sdk_sagemaker::Client;
use std::time::SystemTime;
use wharf_runtime::backend::BoxFuture;

/// SageMaker's largest page.
const PAGE: i32 = 100;

/// The real lister: SageMaker's List*Jobs.
pub struct SagemakerLister(pub Client);

impl Lister for SagemakerLister {
    fn list(
        &self,
        kind: ListKind,
        contains: &str,
        after: Option<SystemTime>,
        token: Option<String>,
    ) -> BoxFuture<'_, Result<Page, (bool, String)>> {
        let contains = contains.to_string();
        Box::pin(async move {
            let after = after.map(aws_smithy_types::DateTime::from);
            match kind {
                ListKind::Processing => {
                    let out = self
                        .0
                        .list_processing_jobs()
                        .name_contains(contains)
                        .set_last_modified_time_after(after)
                        .set_next_token(token)
                        .max_results(PAGE)
                        .send()
                        .await
                        .map_err(|e| crate::jobs::classify(&e))?;
                    let jobs = out
                        .processing_job_summaries()
                        .iter()
                        .filter_map(|s| {
                            Some(Summary {
                                name: s.processing_job_name()?.to_string(),
                                status: s.processing_job_status()?.as_str().to_string(),
                            })
                        })
                        .collect();
                    Ok((jobs, out.next_token().map(str::to_string)))
                }
                ListKind::Training => {
                    let out = self
                        .0
                        .list_training_jobs()
                        .name_contains(contains)
                        .set_last_modified_time_after(after)
                        .set_next_token(token)
                        .max_results(PAGE)
                        .send()
                        .await
                        .map_err(|e| crate::jobs::classify(&e))?;
                    let jobs = out
                        .training_job_summaries()
                        .iter()
                        .filter_map(|s| {
                            Some(Summary {
                                name: s.training_job_name()?.to_string(),
                                status: s.training_job_status()?.as_str().to_string(),
                            })
                        })
                        .collect();
                    Ok((jobs, out.next_token().map(str::to_string)))
                }
            }
        })
    }
}
