//! The real advisory snapshots in `shared/data` (OSV zips per ecosystem,
//! Alpine secdb), and deterministic sampling helpers for tests that draw
//! package versions from them.

use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

/// Where the shared advisory data lives: `$CAISSON_ADVISORY_DATA`, else
/// `shared/data` beside the workspace (CI), else `/work/shared/data`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CAISSON_ADVISORY_DATA") {
        return PathBuf::from(d);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // crates/caisson-testsupport → workspace → its parent holds shared/ (CI).
    for cand in [
        here.join("../../../shared/data"),
        PathBuf::from("/work/shared/data"),
    ] {
        if cand.join("README.md").exists() {
            return cand;
        }
    }
    panic!("advisory data not found: set CAISSON_ADVISORY_DATA to shared/data");
}

/// Every record of `osv/<ecosystem>/all.zip`, raw.
pub fn osv_zip(ecosystem: &str) -> Vec<Value> {
    let path = data_dir().join("osv").join(ecosystem).join("all.zip");
    let file = fs_err::File::open(&path).expect("OSV zip opens");
    let mut zip = zip::ZipArchive::new(file).expect("OSV zip reads");
    let mut out = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).expect("zip entry");
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("zip entry is UTF-8");
        out.push(serde_json::from_str(&text).expect("record is JSON"));
    }
    out
}

/// Versions just below and just above `v`: its last number minus and plus one.
pub fn neighbours(v: &str) -> Vec<String> {
    let Some(end) = v.bytes().rposition(|b| b.is_ascii_digit()) else {
        return vec![];
    };
    let start = v
        .bytes()
        .take(end)
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let (Some(head), Some(digits), Some(tail)) =
        (v.get(..start), v.get(start..=end), v.get(end + 1..))
    else {
        return vec![];
    };
    let Ok(n) = digits.parse::<u64>() else {
        return vec![];
    };
    let mut out = vec![format!("{head}{}{tail}", n + 1)];
    if n > 0 {
        out.push(format!("{head}{}{tail}", n - 1));
    }
    out
}

/// A cheap stable hash for deterministic sampling.
pub fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}
