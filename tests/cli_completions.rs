//! `wharf completions SHELL`: a script for each shell clap_complete knows,
//! naming the commands; bash's passes `bash -n`.

mod common;
use common::*;

#[test]
fn every_shell_gets_a_script_that_names_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = wharf().args(["completions", shell]).output().expect("runs");
        assert!(out.status.success(), "{shell}: {}", stderr_of(&out));
        let script = stdout_of(&out);
        for command in ["check", "run", "plan", "completions", "man"] {
            assert!(script.contains(command), "{shell} script lacks `{command}`");
        }
        // Values of `check --format` complete too (powershell and elvish
        // scripts complete flags, not their values).
        if ["bash", "zsh", "fish"].contains(&shell) {
            assert!(script.contains("sarif"), "{shell} script lacks `check --format sarif`");
        }
    }
}

#[test]
fn the_bash_script_is_valid_bash() {
    let out = wharf().args(["completions", "bash"]).output().expect("runs");
    assert!(out.status.success());
    let (_dir, path) = temp_file("wharf.bash", &stdout_of(&out));
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("bash runs");
    assert!(check.status.success(), "bash -n: {}", stderr_of(&check));
    // Sourcing it defines the completion function and registers it.
    let probe = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p wharf", path.display()))
        .output()
        .expect("bash runs");
    assert!(probe.status.success(), "{}", stderr_of(&probe));
    assert!(stdout_of(&probe).contains("wharf"), "{}", stdout_of(&probe));
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let out = wharf().args(["completions", "tcsh"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("possible values"), "{}", stderr_of(&out));
}
