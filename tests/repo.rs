//! The repository's promises to a newcomer: the README's two commands are
//! real, and CI runs the README's test command.

use std::path::PathBuf;

fn read(path: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)).expect("file exists")
}

/// The first shell block of the README: the run command, then the test command.
fn readme_commands() -> Vec<String> {
    let readme = read("README.md");
    let block = readme
        .split("```sh")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a ```sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

#[test]
fn readme_opens_with_two_commands_and_ci_runs_the_test_one() {
    let commands = readme_commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    let ci = read(".ci/run");
    let test_command = &commands[1];
    assert!(
        ci.lines().any(|l| l.trim().starts_with(test_command.as_str())),
        ".ci/run does not run the README's test command `{test_command}`"
    );
}

#[test]
fn the_readme_example_pipelines_exist() {
    let first = &readme_commands()[0];
    for word in first.split_whitespace().filter(|w| w.starts_with("pipelines")) {
        assert!(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(word).exists(), "{word}");
    }
}
