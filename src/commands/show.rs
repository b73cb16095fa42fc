//! `wharf show`: one recorded run, its header and its steps.

use super::state::StateDb;
use crate::Outcome;
use crate::cli::{OutputFormat, ShowArgs};
use crate::render::history;

pub fn run(args: ShowArgs) -> anyhow::Result<Outcome> {
    let db = StateDb::open_required()?;
    let run = db.find_run(&args.run)?;
    let steps = db.steps(&run.id)?;
    match args.format {
        OutputFormat::Text => print!("{}", history::show_text(&run, &steps)),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&history::show_json(&run, &steps))?),
    }
    Ok(Outcome::Success)
}
