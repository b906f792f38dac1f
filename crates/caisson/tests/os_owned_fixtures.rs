//! Language packages that the OS package manager installed, over the
//! `debian-nodejs` fixture (Debian bookworm + `nodejs npm ruby-rack
//! libcommons-lang3-java fzf`, built by scripts/fixtures.d/debian-nodejs.fixture.sh):
//! `caisson sbom` against syft's SBOM of the same image and against jq's
//! reading of every module `package.json`, with `owned_by` set to the owning
//! Debian package; `caisson scan` with and without
//! `--match-os-owned-language-packages` against the real npm advisories.
//! The difference classes with syft are described in docs/scanning.md.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const FIXTURE: &str = "debian-nodejs";
const SOURCE: &str = "oci:debian-nodejs/oci:nodejs";
const LANG_TYPES: [&str; 5] = ["npm", "gem", "pypi", "maven", "golang"];

fn root() -> Option<PathBuf> {
    caisson_testsupport::fixture(FIXTURE).map(|(root, _)| root)
}

fn caisson(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_caisson"))
        .current_dir(root)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("caisson runs")
}

fn json(out: std::process::Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

fn sbom(root: &Path) -> Value {
    json(
        caisson(root, &["sbom", SOURCE, "-f", "json"]),
        "caisson sbom",
    )
}

/// (purl type, name, version) of a language purl; Maven as `group/artifact`.
type Row = (String, String, String);

fn row(purl: &str) -> Option<Row> {
    let rest = purl.strip_prefix("pkg:")?.split(['?', '#']).next()?;
    let (ty, rest) = rest.split_once('/')?;
    if !LANG_TYPES.contains(&ty) {
        return None;
    }
    let (name, version) = rest.rsplit_once('@')?;
    let mut name = name.replace("%40", "@");
    if ty == "pypi" {
        name = name.to_lowercase().replace(['_', '.'], "-");
    }
    Some((ty.into(), name, version.replace("%2B", "+")))
}

fn packages(doc: &Value) -> &[Value] {
    doc["packages"].as_array().expect("packages")
}

/// syft's language components: row → evidence paths.
fn syft(root: &Path) -> BTreeMap<Row, BTreeSet<String>> {
    let path = root.join(FIXTURE).join("syft.cdx.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(path).expect("syft")).expect("json");
    let mut out: BTreeMap<Row, BTreeSet<String>> = BTreeMap::new();
    for c in doc["components"].as_array().into_iter().flatten() {
        let Some(r) = c["purl"].as_str().and_then(row) else {
            continue;
        };
        let at = c["properties"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["name"] == "syft:location:0:path")
            .filter_map(|p| p["value"].as_str().map(str::to_string));
        out.entry(r).or_default().extend(at);
    }
    out
}

/// Why syft lists a package that caisson does not (docs/scanning.md), or `None`.
fn syft_only_reason(row: &Row, paths: &BTreeSet<String>) -> Option<&'static str> {
    let (ty, _, version) = row;
    if ty == "golang" && version == "(devel)" {
        // A GOPATH build (no `mod` line): syft invents a main module.
        return Some("syft-gopath-main-module");
    }
    let nested = |p: &String| {
        caisson_lang::npm::installed_name(p).is_none() && caisson_lang::npm::os_module(p).is_none()
    };
    if ty == "npm" && !paths.is_empty() && paths.iter().all(nested) {
        // A package.json in a module's own subdirectory (an entry point's manifest).
        return Some("syft-nested-manifest");
    }
    None
}

/// Lockfiles: syft's image scan reads none of them (its `dir:` scan does).
const LOCKFILES: [&str; 5] = [
    "Gemfile.lock",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "pnpm-lock.yaml",
    "yarn.lock",
];

#[test]
fn os_installed_language_packages_match_syft_with_named_exceptions() {
    let Some(root) = root() else { return };
    let doc = sbom(&root);
    // Row → (evidence locations, every copy owned by an OS package).
    let mut ours: BTreeMap<Row, (Vec<String>, bool)> = BTreeMap::new();
    for p in packages(&doc) {
        let Some(r) = p["purl"].as_str().and_then(row) else {
            continue;
        };
        let e = ours.entry(r).or_insert((Vec::new(), true));
        e.0.extend(
            p["locations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str().map(str::to_string)),
        );
        e.1 &= !p["owned_by"].is_null();
    }
    let syft = syft(&root);

    let mut classes: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    let mut missing = Vec::new();
    for (r, paths) in &syft {
        if ours.contains_key(r) {
            continue;
        }
        match syft_only_reason(r, paths) {
            Some(class) => classes.entry(class).or_default().push(r),
            None => missing.push((r, paths)),
        }
    }
    assert!(missing.is_empty(), "syft has, caisson lacks: {missing:#?}");
    // The fzf binary is the one GOPATH build; terser keeps a `bin/package.json`.
    assert_eq!(
        classes.get("syft-gopath-main-module").map(Vec::len),
        Some(1),
        "{classes:?}"
    );
    assert!(classes.contains_key("syft-nested-manifest"), "{classes:?}");

    // Only caisson: entries of lockfiles that Debian packages ship inside a
    // module or gem (lodash-cli's npm-shrinkwrap.json, rbs's and typeprof's
    // Gemfile.lock, browserslist's pnpm-lock.yaml), all OS-owned, so matched
    // only with --match-os-owned-language-packages.
    let is_lock = |l: &String| LOCKFILES.iter().any(|f| l.ends_with(&format!("/{f}")));
    let mut from_locks = 0;
    for (r, (locations, owned)) in &ours {
        if syft.contains_key(r) {
            continue;
        }
        assert!(
            !locations.is_empty() && locations.iter().all(is_lock),
            "only caisson has {r:?} at {locations:?}"
        );
        assert!(*owned, "{r:?} from an OS package's lockfile is OS-owned");
        from_locks += 1;
    }
    assert!(
        from_locks > 0,
        "the fixture's Debian packages ship lockfiles"
    );

    // Counts per ecosystem of installed packages (a non-lockfile evidence):
    // syft's, less the named classes.
    for ty in LANG_TYPES {
        let installed = ours
            .iter()
            .filter(|(r, (l, _))| r.0 == ty && !l.iter().all(is_lock))
            .count();
        let syft_n = syft.keys().filter(|r| r.0 == ty).count();
        let excepted = classes.values().flatten().filter(|r| r.0 == ty).count();
        assert_eq!(installed, syft_n - excepted, "{ty} packages");
    }
    let count = |ty: &str| ours.keys().filter(|r| r.0 == ty).count();
    assert!(
        count("npm") > 1000,
        "Debian's node-* modules: {}",
        count("npm")
    );
    assert!(count("gem") > 50, "ruby's default gems and rack");
    assert_eq!(count("maven"), 1, "commons-lang3");

    // Every module directory jq read in the image is a package of ours.
    let listed = std::fs::read_to_string(root.join(FIXTURE).join("expected/nodejs-packages.txt"))
        .expect("nodejs-packages.txt");
    let mut modules = BTreeSet::new();
    for line in listed.lines() {
        let mut w = line.splitn(3, ' ');
        let (Some(name), Some(version), Some(path)) = (w.next(), w.next(), w.next()) else {
            panic!("bad line {line:?}");
        };
        if caisson_lang::npm::os_module(path).is_some() {
            modules.insert(("npm".to_string(), name.to_string(), version.to_string()));
        }
    }
    assert!(modules.len() > 1000, "{}", modules.len());
    let lacking: Vec<_> = modules.iter().filter(|m| !ours.contains_key(*m)).collect();
    assert!(lacking.is_empty(), "jq reads, caisson lacks: {lacking:?}");
}

#[test]
fn os_installed_language_packages_are_owned_by_their_debian_package() {
    let Some(root) = root() else { return };
    let doc = sbom(&root);
    let pkgs = packages(&doc);
    // The owner of the package of `ty` whose first evidence path is `at`.
    let owner_of = |ty: &str, at: &str| -> String {
        let p = pkgs
            .iter()
            .find(|p| p["type"] == ty && p["locations"][0] == at)
            .unwrap_or_else(|| panic!("no {ty} at {at}"));
        let owner = p["owned_by"]
            .as_str()
            .unwrap_or_else(|| panic!("{ty} at {at} not owned: {p:#}"));
        assert!(
            pkgs.iter().any(|o| o["id"] == owner && o["type"] == "deb"),
            "owned_by names a deb of the SBOM: {owner}"
        );
        owner.to_string()
    };
    let gem = pkgs
        .iter()
        .find(|p| p["type"] == "gem" && p["name"] == "rack")
        .expect("rack gem");
    let gem_at = gem["locations"][0].as_str().expect("location").to_string();
    assert!(
        gem_at.starts_with("/usr/share/rubygems-integration/all/specifications/rack-"),
        "{gem_at}"
    );
    let starts = |owner: String, deb: &str| {
        assert!(
            owner.starts_with(&format!("pkg:deb/debian/{deb}@")),
            "{owner} is not {deb}"
        );
    };
    starts(
        owner_of("npm", "/usr/share/nodejs/semver/package.json"),
        "node-semver",
    );
    // npm's own modules ship in the `npm` package.
    starts(
        owner_of("npm", "/usr/share/nodejs/@npmcli/arborist/package.json"),
        "npm",
    );
    // An entry of a lockfile shipped inside a module: owned by that module's package.
    starts(
        owner_of("npm", "/usr/share/nodejs/lodash-cli/npm-shrinkwrap.json"),
        "node-lodash",
    );
    starts(owner_of("gem", &gem_at), "ruby-rack");
    starts(
        owner_of("maven", "/usr/share/java/commons-lang3.jar"),
        "libcommons-lang3-java",
    );
    starts(owner_of("golang", "/usr/bin/fzf"), "fzf");
    // Every language package of this image came from a Debian package
    // (trivy, which drops what dpkg installed, lists none of them).
    let unowned: Vec<&Value> = pkgs
        .iter()
        .filter(|p| p["purl"].as_str().and_then(row).is_some() && p["owned_by"].is_null())
        .collect();
    assert!(unowned.is_empty(), "not owned: {unowned:#?}");
}

/// The advisory of the OS-owned npm module: semver 7.3.5 (Debian's
/// node-semver) is in the range of GHSA-c2qf-rxjj-qqgw (CVE-2022-25883,
/// ReDoS, fixed in 7.5.2) in the npm OSV snapshot.
fn semver_findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["package_type"] == "npm" && f["package_name"] == "semver")
        .collect()
}

#[test]
fn os_owned_npm_module_is_matched_by_language_advisories_only_with_the_flag() {
    let Some(root) = root() else { return };
    let db = common::database().to_str().expect("utf-8 path").to_string();
    let scan = |extra: &[&str], format: &str| {
        let mut args = vec![
            "scan",
            SOURCE,
            "--db",
            &db,
            "--max-db-age-days",
            "100000",
            "--scanners",
            "vuln",
            "-f",
            format,
        ];
        args.extend_from_slice(extra);
        caisson(&root, &args)
    };
    let default = json(scan(&[], "json"), "caisson scan");
    assert_eq!(
        default["matching"]["os_owned_language_packages"],
        "os-advisories-only"
    );
    let owned = default["matching"]["os_owned_packages"]
        .as_u64()
        .expect("count");
    assert!(owned > 1000, "{owned}");
    assert!(semver_findings(&default).is_empty(), "{default:#}");
    assert!(
        default["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|f| f["package_type"] == "deb"),
        "no language finding by default"
    );

    let flag = "--match-os-owned-language-packages";
    let both = json(scan(&[flag], "json"), "caisson scan --match-os-owned…");
    assert_eq!(
        both["matching"]["os_owned_language_packages"],
        "os-and-language-advisories"
    );
    assert_eq!(both["matching"]["os_owned_packages"].as_u64(), Some(owned));
    let semver = semver_findings(&both);
    let f = semver
        .iter()
        .find(|f| f["id"] == "CVE-2022-25883" && f["installed_version"] == "7.3.5")
        .unwrap_or_else(|| panic!("CVE-2022-25883 on semver 7.3.5: {semver:#?}"));
    assert!(f["aliases"]
        .as_array()
        .expect("aliases")
        .iter()
        .any(|a| a == "GHSA-c2qf-rxjj-qqgw"));

    // The table says which was done.
    for (extra, says) in [
        (
            &[][..],
            "matched through their OS packages' advisories only",
        ),
        (
            &[flag][..],
            "matched against their OS packages' and their language advisories",
        ),
    ] {
        let out = scan(extra, "table");
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        let note = text
            .lines()
            .find(|l| l.starts_with("Note: "))
            .unwrap_or_else(|| panic!("no note in {text}"));
        assert!(
            note.contains(&format!("{owned} language packages")),
            "{note}"
        );
        assert!(note.contains(says), "{note}");
    }
}
