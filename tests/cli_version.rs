//! `wharf --version` and `--help` on every command.

mod common;
use common::*;

#[test]
fn version_prints_the_crate_version() {
    let out = wharf().arg("--version").output().expect("runs");
    assert!(out.status.success());
    assert_eq!(stdout_of(&out).trim(), format!("wharf {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn every_command_has_help() {
    for command in ["check", "fmt", "plan", "graph", "runs", "show", "logs"] {
        let out = wharf().args([command, "--help"]).output().expect("runs");
        assert!(out.status.success(), "{command} --help");
        let help = stdout_of(&out);
        assert!(
            help.contains("Usage: wharf") && help.contains("Exit codes"),
            "{command}: {help}"
        );
    }
    let out = wharf().output().expect("runs");
    assert_eq!(out.status.code(), Some(2), "no command is a usage error");
}
