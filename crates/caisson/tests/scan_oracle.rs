//! `caisson scan sbom:` against an independent evaluation of the real
//! advisory files (`shared/data`, imported with `caisson db import`).
//!
//! For each ecosystem, (package, version) pairs are drawn from the advisories
//! themselves (every event version, the versions just below and above it,
//! listed versions), and the expected findings are computed here by a
//! deliberately different, simple evaluation of the raw JSON: a version is in
//! a range when some `introduced` at or below it is not followed (at or after
//! it, and at or below the version) by a closing event. Versions are ordered
//! by the ecosystems' own implementations, not by `caisson-version`: PEP 440 by
//! `pep440_rs` (uv's), SemVer by Cargo's `semver` crate, Maven by Maven's own
//! `ComparableVersion` (Java), Alpine by `apk version -t` (apk-tools from the
//! Alpine fixture), reading the Alpine secdb files directly (`v < fixed`).
//! The production side is the whole CLI path: the feeds imported into a
//! database by `caisson db import`, the packages written as a CycloneDX SBOM,
//! `caisson scan sbom:<file> -f json`. Findings are compared exactly as sets
//! of (package, version, ids), where ids are the merged advisory ids and
//! aliases of one finding. A (package, version) pair whose evaluation meets a
//! version the tool rejects (`1.18.-r2` in the secdb, legacy PyPI versions)
//! is left out of both sides: the matcher orders those by OSV's fallback
//! rules, which `caisson-version`'s `tests/feeds.rs` checks on every such
//! string of the snapshots.

mod common;

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;

use caisson_model::{normalize_package_name, OsRelease, Package, PackageType, Sbom};
use caisson_testsupport::advisory_data::{data_dir, fnv, neighbours, osv_zip};
use caisson_testsupport::package;
use common::database;
use serde_json::Value;

type Cmp<'a> = &'a dyn Fn(&str, &str) -> Option<Ordering>;
type FindingKey = (String, String, Vec<String>);
/// A batch oracle: answers for each (a, b) pair, `None` when it rejects a version.
type BatchOracle<'a> = &'a dyn Fn(&[(String, String)]) -> Vec<Option<Ordering>>;

fn semver_cmp(a: &str, b: &str) -> Option<Ordering> {
    let p = |s: &str| semver::Version::parse(s.trim().strip_prefix('v').unwrap_or(s.trim())).ok();
    Some(p(a)?.cmp_precedence(&p(b)?))
}

fn pep440_cmp(a: &str, b: &str) -> Option<Ordering> {
    let p = |s: &str| pep440_rs::Version::from_str(s.trim()).ok();
    Some(p(a)?.cmp(&p(b)?))
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Is `v` inside one OSV range? `None` when some version cannot be ordered.
fn in_range(v: &str, events: &[Value], cmp: Cmp) -> Option<bool> {
    let mut intros = Vec::new();
    let mut closers = Vec::new(); // (version, closes when v >= (true) or v > (false))
    for e in events {
        if let Some(i) = e["introduced"].as_str() {
            intros.push(i);
        } else if let Some(f) = e["fixed"].as_str() {
            closers.push((f, true));
        } else if let Some(l) = e["last_affected"].as_str() {
            closers.push((l, false));
        } else if let Some(l) = e["limit"].as_str() {
            if l != "*" {
                closers.push((l, true));
            }
        }
    }
    // Every event version must be orderable against the version, as the matcher requires.
    for x in intros
        .iter()
        .filter(|i| **i != "0")
        .chain(closers.iter().map(|c| &c.0))
    {
        cmp(v, x)?;
    }
    let mut hit = false;
    for i in &intros {
        let opened = *i == "0" || cmp(v, i)?.is_ge();
        if !opened {
            continue;
        }
        let mut closed = false;
        for (c, inclusive) in &closers {
            let after_intro = *i == "0" || cmp(c, i)?.is_ge();
            let o = cmp(v, c)?;
            let closes = if *inclusive { o.is_ge() } else { o.is_gt() };
            closed |= after_intro && closes;
        }
        hit |= !closed;
    }
    Some(hit)
}

/// The ids a finding key carries for a (package, version) pair the tools
/// cannot judge: dropped from both sides by [`compare`].
const UNJUDGED: &str = "(unjudged: a version the tool rejects)";

/// The records affecting `name`@`v` in `eco`, merged by shared ids; only
/// [`UNJUDGED`] when some range of a record for the package meets a
/// version the tool rejects.
fn oracle(records: &[&Value], eco: &str, name: &str, v: &str, eco_cmp: Cmp) -> Vec<Vec<String>> {
    let norm = normalize_package_name(eco, name);
    let mut hits: Vec<BTreeSet<String>> = Vec::new();
    for r in records {
        if !r["withdrawn"].is_null() {
            continue;
        }
        let mut affected = false;
        for a in r["affected"].as_array().into_iter().flatten() {
            let p = &a["package"];
            if p["ecosystem"].as_str() != Some(eco)
                || normalize_package_name(eco, p["name"].as_str().unwrap_or("")) != norm
            {
                continue;
            }
            affected |= strs(&a["versions"])
                .iter()
                .any(|l| *l == v || eco_cmp(v, l) == Some(Ordering::Equal));
            for range in a["ranges"].as_array().into_iter().flatten() {
                let cmp: Cmp = match range["type"].as_str() {
                    Some("SEMVER") => &semver_cmp,
                    Some("ECOSYSTEM") => eco_cmp,
                    _ => continue,
                };
                let events = range["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                match in_range(v, events, cmp) {
                    Some(hit) => affected |= hit,
                    None => return vec![vec![UNJUDGED.to_string()]],
                }
            }
        }
        if affected {
            let mut ids: BTreeSet<String> = BTreeSet::new();
            ids.insert(r["id"].as_str().unwrap_or("").to_string());
            ids.extend(strs(&r["aliases"]).into_iter().map(String::from));
            hits.push(ids);
        }
    }
    merge_groups(hits)
}

/// Merges id sets that intersect until none do.
fn merge_groups(mut groups: Vec<BTreeSet<String>>) -> Vec<Vec<String>> {
    loop {
        let mut merged = false;
        'outer: for i in 0..groups.len() {
            for j in i + 1..groups.len() {
                if !groups[i].is_disjoint(&groups[j]) {
                    let g = groups.remove(j);
                    groups[i].extend(g);
                    merged = true;
                    break 'outer;
                }
            }
        }
        if !merged {
            break;
        }
    }
    groups
        .into_iter()
        .map(|g| g.into_iter().collect())
        .collect()
}

/// (package name, version) pairs drawn from the records, sampled deterministically.
/// `suffixes` add more versions around each event (pre-releases, qualifiers).
fn sample(records: &[&Value], eco: &str, max: usize, suffixes: &[&str]) -> Vec<(String, String)> {
    let mut pairs = BTreeSet::new();
    for r in records {
        for a in r["affected"].as_array().into_iter().flatten() {
            if a["package"]["ecosystem"].as_str() != Some(eco) {
                continue;
            }
            let name = a["package"]["name"].as_str().unwrap_or("").to_string();
            let mut versions: Vec<String> = Vec::new();
            for range in a["ranges"].as_array().into_iter().flatten() {
                if range["type"].as_str() == Some("GIT") {
                    continue;
                }
                for e in range["events"].as_array().into_iter().flatten() {
                    for (_, val) in e.as_object().into_iter().flatten() {
                        if let Some(s) = val.as_str().filter(|s| *s != "0" && *s != "*") {
                            versions.push(s.to_string());
                            versions.extend(neighbours(s));
                            versions.extend(suffixes.iter().map(|x| format!("{s}{x}")));
                        }
                    }
                }
            }
            let listed = strs(&a["versions"]);
            for i in [0, listed.len() / 2, listed.len().saturating_sub(1)] {
                if let Some(l) = listed.get(i) {
                    versions.push(l.to_string());
                }
            }
            for v in versions {
                pairs.insert((name.clone(), v));
            }
        }
    }
    let mut v: Vec<(String, String)> = pairs.into_iter().collect();
    v.sort_by_key(|(n, ver)| fnv(&format!("{n}@{ver}")));
    v.truncate(max);
    v.sort();
    v
}

/// Writes `packages` as a CycloneDX SBOM, scans it with `caisson scan
/// sbom:`, and returns the findings as (package, version without prefix, ids).
fn production(
    label: &str,
    os: Option<OsRelease>,
    packages: Vec<Package>,
    v_prefix: &str,
) -> BTreeSet<FindingKey> {
    let sbom = Sbom {
        os,
        packages,
        ..Sbom::default()
    };
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "scan-oracle-{}-{}.cdx.json",
        label.replace(':', "-"),
        std::process::id()
    ));
    let mut bytes = Vec::new();
    let opts = caisson_report::RenderOptions::new(&sbom, "2026-01-01T00:00:00Z", "test");
    caisson_report::write(
        caisson_report::Format::CycloneDxJson,
        &sbom,
        &opts,
        &mut bytes,
    )
    .expect("CycloneDX renders");
    fs_err::write(&file, bytes).expect("SBOM written");
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .arg("scan")
        .arg(format!("sbom:{}", file.display()))
        .arg("--db")
        .arg(database())
        .args(["-f", "json", "--max-db-age-days", "100000"])
        .output()
        .expect("caisson scan runs");
    assert!(
        out.status.success(),
        "caisson scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("scan JSON");
    report["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| {
            let mut ids: Vec<String> = strs(&f["aliases"]).into_iter().map(String::from).collect();
            ids.push(f["id"].as_str().expect("finding id").to_string());
            ids.sort();
            let v = f["installed_version"].as_str().expect("installed_version");
            (
                f["package_name"]
                    .as_str()
                    .expect("package_name")
                    .to_string(),
                v.strip_prefix(v_prefix).unwrap_or(v).to_string(),
                ids,
            )
        })
        .collect()
}

fn expected(
    records: &[&Value],
    eco: &str,
    pairs: &[(String, String)],
    eco_cmp: Cmp,
) -> BTreeSet<FindingKey> {
    let mut by_name: HashMap<String, Vec<&Value>> = HashMap::new();
    for r in records {
        let mut names: Vec<String> = r["affected"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["package"]["ecosystem"].as_str() == Some(eco))
            .map(|a| normalize_package_name(eco, a["package"]["name"].as_str().unwrap_or("")))
            .collect();
        names.sort();
        names.dedup();
        for n in names {
            by_name.entry(n).or_default().push(r);
        }
    }
    let mut out = BTreeSet::new();
    for (name, v) in pairs {
        let recs = by_name
            .get(&normalize_package_name(eco, name))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for ids in oracle(recs, eco, name, v, eco_cmp) {
            out.insert((name.clone(), v.clone(), ids));
        }
    }
    out
}

fn compare(eco: &str, pairs: usize, got: &BTreeSet<FindingKey>, want: &BTreeSet<FindingKey>) {
    let unjudged: BTreeSet<(&str, &str)> = want
        .iter()
        .filter(|(_, _, ids)| ids.iter().any(|i| i == UNJUDGED))
        .map(|(n, v, _)| (n.as_str(), v.as_str()))
        .collect();
    let judged = |set: &BTreeSet<FindingKey>| -> BTreeSet<FindingKey> {
        set.iter()
            .filter(|(n, v, _)| !unjudged.contains(&(n.as_str(), v.as_str())))
            .cloned()
            .collect()
    };
    let (got, want) = (&judged(got), &judged(want));
    eprintln!(
        "{eco}: {} pairs meet a version the tool rejects, left to caisson-version's feeds test",
        unjudged.len()
    );
    let pairs = pairs - unjudged.len();
    let missing: Vec<_> = want.difference(got).take(15).collect();
    let extra: Vec<_> = got.difference(want).take(15).collect();
    eprintln!(
        "{eco}: {pairs} (package, version) pairs, {} expected findings, {} found",
        want.len(),
        got.len()
    );
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{eco}: matcher disagrees with the independent evaluation\nmissing: {missing:#?}\nunexpected: {extra:#?}"
    );
    assert!(pairs >= 100, "{eco}: only {pairs} pairs sampled");
    assert!(!want.is_empty(), "{eco}: no findings expected at all");
}

fn language(eco: &str, ty: PackageType, max: usize, v_prefix: &str, eco_cmp: Cmp) {
    let records = osv_zip(eco);
    let refs: Vec<&Value> = records.iter().collect();
    let suffixes: &[&str] = if eco == "npm" {
        &["-rc.1", "-0", "+build.5"]
    } else {
        &[]
    };
    let pairs = sample(&refs, eco, max, suffixes);
    let packages = pairs
        .iter()
        .map(|(n, v)| package(ty, n, &format!("{v_prefix}{v}")))
        .collect();
    let got = production(eco, None, packages, v_prefix);
    let want = expected(&refs, eco, &pairs, eco_cmp);
    compare(eco, pairs.len(), &got, &want);
}

#[test]
fn pypi_matches_independent_evaluation() {
    language("PyPI", PackageType::Python, 1500, "", &pep440_cmp);
}

#[test]
fn go_matches_independent_evaluation() {
    // Installed Go module versions carry the `v` OSV's SEMVER strings omit.
    language("Go", PackageType::Golang, 1500, "v", &semver_cmp);
}

#[test]
fn crates_io_matches_independent_evaluation() {
    language("crates.io", PackageType::Cargo, 1500, "", &semver_cmp);
}

#[test]
fn npm_matches_independent_evaluation() {
    language("npm", PackageType::Npm, 1500, "", &semver_cmp);
}

/// Runs a batch oracle (`A\tB` lines in, `<`/`=`/`>`/`error` lines out) over
/// every comparison `eval` needs: a first pass records them, the second
/// answers from the oracle.
fn batched<T>(run: BatchOracle, eval: &dyn Fn(Cmp) -> T) -> T {
    let wanted: RefCell<BTreeSet<(String, String)>> = RefCell::default();
    let record = |a: &str, b: &str| {
        wanted.borrow_mut().insert((a.to_string(), b.to_string()));
        Some(Ordering::Equal)
    };
    eval(&record);
    let pairs: Vec<(String, String)> = wanted.into_inner().into_iter().collect();
    let answers = run(&pairs);
    assert_eq!(answers.len(), pairs.len(), "oracle answered every pair");
    let table: HashMap<(String, String), Option<Ordering>> =
        pairs.into_iter().zip(answers).collect();
    let lookup = |a: &str, b: &str| {
        table
            .get(&(a.to_string(), b.to_string()))
            .copied()
            .flatten()
    };
    eval(&lookup)
}

fn parse_answers(out: &[u8]) -> Vec<Option<Ordering>> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| match l.trim() {
            "<" => Some(Ordering::Less),
            "=" => Some(Ordering::Equal),
            ">" => Some(Ordering::Greater),
            _ => None,
        })
        .collect()
}

fn cache_dir() -> PathBuf {
    std::env::var_os("CAISSON_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/caisson")))
        .unwrap_or_else(std::env::temp_dir)
}

/// Fails under CI, skips locally, when an oracle is missing.
fn require(what: &str, ok: bool, provider: &str) -> bool {
    if ok {
        return true;
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "oracle {what} is missing under CI; {provider} provides it"
    );
    caisson_testsupport::skip(&format!("oracle {what} is not available (run {provider})"));
    false
}

fn feed(cmd: &mut Command, pairs: &[(String, String)]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("oracle starts");
    let mut input = String::new();
    for (a, b) in pairs {
        input.push_str(&format!("{a}\t{b}\n"));
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("oracle runs");
    writer
        .join()
        .expect("writer")
        .expect("oracle reads its input");
    assert!(out.status.success(), "oracle failed");
    out.stdout
}

#[test]
fn maven_matches_independent_evaluation() {
    let jar = std::path::Path::new("/usr/share/maven/lib/maven-artifact-3.x.jar");
    let ok = jar.exists()
        && Command::new("javac").arg("-version").output().is_ok()
        && Command::new("java").arg("-version").output().is_ok();
    if !require("maven-artifact jar + JDK", ok, "scripts/deps.d/match.sh") {
        return;
    }
    let classes = cache_dir().join("match-oracles/maven");
    fs_err::create_dir_all(&classes).expect("cache dir");
    // The same driver caisson-version's differential tests use.
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../caisson-version/tests/oracles/MavenOracle.java");
    let status = Command::new("javac")
        .arg("-cp")
        .arg(jar)
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .expect("javac runs");
    assert!(status.success(), "compiling MavenOracle failed");
    let run = |pairs: &[(String, String)]| {
        let cp = format!("{}:{}", classes.display(), jar.display());
        parse_answers(&feed(
            Command::new("java").arg("-cp").arg(cp).arg("MavenOracle"),
            pairs,
        ))
    };
    let records = osv_zip("Maven");
    let refs: Vec<&Value> = records.iter().collect();
    let pairs = sample(
        &refs,
        "Maven",
        1500,
        &["-SNAPSHOT", ".1", "-rc1", ".Final", "-alpha-1", ".0"],
    );
    let want = batched(&run, &|cmp| expected(&refs, "Maven", &pairs, cmp));
    let packages = pairs
        .iter()
        .map(|(n, v)| package(PackageType::Maven, n, v))
        .collect();
    let got = production("Maven", None, packages, "");
    compare("Maven", pairs.len(), &got, &want);
}

/// `CVE-2017-17434-1` → `CVE-2017-17434`; other ids unchanged.
fn secdb_id(token: &str) -> String {
    let parts: Vec<&str> = token.split('-').collect();
    match parts.as_slice() {
        ["CVE", year, num, _patch]
            if year.len() == 4 && num.bytes().all(|b| b.is_ascii_digit()) =>
        {
            format!("CVE-{year}-{num}")
        }
        _ => token.to_string(),
    }
}

#[test]
fn alpine_matches_independent_evaluation() {
    let rootfs = cache_dir().join("fixtures/alpine/rootfs");
    let loader = rootfs.join("lib/ld-musl-x86_64.so.1");
    let ok = loader.exists() && rootfs.join("sbin/apk").exists();
    if !require(
        "apk-tools (Alpine fixture rootfs)",
        ok,
        "scripts/fixtures --only alpine",
    ) {
        return;
    }
    let run = |pairs: &[(String, String)]| {
        pairs
            .iter()
            .map(|(a, b)| {
                let out = Command::new(&loader)
                    .arg("--library-path")
                    .arg(format!("{0}/lib:{0}/usr/lib", rootfs.display()))
                    .arg(rootfs.join("sbin/apk"))
                    .args(["version", "-t", "--", a, b])
                    .output()
                    .expect("apk runs");
                parse_answers(&out.stdout).into_iter().next().flatten()
            })
            .collect()
    };

    for release in ["v3.11", "v3.8"] {
        let dir = data_dir().join("alpine-secdb").join(release);
        let secdb: Vec<Value> = ["main.json", "community.json"]
            .iter()
            .map(|f| {
                let text = fs_err::read_to_string(dir.join(f)).expect("secdb file");
                serde_json::from_str(&text).expect("secdb JSON")
            })
            .collect();
        // Pairs: each package with every fixed version and its neighbours.
        let mut pairs = BTreeSet::new();
        for doc in &secdb {
            for p in doc["packages"].as_array().into_iter().flatten() {
                let name = p["pkg"]["name"].as_str().unwrap_or("").to_string();
                for fixed in p["pkg"]["secfixes"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    pairs.insert((name.clone(), fixed.clone()));
                    for n in neighbours(fixed) {
                        pairs.insert((name.clone(), n));
                    }
                }
            }
        }
        let mut pairs: Vec<(String, String)> = pairs.into_iter().collect();
        pairs.sort_by_key(|(n, v)| fnv(&format!("{n}@{v}")));
        pairs.truncate(400);

        // Expected, straight from secdb: affected by every secfix line whose fixed
        // version is above. A line may name several ids of one issue
        // (`CVE-2016-9377 CVE-2016-9378 XSA-196`): they are one finding. Ids
        // with a patch number (`CVE-2017-17434-1`, `-2`) name the CVE.
        let eval = |cmp: Cmp| -> BTreeSet<FindingKey> {
            let mut out = BTreeSet::new();
            for (name, v) in &pairs {
                let mut groups: Vec<BTreeSet<String>> = Vec::new();
                let mut unjudged = false;
                for doc in &secdb {
                    for p in doc["packages"].as_array().into_iter().flatten() {
                        if p["pkg"]["name"].as_str() != Some(name) {
                            continue;
                        }
                        for (fixed, lines) in p["pkg"]["secfixes"].as_object().into_iter().flatten()
                        {
                            let order = cmp(v, fixed);
                            if order.is_none() && fixed != "0" {
                                unjudged = true;
                            }
                            if order == Some(Ordering::Less) {
                                groups.extend(
                                    strs(lines)
                                        .iter()
                                        .map(|l| l.split_whitespace().map(secdb_id).collect())
                                        .filter(|g: &BTreeSet<String>| !g.is_empty()),
                                );
                            }
                        }
                    }
                }
                if unjudged {
                    out.insert((name.clone(), v.clone(), vec![UNJUDGED.to_string()]));
                    continue;
                }
                for ids in merge_groups(groups) {
                    out.insert((name.clone(), v.clone(), ids));
                }
            }
            out
        };
        let want = batched(&run, &eval);

        let eco = format!("Alpine:{release}");
        let packages = pairs
            .iter()
            .map(|(n, v)| Package {
                source_name: Some(n.clone()),
                purl: format!("pkg:apk/alpine/{n}@{v}?arch=x86_64"),
                ..package(PackageType::Apk, n, v)
            })
            .collect();
        let version_id = format!("{}.2", release.trim_start_matches('v'));
        let os = OsRelease {
            id: "alpine".into(),
            pretty_name: Some(format!("Alpine Linux v{version_id}")),
            version_id: Some(version_id),
            ..OsRelease::default()
        };
        let got = production(&eco, Some(os), packages, "");
        compare(&eco, pairs.len(), &got, &want);
    }
}
