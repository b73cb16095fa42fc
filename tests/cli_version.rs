//! `wharf --version`, and `--help` on every command clap knows (read from
//! `wharf --help`, so a new command is checked without listing it here).

mod common;
use common::*;

#[test]
fn version_prints_the_crate_version() {
    let out = wharf().arg("--version").output().expect("runs");
    assert!(out.status.success());
    assert_eq!(stdout_of(&out).trim(), format!("wharf {}", env!("CARGO_PKG_VERSION")));
}

/// The subcommands a `--help` lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_command_has_help() {
    let out = wharf().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let commands = subcommands(&stdout_of(&out));
    assert!(
        commands.len() >= 11 && commands.iter().any(|c| c == "endpoints"),
        "clap's list of commands, read from `wharf --help`: {commands:?}"
    );
    for command in &commands {
        let out = wharf().args([command, "--help"]).output().expect("runs");
        assert!(out.status.success(), "{command} --help");
        let help = stdout_of(&out);
        assert!(
            help.contains(&format!("Usage: wharf {command}")) && help.contains("Exit codes"),
            "{command}: {help}"
        );
        // A command's own subcommands (`endpoints stop`) have help too.
        for sub in subcommands(&help) {
            let out = wharf().args([command, &sub, "--help"]).output().expect("runs");
            assert!(out.status.success(), "{command} {sub} --help");
            assert!(
                stdout_of(&out).contains(&format!("Usage: wharf {command} {sub}")),
                "{command} {sub}: {}",
                stdout_of(&out)
            );
        }
    }
    let out = wharf().output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
}
