//! `wharf man`: man pages in roff, generated from the clap definition
//! (src/cli.rs) as `--help` is: `wharf.1` on stdout, or with `-o DIR` one
//! page per command (`wharf-check.1`, `wharf-endpoints-stop.1`, ...).

use crate::Outcome;
use crate::cli::{Cli, ManArgs};
use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

pub fn run(args: ManArgs) -> anyhow::Result<Outcome> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    match args.output {
        None => {
            let mut page = Vec::new();
            page_of(command).render(&mut page)?;
            std::io::stdout().lock().write_all(&page)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
            let mut stdout = std::io::stdout().lock();
            for path in write_pages(command, &dir)? {
                writeln!(stdout, "{}", path.display())?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// The page of `command` and of each of its subcommands, parents first;
/// the paths written.
fn write_pages(command: clap::Command, dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut written = vec![
        page_of(command.clone())
            .generate_to(dir)
            .with_context(|| format!("cannot write a man page into `{}`", dir.display()))?,
    ];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        written.extend(write_pages(sub.clone(), dir)?);
    }
    Ok(written)
}

/// A command's page: its title in capitals as man pages have them, wharf
/// and its version as the source of every page.
fn page_of(command: clap::Command) -> clap_mangen::Man {
    let title = command.get_display_name().unwrap_or(command.get_name()).to_uppercase();
    clap_mangen::Man::new(command)
        .title(title)
        // No date, written as roff's empty argument: an empty string is
        // left out of `.TH`, and the source would be read as the date.
        .date("\"\"")
        .source(format!("wharf {}", env!("CARGO_PKG_VERSION")))
        .manual("Wharf Manual")
}
