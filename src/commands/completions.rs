//! `wharf completions SHELL`: the shell's completion script for every
//! command and flag, generated from the same clap definition that parses
//! them (src/cli.rs), so it never falls behind.

use crate::Outcome;
use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;
use std::io::Write;

pub fn run(args: CompletionsArgs) -> anyhow::Result<Outcome> {
    // clap_complete panics on a failed write (`| head`): render to memory,
    // then write as any command writes its result.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "wharf", &mut script);
    std::io::stdout().lock().write_all(&script)?;
    Ok(Outcome::Success)
}
