//! Puts the commit into `caisson --version`: `CAISSON_VERSION` is
//! `<package version> (<commit>)`. The commit comes from `git rev-parse`
//! when the crate is built inside a git checkout, else from
//! `CAISSON_GIT_COMMIT` (a source tarball, a vendored build), else
//! `unknown`. Only the binary crate reruns this, when HEAD or the branch
//! it points at moves.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CAISSON_GIT_COMMIT");
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    if commit.is_some() {
        // HEAD (a worktree's own), the ref it names, and packed-refs.
        if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
            let dir = PathBuf::from(dir);
            println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
            if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                if let Some(common) =
                    git(&["rev-parse", "--path-format=absolute", "--git-common-dir"])
                {
                    let common = PathBuf::from(common);
                    println!("cargo:rerun-if-changed={}", common.join(&r).display());
                    println!(
                        "cargo:rerun-if-changed={}",
                        common.join("packed-refs").display()
                    );
                }
            }
        }
    }
    let commit = commit
        .or_else(|| {
            std::env::var("CAISSON_GIT_COMMIT")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    println!("cargo:rustc-env=CAISSON_VERSION={version} ({commit})");
    println!("cargo:rustc-env=CAISSON_GIT_COMMIT={commit}");
}
