//! `wharf runs`: the run history in `.wharf/state.db`, newest first.

use super::state::StateDb;
use crate::Outcome;
use crate::cli::{OutputFormat, RunsArgs};
use crate::render::history::{self, RunJson};

pub fn run(args: RunsArgs) -> anyhow::Result<Outcome> {
    let limit = args.limit as usize;
    let mut runs = match StateDb::open()? {
        // One more than asked, to tell whether there are more.
        Some(db) => db.runs(limit + 1)?,
        None => Vec::new(),
    };
    let more = runs.len() > limit;
    runs.truncate(limit);
    match args.format {
        OutputFormat::Json => {
            let list: Vec<RunJson> = runs.iter().map(RunJson::new).collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "runs": list }))?
            );
        }
        OutputFormat::Text if runs.is_empty() => {
            println!(
                "no runs yet: `wharf run PIPELINE` records its runs in {}/",
                crate::project::get().state_dir_shown()
            );
        }
        OutputFormat::Text => {
            print!("{}", history::runs_text(&runs));
            if more {
                eprintln!("(only the newest {limit} shown; `--limit N` shows more)");
            }
        }
    }
    Ok(Outcome::Success)
}
