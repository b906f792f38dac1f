//! Differential tests: thousands of generated version pairs per ecosystem,
//! each batch fed to ONE process of the ecosystem's real tool, must get the
//! same answer (`<`, `=`, `>` or error) from this crate.
//! Oracles are installed by `scripts/deps.d/version.sh`, except apk-tools,
//! which is the Alpine fixture's own (`scripts/fixtures`); under `CI=true` a
//! missing oracle fails the test instead of skipping it.

mod support;

use std::process::Command;

use caisson_version::{compare, Ecosystem};
use proptest::prelude::*;
use support::*;

const N: usize = 4000;

fn check(eco: Ecosystem, cmd: Command, pairs: &[(String, String)]) {
    let expected = run_oracle(cmd, pairs);
    let got: Vec<&str> = pairs
        .iter()
        .map(|(a, b)| ours(compare(eco, a, b)))
        .collect();
    assert_agree(eco.name(), pairs, &expected, &got);
}

fn pool(
    valid: impl Strategy<Value = String>,
    adversarial: impl Strategy<Value = String>,
    seed: u8,
) -> Vec<String> {
    let mut p = sample(valid, 500, seed);
    p.extend(sample(adversarial, 300, seed.wrapping_add(1)));
    p
}

#[test]
fn debian_matches_libdpkg() {
    let ok =
        has_cmd("cc", "--version") && std::path::Path::new("/usr/include/dpkg/version.h").exists();
    if !require("libdpkg (cc + libdpkg-dev)", ok) {
        return;
    }
    let dir = cache_dir();
    fs_err::create_dir_all(&dir).expect("creating oracle cache dir");
    let bin = dir.join("dpkg_oracle");
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&bin)
        .arg(oracle_script("dpkg_oracle.c"))
        .arg("-ldpkg")
        .status()
        .expect("running cc");
    assert!(status.success(), "building the libdpkg oracle failed");
    const T: &[&str] = &[
        "0", "1", "2", "10", "01", "00", "9", "a", "b", "z", "A", "Z", ".", "+", "~", "-", ":",
        "1:", "0:", "ubuntu", "deb", "~rc1", "+b1", "~~", "é",
    ];
    let p = pool(
        "([0-9]{1,2}:)?[0-9]{1,3}([.+~][0-9a-z]{1,3}){0,3}(-[0-9a-z.+~]{1,5}){0,2}",
        soup(T, 7),
        1,
    );
    let hand = [
        ("1.0~rc1", "1.0"),
        ("1:0.1", "2.0"),
        ("1.0-1", "1.0-1ubuntu1"),
        ("0:1.0", "1.0"),
        ("1.0~~", "1.0~~a"),
        ("1.0a", "1.0."),
        ("-1:1", "1"),
        ("1:", "1"),
        ("a", "1"),
        ("2147483648:1", "1"),
    ];
    let pairs = pairs(&p, N, 1, &hand);
    check(Ecosystem::Debian, Command::new(bin), &pairs);
    // The libdpkg oracle itself agrees with the `dpkg` binary on a sample.
    for (a, b) in pairs.iter().take(60) {
        for (op, want) in [("lt", "<"), ("eq", "="), ("gt", ">")] {
            let out = Command::new("dpkg")
                .args(["--compare-versions", a, op, b])
                .output()
                .expect("running dpkg");
            let ours = ours(compare(Ecosystem::Debian, a, b));
            if ours == "error" {
                assert!(!out.status.success(), "dpkg accepted {a:?} {op} {b:?}");
            } else {
                assert_eq!(
                    out.status.success(),
                    ours == want,
                    "dpkg --compare-versions {a:?} {op} {b:?}"
                );
            }
        }
    }
}

#[test]
fn alpine_matches_apk_tools_3() {
    // apk-tools 3.0.8 from the Alpine 3.23 fixture, run on this host through
    // the rootfs's own musl loader.
    let rootfs = fixtures_dir().join("alpine/rootfs");
    let loader = rootfs.join("lib/ld-musl-x86_64.so.1");
    let ok = fixtures_dir().join("alpine/.stamp").exists()
        && loader.exists()
        && rootfs.join("sbin/apk").exists();
    if !require_from(
        "apk-tools 3 (Alpine fixture rootfs)",
        ok,
        "scripts/fixtures --only alpine",
    ) {
        return;
    }
    const T: &[&str] = &[
        "0",
        "1",
        "2",
        "9",
        "10",
        "01",
        "00",
        "007",
        ".",
        "_",
        "-",
        "-r",
        "-r1",
        "-r01",
        "~",
        "~ab",
        "~0f1",
        "~AB",
        "a",
        "b",
        "z",
        "A",
        "r",
        "alpha",
        "rc",
        "p",
        "_alpha",
        "_beta",
        "_pre",
        "_rc",
        "_p",
        "_cvs",
        "_svn",
        "_git",
        "_hg",
        "_bogus",
        "18446744073709551617",
        "99999999999999999999",
        " ",
    ];
    let p = pool(
        "0{0,2}[0-9]{1,3}(\\.0{0,2}[0-9]{1,3}){0,3}[a-z]?(_(alpha|beta|pre|rc|p|cvs|svn|git|hg)[0-9]{0,3}){0,2}(~[0-9a-f]{1,7})?(-r[0-9]{1,2})?",
        soup(T, 7),
        10,
    );
    let hand = [
        ("1.0_rc1", "1.0"),
        ("1.0", "1.00"),
        ("1.01", "1.1"),
        ("1.09", "1.010"),
        ("01", "1"),
        ("1a2", "1"),
        ("1.0~ab", "1.0"),
        ("1.0~AB", "1.0"),
        ("1.0-r1", "1.0~a"),
        ("1.0~ab_rc1", "1"),
        ("1.0_p_rc", "1.0_p"),
        ("1.0_pre", "1.0_p"),
        ("18446744073709551617", "1"),
        ("1.0", "-r1"),
        ("", "1"),
    ];
    let mut cmd = Command::new("sh");
    cmd.arg(oracle_script("apk_oracle.sh")).arg(&rootfs);
    check(Ecosystem::Alpine, cmd, &pairs(&p, N, 10, &hand));

    // Validity of every pool member, in one `apk version -c` (it prints the
    // invalid ones).
    let members: Vec<&String> = p.iter().filter(|v| !v.contains('\n')).collect();
    let out = Command::new(&loader)
        .arg("--library-path")
        .arg(format!(
            "{}:{}",
            rootfs.join("lib").display(),
            rootfs.join("usr/lib").display()
        ))
        .arg(rootfs.join("sbin/apk"))
        .args(["version", "-c", "--"])
        .args(&members)
        .output()
        .expect("running apk version -c");
    let mut rejected: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let mut ours_rejected: Vec<String> = members
        .iter()
        .filter(|v| Ecosystem::Alpine.parse(v).is_err())
        .map(|v| (*v).clone())
        .collect();
    rejected.sort();
    ours_rejected.sort();
    assert_eq!(
        rejected, ours_rejected,
        "apk version -c disagrees on validity"
    );
}

#[test]
fn pypi_matches_packaging() {
    let ok = Command::new("python3")
        .args(["-c", "import packaging.version"])
        .status()
        .is_ok_and(|s| s.success());
    if !require("python3 packaging", ok) {
        return;
    }
    const T: &[&str] = &[
        "0", "1", "2", "10", "01", ".", "-", "_", "!", "+", "a", "b", "c", "rc", "alpha", "beta",
        "pre", "preview", "post", "rev", "r", "dev", "v", "V", "ubuntu", "1!", "A", "Post", "DEV",
        " ",
    ];
    let p = pool(
        "v?([0-9]!)?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}([-_.]?(a|b|rc|alpha|c|pre)[-_.]?[0-9]{0,2})?([-_.]?(post|rev|r)[-_.]?[0-9]{0,2}|-[0-9])?([-_.]?dev[-_.]?[0-9]{0,2})?(\\+[a-zA-Z0-9]{1,4}([-_.][a-z0-9]{1,3}){0,2})?",
        soup(T, 6),
        2,
    );
    let hand = [
        ("1.0", "1.0.0"),
        ("1.0a1", "1.0"),
        ("1.0.dev1", "1.0a1"),
        ("1.0.post1.dev1", "1.0.post1"),
        ("1.0+local", "1.0"),
        ("1.0+a", "1.0+1"),
        ("1!0.1", "2"),
        ("1.0a-1", "1.0a1"),
        ("1.0-1", "1.0.post1"),
    ];
    let mut cmd = Command::new("python3");
    cmd.arg(oracle_script("pypi_oracle.py"));
    check(Ecosystem::PyPI, cmd, &pairs(&p, N, 2, &hand));
}

fn node_semver_available() -> bool {
    cache_dir()
        .join("node/node_modules/semver/package.json")
        .exists()
        && has_cmd("node", "--version")
}

fn semver_pool(seed: u8) -> Vec<String> {
    const T: &[&str] = &[
        "0",
        "1",
        "2",
        "10",
        "01",
        ".",
        "-",
        "+",
        "a",
        "b",
        "alpha",
        "beta",
        "rc",
        "v",
        "x",
        "-0",
        ".0",
        "9007199254740993",
        "99999999999999999999",
        "Z",
    ];
    pool(
        "v?[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(-[0-9a-zA-Z-]{1,5}(\\.[0-9a-z-]{1,4}){0,3})?(\\+[0-9a-z-]{1,4}(\\.[0-9a-z]{1,3}){0,2})?",
        soup(T, 8),
        seed,
    )
}

#[test]
fn npm_matches_node_semver() {
    if !require("node + semver", node_semver_available()) {
        return;
    }
    let hand = [
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta.11", "1.0.0-rc.1"),
        ("1.0.0+a", "1.0.0+b"),
        (" v1.2.3 ", "1.2.3"),
        ("1.0.0-9007199254740993", "1.0.0-9007199254740992"),
        ("9007199254740992.0.0", "1.0.0"),
    ];
    let mut cmd = Command::new("node");
    cmd.arg(oracle_script("npm_oracle.js"))
        .env("CAISSON_NODE_ORACLE", cache_dir().join("node"));
    check(Ecosystem::Npm, cmd, &pairs(&semver_pool(3), N, 3, &hand));
}

#[test]
fn semver_matches_node_semver_and_cargo_semver() {
    // Plain SemVer 2.0.0: node-semver without its `v`/whitespace leniency,
    // and Cargo's `semver` crate where numbers fit u64.
    let p: Vec<String> = semver_pool(4)
        .into_iter()
        .filter(|s| !s.starts_with('v'))
        .collect();
    let pairs = pairs(&p, N, 4, &[("1.0.0-rc.1", "1.0.0"), ("1.0.0-1", "1.0.0-a")]);
    let mut bad = Vec::new();
    for (a, b) in &pairs {
        let cargo = match (semver::Version::parse(a), semver::Version::parse(b)) {
            (Ok(x), Ok(y)) => Ok(x.cmp_precedence(&y)),
            _ => Err(()),
        };
        let mine = compare(Ecosystem::CratesIo, a, b).map_err(|_| ());
        if cargo != mine {
            bad.push(format!(
                "{a:?} vs {b:?}: semver crate {cargo:?}, ours {mine:?}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "crates.io disagrees with the semver crate:\n{}",
        bad.join("\n")
    );
    if !require("node + semver", node_semver_available()) {
        return;
    }
    // node-semver caps numbers at 2^53 and compares big identifiers as doubles.
    let small: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(a, b)| {
            !(a.len() > 15 || b.len() > 15)
                || !(a.contains("9999")
                    || b.contains("9999")
                    || a.contains("90071")
                    || b.contains("90071"))
        })
        .collect();
    let mut cmd = Command::new("node");
    cmd.arg(oracle_script("npm_oracle.js"))
        .env("CAISSON_NODE_ORACLE", cache_dir().join("node"));
    check(Ecosystem::SemVer, cmd, &small);
}

#[test]
fn rubygems_matches_gem_version() {
    if !require("ruby", has_cmd("ruby", "--version")) {
        return;
    }
    const T: &[&str] = &[
        "0", "1", "2", "10", "01", "00", ".", "-", "a", "b", "pre", "rc", "beta", "A", "Z", "x",
        "_",
    ];
    let p = pool(
        "[0-9]{1,2}(\\.[0-9a-z]{1,3}){0,4}(-[0-9a-z-]{1,4}(\\.[0-9a-z]{1,3}){0,2})?",
        soup(T, 7),
        5,
    );
    let hand = [
        ("1.0", "1.0.0"),
        ("1.0.a", "1.0"),
        ("1.8.2.a10", "1.8.2.a9"),
        ("", "0"),
        ("0.beta.1", "0.0.beta.1"),
        ("5.a", "5.0.0.rc2"),
        ("1.9.3-p0", "1.9.3.pre.p0"),
        ("junk", "1"),
    ];
    let mut cmd = Command::new("ruby");
    cmd.arg(oracle_script("gem_oracle.rb"));
    check(Ecosystem::RubyGems, cmd, &pairs(&p, N, 5, &hand));
}

#[test]
fn packagist_matches_composer_and_version_compare() {
    let ok = has_cmd("php", "--version")
        && std::path::Path::new("/usr/share/php/Composer/Semver/autoload.php").exists();
    if !require("php + composer/semver", ok) {
        return;
    }
    const T: &[&str] = &[
        "0",
        "1",
        "2",
        "10",
        "01",
        "00",
        ".",
        "-",
        "_",
        "+",
        "v",
        "V",
        "dev",
        "alpha",
        "a",
        "beta",
        "b",
        "RC",
        "rc",
        "pl",
        "p",
        "patch",
        "stable",
        "x",
        ".x",
        "*",
        "#",
        "foo",
        "@dev",
        "@stable",
        "-dev",
        "master",
        "20200101",
        " as ",
        "2020-01-02",
    ];
    let p = pool(
        "v?[0-9]{1,3}(\\.[0-9]{1,2}){0,3}([._-]?(alpha|beta|RC|rc|a|b|p|pl|patch|stable)([.-]?[0-9]{1,2}){0,2})?([.-]?dev)?(\\+[a-z0-9]{1,3})?",
        soup(T, 6),
        6,
    );
    let hand = [
        ("1.0.0", "1.0"),
        ("1.0.0-beta2", "1.0.0-RC1"),
        ("1.0-dev", "1.0"),
        ("1.0.0-p1", "1.0.0"),
        ("2010-01-02", "2010.01.02"),
        ("1.x-dev", "1.5"),
        ("1.0.0-STABLE", "1.0.0-dev"),
    ];
    let pairs = pairs(&p, N, 6, &hand);
    let mut cmd = Command::new("php");
    cmd.arg(oracle_script("php_oracle.php")).arg("composer");
    let expected = run_oracle(cmd, &pairs);
    // Composer does not order branches; skip those pairs (see README).
    let (kept, exp): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .zip(expected)
        .filter(|(_, e)| e != "branch")
        .unzip();
    let got: Vec<&str> = kept
        .iter()
        .map(|(a, b)| ours(compare(Ecosystem::Packagist, a, b)))
        .collect();
    assert_agree("Packagist", &kept, &exp, &got);
}

#[test]
fn redhat_matches_rpm() {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", "import rpm"])
        .status()
        .is_ok_and(|s| s.success());
    if !require("python3-rpm", ok) {
        return;
    }
    const T: &[&str] = &[
        "0", "1", "2", "10", "01", ".", "-", "~", "^", "a", "b", "z", "A", "_", "+", "1:", ":",
        "rc", "git", "el8", "~~", "^^",
    ];
    let p = pool(
        "([0-9]{1,2}:)?[0-9]{1,3}([._~^+][0-9a-zA-Z]{1,3}){0,3}(-[0-9a-z._~^]{1,6})?",
        soup(T, 7),
        7,
    );
    let hand = [
        ("1.0~rc1", "1.0"),
        ("1.0^git1", "1.0"),
        ("1.0^git1", "1.01"),
        ("1:1.0", "2.0"),
        ("1.0-1", "1.0-1.el8"),
        ("2_0", "2.0"),
        ("xyz.4", "8"),
        ("1b.fc17", "1.fc17"),
    ];
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.arg(oracle_script("rpm_oracle.py"));
    check(Ecosystem::RedHat, cmd, &pairs(&p, N, 7, &hand));
}

/// Builds the `ComparableVersion` oracle; `None` when the jar or JDK is
/// missing (a failure under CI).
fn maven_oracle() -> Option<Command> {
    let jar = std::path::Path::new("/usr/share/maven/lib/maven-artifact-3.x.jar");
    if !require(
        "maven-artifact jar + javac",
        jar.exists() && has_cmd("javac", "-version"),
    ) {
        return None;
    }
    let out = cache_dir().join("maven-oracle");
    fs_err::create_dir_all(&out).expect("creating oracle cache dir");
    let status = Command::new("javac")
        .arg("-d")
        .arg(&out)
        .arg("-cp")
        .arg(jar)
        .arg(oracle_script("MavenOracle.java"))
        .status()
        .expect("running javac");
    assert!(status.success(), "compiling MavenOracle failed");
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(format!("{}:{}", out.display(), jar.display()))
        .arg("MavenOracle");
    Some(cmd)
}

fn maven_pool() -> Vec<String> {
    const T: &[&str] = &[
        "0",
        "1",
        "2",
        "10",
        "01",
        "00",
        ".",
        "-",
        "a",
        "b",
        "m",
        "alpha",
        "beta",
        "milestone",
        "rc",
        "cr",
        "snapshot",
        "SNAPSHOT",
        "ga",
        "final",
        "release",
        "sp",
        "foo",
        "x",
        "1234567890",
        "12345678901234567890",
        "RC",
    ];
    pool("[0-9]{1,2}(\\.[0-9]{1,2}){0,3}([.-]?(alpha|beta|rc|SNAPSHOT|sp|ga|final|m|a|b|foo)[.-]?[0-9]{0,2}){0,2}", soup(T, 7), 8)
}

#[test]
fn maven_matches_comparable_version() {
    let Some(cmd) = maven_oracle() else {
        return;
    };
    let hand = [
        ("1-alpha2snapshot", "1-alpha2"),
        ("1-rc", "1-cr2"),
        ("1-SNAPSHOT", "1"),
        ("1", "1-sp"),
        ("1-sp", "1-abc"),
        ("1-1", "1-2"),
        ("1.0.0", "1"),
        ("1a1", "1-alpha-1"),
        ("", "0"),
        ("1.foo.2", "1-alpha"),
        ("1.0.alpha.1", "1"),
        ("1-sp", "1--alpha"),
    ];
    check(Ecosystem::Maven, cmd, &pairs(&maven_pool(), N, 8, &hand));
}

/// `ComparableVersion` is cyclic (`1.foo.2 < 1-alpha < 1 < 1.foo.2`), so an
/// `Ord` that followed it could make `slice::sort` panic (Rust ≥ 1.81).
/// `Ord` is a total order; `compare` still gives Maven's answer.
#[test]
fn maven_cycle_1_foo_2_sorts_without_panic() {
    const CYCLES: &[&str] = &[
        "1.foo.2",
        "1-alpha",
        "1",
        "1.foo.1",
        "1.0.alpha.1",
        "1-sp",
        "1--alpha",
        "1.foo.",
        "1.alpha",
        "1-jre",
        "31.0.1-jre",
        "31-jre",
    ];
    let mut strings: Vec<String> = maven_pool().into_iter().take(300).collect();
    for (i, c) in CYCLES.iter().enumerate() {
        // Spread the cycle members (several copies) through the vector.
        for k in 0..3 {
            let at = (i * 37 + k * 101) % strings.len();
            strings.insert(at, (*c).to_owned());
        }
    }
    let versions: Vec<caisson_version::Version> = strings
        .iter()
        .map(|s| {
            Ecosystem::Maven
                .parse(s)
                .expect("every string is a Maven version")
        })
        .collect();
    let mut sorted = versions.clone();
    sorted.sort();
    let mut unstable = versions.clone();
    unstable.sort_unstable();
    assert!(
        sorted.windows(2).all(|w| w[0] <= w[1]),
        "sort is not sorted"
    );
    assert!(sorted.iter().zip(&unstable).all(|(a, b)| a == b));
    // Transitivity over the cycle members and a sample of the rest.
    let sample: Vec<&caisson_version::Version> = versions.iter().step_by(4).collect();
    for x in &sample {
        for y in &sample {
            for z in &sample {
                if x <= y && y <= z {
                    assert!(x <= z, "Ord is not transitive: {x:?} {y:?} {z:?}");
                }
            }
        }
    }
    // `compare` keeps Maven's own (cyclic) answers.
    let cyclic = [
        ("1.foo.2", "1-alpha"),
        ("1-alpha", "1"),
        ("1", "1.foo.2"),
        ("1", "1.foo.1"),
        ("1.foo.1", "1.0.alpha.1"),
        ("1.0.alpha.1", "1"),
        ("1-sp", "1--alpha"),
        ("1--alpha", "1"),
        ("1", "1-sp"),
    ];
    for (a, b) in cyclic {
        assert_eq!(
            compare(Ecosystem::Maven, a, b).ok(),
            Some(std::cmp::Ordering::Less),
            "{a} < {b}"
        );
    }
    let Some(cmd) = maven_oracle() else {
        return;
    };
    let mut pairs: Vec<(String, String)> = cyclic
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    for a in CYCLES {
        for b in CYCLES {
            pairs.push(((*a).to_owned(), (*b).to_owned()));
        }
    }
    check(Ecosystem::Maven, cmd, &pairs);
}

#[test]
fn cran_matches_r_package_version() {
    if !require("R (Rscript)", has_cmd("Rscript", "--version")) {
        return;
    }
    const T: &[&str] = &["0", "1", "2", "10", "01", "00", ".", "-", "a", "2147483648"];
    let p = pool("[0-9]{1,3}([.-][0-9]{1,3}){1,3}", soup(T, 6), 9);
    let hand = [
        ("1.0", "1.0.0"),
        ("1.01", "1.1"),
        ("1.9-5", "1.10-0"),
        ("1", "1.0"),
        ("2147483647.1", "1.1"),
    ];
    let mut cmd = Command::new("Rscript");
    cmd.arg(oracle_script("cran_oracle.R"));
    check(Ecosystem::Cran, cmd, &pairs(&p, 2000, 9, &hand));
}
