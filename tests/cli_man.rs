//! `wharf man`: a roff page for wharf on stdout, one page per command with
//! `-o DIR`; groff renders them (when it is installed) without warnings.

mod common;
use common::*;

/// The commands `wharf --help` lists (without `help`).
fn commands() -> Vec<String> {
    let out = wharf().arg("--help").output().expect("runs");
    stdout_of(&out)
        .lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// groff's rendering of a page as text, or `None` without groff.
fn groff(page: &std::path::Path) -> Option<String> {
    let out = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(page)
        .output()
        .ok()?;
    // `-z` renders and discards: what is left on stderr is groff's warnings.
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "groff warns about {}:\n{}",
        page.display(),
        stderr_of(&out)
    );
    // Plain text: no escape sequences, no overstriking for bold.
    let out = std::process::Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou"])
        .arg(page)
        .output()
        .expect("groff ran once already");
    Some(stdout_of(&out))
}

#[test]
fn the_page_names_every_command_and_renders() {
    let out = wharf().arg("man").output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let page = stdout_of(&out);
    assert!(
        page.contains(&format!(
            "\n.TH WHARF 1 \"\" \"wharf {}\" \"Wharf Manual\"\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{page}"
    );
    let commands = commands();
    assert!(commands.len() >= 13, "{commands:?}");
    for command in &commands {
        assert!(
            page.contains(&format!("wharf\\-{command}")),
            "the page lacks `{command}`"
        );
    }
    let (_dir, path) = temp_file("wharf.1", &page);
    match groff(&path) {
        Some(text) => {
            assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{text}");
            for command in &commands {
                assert!(
                    text.contains(&format!("wharf-{command}")),
                    "rendered page lacks `{command}`:\n{text}"
                );
            }
        }
        None => eprintln!("\n*** groff is not installed: the page was not rendered ***\n"),
    }
}

#[test]
fn output_folder_gets_one_page_per_command() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let target = dir.path().join("man1");
    let out = wharf().arg("man").arg("-o").arg(&target).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let listed: Vec<String> = stdout_of(&out).lines().map(str::to_string).collect();
    let mut expected = vec!["wharf.1".to_string()];
    expected.extend(commands().iter().map(|c| format!("wharf-{c}.1")));
    expected.push("wharf-endpoints-stop.1".to_string());
    for name in &expected {
        let path = target.join(name);
        assert!(path.is_file(), "{name} not written; wrote {listed:?}");
        assert!(
            listed.contains(&path.display().to_string()),
            "{name} not listed: {listed:?}"
        );
        let page = std::fs::read_to_string(&path).expect("readable");
        assert!(page.contains(".TH "), "{name}: {page}");
        if let Some(text) = groff(&path) {
            assert!(text.contains("SYNOPSIS"), "{name}: {text}");
        }
    }
    assert_eq!(listed.len(), expected.len(), "{listed:?}");
}
