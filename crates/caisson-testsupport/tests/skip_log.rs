//! `skip` records each skip in `$CAISSON_SKIP_LOG` for scripts/test's
//! summary. One test in this binary: it sets the variable for the process.
#![allow(clippy::unwrap_used)]

#[test]
fn a_skip_appends_the_test_and_its_reason_to_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("skips.log");
    std::fs::write(&log, "earlier binary earlier_test\tolder reason\n").unwrap();
    std::env::set_var(caisson_testsupport::SKIP_LOG_VAR, &log);
    caisson_testsupport::skip("skopeo is not installed;\tnewline\nhere");
    std::thread::Builder::new()
        .name("module::named_test".into())
        .spawn(|| caisson_testsupport::skip("second"))
        .unwrap()
        .join()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "earlier binary earlier_test\tolder reason");
    // The binary's name without cargo's hash, the test (thread) name, a tab,
    // the reason on one line.
    assert_eq!(
        lines[1],
        "skip_log a_skip_appends_the_test_and_its_reason_to_the_log\tskopeo is not installed; newline here"
    );
    assert_eq!(lines[2], "skip_log module::named_test\tsecond");
}
