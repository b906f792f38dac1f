//! Shared pieces of the differential tests: version generators (proptest
//! strategies driven by a fixed seed) and a batch runner for oracle processes.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Where an oracle or its build output may live (outside the repository).
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("CAISSON_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/caisson")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("oracles")
}

pub fn oracle_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/oracles")
        .join(name)
}

/// Where `scripts/fixtures` keeps its images (`$CAISSON_FIXTURES`, else
/// `$CAISSON_CACHE/fixtures`, else `~/.cache/caisson/fixtures`).
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CAISSON_FIXTURES") {
        return PathBuf::from(dir);
    }
    std::env::var_os("CAISSON_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/caisson")))
        .unwrap_or_else(std::env::temp_dir)
        .join("fixtures")
}

/// True if the oracle can run; otherwise fails under CI and skips locally.
pub fn require(tool: &str, available: bool) -> bool {
    require_from(tool, available, "scripts/deps.d/version.sh")
}

/// Like [`require`], naming the script that provides the oracle.
pub fn require_from(tool: &str, available: bool, provider: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "oracle {tool} is missing under CI; {provider} provides it"
    );
    caisson_testsupport::skip(&format!("oracle {tool} is not available (run {provider})"));
    false
}

pub fn has_cmd(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Feeds every pair to one oracle process (`A\tB` per line) and returns one
/// answer per pair.
pub fn run_oracle(mut cmd: Command, pairs: &[(String, String)]) -> Vec<String> {
    let mut input = String::new();
    for (a, b) in pairs {
        input.push_str(a);
        input.push('\t');
        input.push_str(b);
        input.push('\n');
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning oracle {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("oracle stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("waiting for oracle");
    writer
        .join()
        .expect("writer thread")
        .expect("writing to oracle");
    assert!(
        out.status.success(),
        "oracle {cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        answers.len(),
        pairs.len(),
        "oracle {cmd:?} answered a different number of lines"
    );
    answers
}

/// Renders our answer in the oracles' vocabulary.
pub fn ours(result: Result<std::cmp::Ordering, caisson_version::VersionError>) -> &'static str {
    match result {
        Ok(std::cmp::Ordering::Less) => "<",
        Ok(std::cmp::Ordering::Equal) => "=",
        Ok(std::cmp::Ordering::Greater) => ">",
        Err(_) => "error",
    }
}

/// Compares every answer and reports all disagreements at once.
pub fn assert_agree(eco: &str, pairs: &[(String, String)], expected: &[String], got: &[&str]) {
    let mut bad = Vec::new();
    for ((pair, want), have) in pairs.iter().zip(expected).zip(got) {
        if want != have {
            bad.push(format!(
                "  {:?} vs {:?}: oracle {want}, ours {have}",
                pair.0, pair.1
            ));
        }
    }
    let agreeing_valid = expected.iter().filter(|e| *e != "error").count();
    eprintln!(
        "{eco}: {} pairs, {agreeing_valid} comparable per the oracle, {} disagreements",
        pairs.len(),
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "{eco}: {} of {} pairs disagree with the oracle:\n{}",
        bad.len(),
        pairs.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

fn runner(seed: u8) -> TestRunner {
    let mut key = [0u8; 32];
    key[0] = seed;
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &key),
    )
}

/// Adversarial strings: concatenations of tokens that matter to the scheme.
pub fn soup(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(tokens), 1..=max).prop_map(|v| v.concat())
}

/// Draws `n` values from `strategy` with a fixed seed.
pub fn sample<S: Strategy>(strategy: S, n: usize, seed: u8) -> Vec<S::Value> {
    let mut r = runner(seed);
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut r)
                .expect("generating a value")
                .current()
        })
        .collect()
}

/// Pairs from a pool: random pairs, each version with itself, and each with a
/// near neighbour so that equal and almost-equal comparisons are common.
pub fn pairs(
    pool: &[String],
    n: usize,
    seed: u8,
    hand_picked: &[(&str, &str)],
) -> Vec<(String, String)> {
    let idx = sample(
        (0..pool.len(), 0..pool.len(), 0..4u8),
        n,
        seed.wrapping_add(100),
    );
    let mut out: Vec<(String, String)> = hand_picked
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    for (i, j, kind) in idx {
        let (a, b) = (&pool[i], &pool[j]);
        out.push(match kind {
            0 => (a.clone(), a.clone()),
            1 => (
                a.clone(),
                format!("{a}{}", b.chars().take(2).collect::<String>()),
            ),
            _ => (a.clone(), b.clone()),
        });
    }
    out.retain(|(a, b)| !a.contains(['\t', '\n']) && !b.contains(['\t', '\n']));
    out
}
