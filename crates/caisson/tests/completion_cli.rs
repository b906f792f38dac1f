//! `caisson --version` carries the commit; `caisson completion` scripts load
//! in their shells; `caisson man` renders with groff.

use std::process::{Command, Stdio};

use caisson_testsupport::{have_tools, run};

const BIN: &str = env!("CARGO_BIN_EXE_caisson");

#[test]
fn version_names_the_commit_it_was_built_from() {
    let out = String::from_utf8(run(Command::new(BIN).arg("--version"))).expect("utf8");
    assert!(
        out.starts_with(&format!("caisson {} (", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    // Built inside this checkout, so git knows the commit; a test binary
    // built before the last commit is reported as such, not silently passed.
    let head = Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .expect("git");
    if head.status.success() {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert!(
            out.contains(&format!("({head})")),
            "{out} is not from HEAD {head}"
        );
    }
}

#[test]
fn bash_completion_completes_subcommands() {
    if !have_tools(&["bash"]) {
        return;
    }
    let script = run(Command::new(BIN).args(["completion", "bash"]));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("caisson.bash");
    fs_err::write(&file, script).expect("write");
    // Load it and ask the completion function for `caisson dep<TAB>`.
    let probe = format!(
        "source {}; COMP_WORDS=(caisson dep); COMP_CWORD=1; COMP_LINE='caisson dep'; COMP_POINT=11; \
         _caisson caisson dep caisson; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = String::from_utf8(run(Command::new("bash")
        .args(["--norc", "-c", &probe])
        .stdin(Stdio::null())))
    .expect("utf8");
    assert_eq!(out.trim(), "deploy", "{out}");
}

#[test]
fn zsh_and_fish_scripts_name_the_command_and_man_renders() {
    let zsh = String::from_utf8(run(Command::new(BIN).args(["completion", "zsh"]))).expect("utf8");
    assert!(
        zsh.starts_with("#compdef caisson"),
        "{}",
        &zsh[..zsh.len().min(80)]
    );
    let fish =
        String::from_utf8(run(Command::new(BIN).args(["completion", "fish"]))).expect("utf8");
    assert!(fish.contains("complete -c caisson") && fish.contains("deploy"));
    let bad = Command::new(BIN)
        .args(["completion", "tcsh"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));

    let dir = tempfile::tempdir().expect("tempdir");
    run(Command::new(BIN).args(["man", "--out-dir"]).arg(dir.path()));
    for page in ["caisson.1", "caisson-deploy.1", "caisson-serve.1"] {
        assert!(dir.path().join(page).is_file(), "{page} missing");
    }
    if have_tools(&["groff"]) {
        let text = String::from_utf8(run(Command::new("groff")
            .args(["-man", "-Tutf8"])
            .arg(dir.path().join("caisson.1"))))
        .expect("utf8");
        assert!(
            text.contains("deploy") && text.contains("completion"),
            "{text}"
        );
    }
}
