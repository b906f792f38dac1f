//! `caisson version compare`: output, exit codes and `--stdin` mode.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn caisson(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning caisson");
    let mut pipe = child.stdin.take().expect("stdin");
    let input = stdin.unwrap_or_default().to_owned();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("waiting for caisson");
    // A command that fails before reading its input closes the pipe: that
    // is its business (the exit code is checked), not a test failure.
    match writer.join().expect("writer") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.expect("writing stdin"),
    }
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn compare_prints_one_symbol_and_exits_zero() {
    for (eco, a, b, want) in [
        ("Debian", "1.0~rc1", "1.0", "<\n"),
        ("Ubuntu", "1:0.1", "2.0", ">\n"),
        ("PyPI", "1.0", "1.0.0", "=\n"),
        ("Red Hat", "1.0^git1", "1.0", ">\n"),
        ("Maven", "1-SNAPSHOT", "1", "<\n"),
        ("Alpine", "1.0_rc1-r0", "1.1", "<\n"),
        ("npm", "1.0.0-alpha", "1.0.0", "<\n"),
        ("Go", "v1.2.3+incompatible", "v1.2.3", "=\n"),
        ("Debian", "-0:1", "1", "=\n"),
    ] {
        let out = caisson(&["version", "compare", eco, a, b], None);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{eco} {a} {b}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout(&out), want, "{eco} {a} {b}");
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn unparseable_version_exits_two_with_error_on_stderr() {
    let out = caisson(
        &["version", "compare", "PyPI", "1.0", "not-a-version"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: ") && err.contains("not-a-version"),
        "{err}"
    );
}

#[test]
fn unknown_ecosystem_exits_two() {
    let out = caisson(&["version", "compare", "Nope", "1", "2"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
}

#[test]
fn stdin_mode_answers_every_line() {
    let input = "1.0 1.0.0\n2.0\t1.0\n  1.0a1   1.0  \nbad 1.0\nonly-one\n1 2 3\n";
    let out = caisson(&["version", "compare", "PyPI", "--stdin"], Some(input));
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<String> = stdout(&out).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    assert_eq!(&lines[..3], ["=", ">", "<"]);
    for l in &lines[3..] {
        assert!(l.starts_with("error: "), "{l}");
    }
}

#[test]
fn stdin_mode_handles_a_large_batch() {
    let mut input = String::new();
    for i in 0..20_000u32 {
        input.push_str(&format!("1.{i}-{} 1.{}-1\n", i % 7, i % 100));
    }
    let out = caisson(&["version", "compare", "Debian", "--stdin"], Some(&input));
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 20_000);
    assert!(text.lines().all(|l| matches!(l, "<" | "=" | ">")));
}
