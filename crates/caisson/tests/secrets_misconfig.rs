//! `caisson scan --scanners secret,misconfig` and `caisson config` end to end:
//! the `secrets` fixture (scripts/fixtures.d/secrets.fixture.sh) with planted
//! secrets in several layers (two deleted by whiteouts) and every image
//! misconfiguration, its clean variant, differential runs against
//! `trivy --scanners secret` and `hadolint`, and a false-positive guard over
//! every file of the other fixture images.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn caisson(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caisson"))
        .args(args)
        .output()
        .expect("caisson runs");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn secrets_fixture() -> Option<PathBuf> {
    caisson_testsupport::fixture("secrets").map(|(root, _)| root.join("secrets"))
}

fn scan_json(source: &str, scanners: &str) -> Value {
    let (code, out, err) = caisson(&["scan", "--scanners", scanners, "-f", "json", source]);
    assert_eq!(code, 0, "caisson scan {source} failed: {err}");
    serde_json::from_slice(&out).expect("scan json")
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../caisson-misconfig/tests/data")
        .join(name)
}

/// (rule id, layer index, path) of file findings.
fn file_secrets(doc: &Value) -> BTreeSet<(String, i64, String)> {
    doc["secrets"]
        .as_array()
        .expect("secrets array")
        .iter()
        .filter(|s| s["layer"].is_object())
        .map(|s| {
            (
                s["rule_id"].as_str().unwrap_or("").to_string(),
                s["layer"]["index"].as_i64().unwrap_or(-1),
                s["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn secrets_in_every_layer_with_the_layer_that_holds_them() {
    let Some(fx) = secrets_fixture() else { return };
    let doc = scan_json(&format!("oci:{}/oci:v1", fx.display()), "secret");
    let ours = file_secrets(&doc);
    let planted = fs_err::read_to_string(fx.join("expected/planted.txt")).expect("planted.txt");
    for line in planted.lines() {
        let mut w = line.split(' ');
        let want = (
            w.next().unwrap_or("").to_string(),
            w.next().and_then(|l| l.parse().ok()).unwrap_or(-1),
            w.next().unwrap_or("").to_string(),
        );
        assert!(ours.contains(&want), "missing {want:?} in {ours:?}");
    }
    // Deleted in layer 2 by whiteouts, still reported in layer 1 with its diff id.
    let diff_ids: Vec<&str> = doc["source"]["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| l["diff_id"].as_str().unwrap_or(""))
        .collect();
    let env = doc["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .find(|s| s["path"] == "/app/.env")
        .expect("/app/.env reported");
    assert_eq!(env["layer"]["diff_id"].as_str(), diff_ids.get(1).copied());
    // Nothing else in the files: exactly the planted set (sa.json also holds a private key).
    let extra: Vec<_> = ours
        .iter()
        .filter(|(id, _, p)| !planted.contains(&format!("{id} 1 {p}")))
        .filter(|(id, _, p)| !(id == "private-key" && p == "/app/sa.json"))
        .collect();
    assert!(extra.is_empty(), "unexpected findings {extra:?}");
    // Config: Env and history.
    let config: BTreeSet<(String, String)> = doc["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .filter(|s| s["layer"].is_null())
        .map(|s| {
            (
                s["rule_id"].as_str().unwrap_or("").into(),
                s["path"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    for want in [
        ("github-pat", "config:Env"),
        ("generic-secret-assignment", "config:Env"),
        ("npm-access-token", "config:history[3]"),
        ("generic-secret-assignment", "config:history[7]"),
    ] {
        assert!(
            config.contains(&(want.0.into(), want.1.into())),
            "missing {want:?} in {config:?}"
        );
    }
}

#[test]
fn clean_image_has_no_secrets_and_only_the_healthcheck_finding() {
    let Some(fx) = secrets_fixture() else { return };
    let doc = scan_json(
        &format!("oci:{}/oci:clean", fx.display()),
        "secret,misconfig",
    );
    assert_eq!(doc["secrets"], serde_json::json!([]));
    let ids: Vec<&str> = doc["misconfigurations"]
        .as_array()
        .expect("misconfigurations")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    // umoci cannot write a Healthcheck; caisson-misconfig's unit tests hold the negative case.
    assert_eq!(ids, ["no-healthcheck"]);
}

#[test]
fn every_image_misconfiguration_is_found_in_the_fixture() {
    let Some(fx) = secrets_fixture() else { return };
    let doc = scan_json(&format!("oci:{}/oci:v1", fx.display()), "misconfig");
    let got: BTreeSet<&str> = doc["misconfigurations"]
        .as_array()
        .expect("misconfigurations")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    for c in caisson_misconfig::CHECKS {
        if c.scope != caisson_misconfig::Scope::Dockerfile {
            assert!(got.contains(c.id), "{} not found in {got:?}", c.id);
        }
    }
    assert!(doc.get("secrets").is_none(), "secret scanner did not run");
}

#[test]
fn secrets_are_redacted_in_every_format() {
    let Some(fx) = secrets_fixture() else { return };
    let values = fs_err::read_to_string(fx.join("expected/planted-values.txt")).expect("values");
    let source = format!("oci:{}/oci:v1", fx.display());
    for format in ["json", "sarif", "table"] {
        let (code, out, err) = caisson(&[
            "scan",
            "--scanners",
            "secret,misconfig",
            "-f",
            format,
            &source,
        ]);
        assert_eq!(code, 0, "{err}");
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("*****"), "{format}: no redacted match");
        for v in values.lines().filter(|v| v.len() >= 8) {
            assert!(!text.contains(v), "{format} output leaks a planted secret");
            assert!(!err.contains(v), "{format} stderr leaks a planted secret");
        }
    }
}

#[test]
fn sarif_carries_secret_and_misconfig_rules_and_is_valid() {
    let Some(fx) = secrets_fixture() else { return };
    let source = format!("oci:{}/oci:v1", fx.display());
    let (code, out, err) = caisson(&[
        "scan",
        "--scanners",
        "secret,misconfig",
        "-f",
        "sarif",
        &source,
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_slice(&out).expect("sarif json");
    let errors = caisson_testsupport::schema::errors(&caisson_testsupport::schema::sarif(), &doc);
    assert!(errors.is_empty(), "{errors:?}");
    let rules: BTreeSet<&str> = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    let results = doc["runs"][0]["results"].as_array().expect("results");
    for r in results {
        let id = r["ruleId"].as_str().expect("ruleId");
        assert!(rules.contains(id), "{id} has no rule");
        let idx = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(doc["runs"][0]["tool"]["driver"]["rules"][idx]["id"], id);
    }
    for id in [
        "aws-access-key-id",
        "private-key",
        "root-user",
        "setuid-files",
    ] {
        assert!(rules.contains(id), "{id}");
    }
    // The exit-code gate counts secrets and misconfigurations.
    let (code, _, _) = caisson(&[
        "scan",
        "--scanners",
        "secret",
        "--exit-code",
        "3",
        "-f",
        "json",
        &source,
    ]);
    assert_eq!(code, 3);
}

/// Every file of every layer of the other fixture images: zero secret findings.
#[test]
fn false_positive_guard_over_the_fixture_images() {
    let Some(root) = caisson_testsupport::fixtures_root() else {
        return;
    };
    for name in [
        "debian",
        "debian-extra",
        "distroless",
        "rpm",
        "alpine",
        "lang-python-node",
        "lang-binaries",
    ] {
        let Some((_, entry)) = caisson_testsupport::fixture(name) else {
            return;
        };
        let oci = root.join(entry["oci"].as_str().expect("oci"));
        let tag = entry["tag"].as_str().expect("tag");
        let doc = scan_json(&format!("oci:{}:{tag}", oci.display()), "secret");
        let found = doc["secrets"].as_array().expect("secrets");
        // No explained exceptions today: the fixture images ship no test keys.
        assert!(found.is_empty(), "{name}: false positives {found:#?}");
    }
}

fn have(tool: &str) -> bool {
    caisson_testsupport::have_tool(tool)
}

/// trivy's secret scanner on the same docker archive. Differences, each with
/// its reason, are the only ones allowed.
#[test]
fn differential_against_trivy_secret_scanner() {
    let Some(fx) = secrets_fixture() else { return };
    if !have("trivy") {
        return;
    }
    let cache = tempfile::tempdir().expect("tmp");
    let out = caisson_testsupport::run(Command::new("trivy").args([
        "image",
        "--quiet",
        "--cache-dir",
        &cache.path().display().to_string(),
        "--skip-db-update",
        "--skip-java-db-update",
        "--offline-scan",
        "--skip-version-check",
        "--disable-telemetry",
        "--scanners",
        "secret",
        "--image-config-scanners",
        "secret",
        "--format",
        "json",
        "--input",
        &fx.join("docker-archive.tar").display().to_string(),
    ]));
    let trivy: Value = serde_json::from_slice(&out).expect("trivy json");
    let mut theirs_files = BTreeSet::new();
    let mut theirs_config = BTreeSet::new();
    for r in trivy["Results"].as_array().into_iter().flatten() {
        let target = r["Target"].as_str().unwrap_or("");
        for s in r["Secrets"].as_array().into_iter().flatten() {
            let id = s["RuleID"].as_str().unwrap_or("").to_string();
            if target.starts_with('/') && !target.ends_with(".tar") {
                theirs_files.insert((id, target.to_string()));
            } else {
                theirs_config.insert(id);
            }
        }
    }
    let doc = scan_json(
        &format!("docker-archive:{}", fx.join("docker-archive.tar").display()),
        "secret",
    );
    let ours_files: BTreeSet<(String, String)> = file_secrets(&doc)
        .into_iter()
        .map(|(id, _, p)| (id, p))
        .collect();
    let ours_config: BTreeSet<String> = doc["secrets"]
        .as_array()
        .expect("secrets")
        .iter()
        .filter(|s| s["layer"].is_null())
        .filter_map(|s| s["rule_id"].as_str().map(str::to_string))
        .collect();
    // Rules trivy's built-in set does not have: every finding of these is ours only.
    let ours_only_rules = [
        (
            "dockerconfig-secret",
            "trivy has no rule for .docker/config.json auths",
        ),
        ("npmrc-auth", "trivy has no rule for .npmrc _authToken"),
        ("pypirc-password", "trivy has no rule for .pypirc passwords"),
        (
            "database-url-password",
            "trivy has no rule for passwords in database URLs",
        ),
        (
            "generic-secret-assignment",
            "trivy has no generic password= rule with an entropy check",
        ),
        (
            "npm-access-token",
            "trivy does not scan history created_by of RUN lines for secrets",
        ),
    ];
    let explained = |id: &str| ours_only_rules.iter().any(|(r, _)| *r == id);
    let missing: Vec<_> = theirs_files.difference(&ours_files).collect();
    assert!(
        missing.is_empty(),
        "trivy finds, caisson does not: {missing:?}"
    );
    let extra: Vec<_> = ours_files
        .difference(&theirs_files)
        .filter(|(id, _)| !explained(id))
        .collect();
    assert!(
        extra.is_empty(),
        "caisson finds, trivy does not (unexplained): {extra:?}"
    );
    let missing_cfg: Vec<_> = theirs_config.difference(&ours_config).collect();
    assert!(
        missing_cfg.is_empty(),
        "config: trivy finds {missing_cfg:?}"
    );
    let extra_cfg: Vec<_> = ours_config
        .difference(&theirs_config)
        .filter(|id| !explained(id))
        .collect();
    assert!(extra_cfg.is_empty(), "config: caisson finds {extra_cfg:?}");
}

/// hadolint on the same Dockerfiles: every hadolint finding at a line is
/// matched by a caisson check that names that hadolint rule, and the other way
/// round, except for the differences listed with their reasons.
#[test]
fn differential_against_hadolint() {
    if !have("hadolint") {
        return;
    }
    // hadolint rules caisson does not implement.
    let not_ours = [
        (
            "DL4006",
            "pipefail: a shell-robustness rule, not a security one",
        ),
        ("DL3059", "consecutive RUN instructions: style (info)"),
        ("DL3066", "non-numeric USER: info-level portability hint"),
    ];
    for (file, clean) in [("Dockerfile.bad", false), ("Dockerfile.clean", true)] {
        let path = data(file);
        let out = Command::new("hadolint")
            .args(["--no-fail", "-f", "json"])
            .arg(&path)
            .output()
            .expect("hadolint runs");
        let theirs: Vec<(usize, String)> = serde_json::from_slice::<Value>(&out.stdout)
            .expect("hadolint json")
            .as_array()
            .expect("array")
            .iter()
            .map(|f| {
                (
                    f["line"].as_u64().unwrap_or(0) as usize,
                    f["code"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let text = fs_err::read_to_string(&path).expect("read");
        let ours = caisson_misconfig::lint_dockerfile(file, &text);
        if clean {
            assert!(theirs.is_empty(), "hadolint on {file}: {theirs:?}");
            assert!(ours.is_empty(), "caisson on {file}: {ours:?}");
            continue;
        }
        for (line, code) in &theirs {
            if not_ours.iter().any(|(c, _)| c == code) {
                continue;
            }
            let hit = ours.iter().any(|f| {
                f.line == Some(*line)
                    && caisson_misconfig::check(&f.id).is_some_and(|c| {
                        c.hadolint.contains(&code.as_str())
                            || (code == "DL3064" && f.id == "secret-in-env-arg")
                    })
            });
            assert!(hit, "{file}:{line} hadolint {code} has no caisson finding");
        }
        for f in &ours {
            let c = caisson_misconfig::check(&f.id).expect("known check");
            let codes: Vec<&str> = c
                .hadolint
                .iter()
                .copied()
                .chain((f.id == "secret-in-env-arg").then_some("DL3064"))
                .collect();
            if codes.is_empty() {
                // No hadolint counterpart: no-healthcheck (4.6), sshd-installed (5.7),
                // privileged-port (5.8), curl-pipe-shell.
                continue;
            }
            let line = f.line.unwrap_or(0);
            let matched = theirs
                .iter()
                .any(|(l, code)| *l == line && codes.contains(&code.as_str()));
            // Where caisson is stricter than hadolint, by design:
            // root-user without any USER (CIS 4.1; hadolint DL3002 needs an explicit root USER);
            // add-instead-of-copy for URLs and archives (CIS 4.9; hadolint DL3020 only flags
            // local non-archive sources).
            // Commands behind `sudo`: hadolint does not look through it (it reports DL3004 only).
            let behind_sudo = text
                .lines()
                .nth(line.saturating_sub(1))
                .is_some_and(|l| l.contains("sudo "));
            let stricter = behind_sudo
                || (f.id == "root-user" && f.message.contains("no USER"))
                || (f.id == "add-instead-of-copy" && !f.message.contains("local files"));
            assert!(
                matched || stricter,
                "{file}:{line} caisson {} has no hadolint counterpart {codes:?}",
                f.id
            );
        }
    }
}

#[test]
fn config_command_formats_and_exit_code() {
    let bad = data("Dockerfile.bad");
    let bad = bad.to_str().expect("utf-8 path");
    let (code, out, _) = caisson(&["config", bad, "--exit-code", "4"]);
    assert_eq!(code, 4);
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains(":9  LOW  apt-no-install-recommends"),
        "{text}"
    );
    let (code, out, err) = caisson(&["config", bad, "-f", "sarif"]);
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_slice(&out).expect("sarif");
    let errors = caisson_testsupport::schema::errors(&caisson_testsupport::schema::sarif(), &doc);
    assert!(errors.is_empty(), "{errors:?}");
    let first = &doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"];
    assert!(first["region"]["startLine"].as_u64().is_some());
    let (_, out, _) = caisson(&["config", bad, "-f", "json", "--severity", "HIGH"]);
    let doc: Value = serde_json::from_slice(&out).expect("json");
    let m = doc["misconfigurations"]
        .as_array()
        .expect("misconfigurations");
    assert!(!m.is_empty() && m.iter().all(|f| f["severity"] == "HIGH"));
    let clean = data("Dockerfile.clean");
    let (code, _, _) = caisson(&["config", clean.to_str().expect("path"), "--exit-code", "4"]);
    assert_eq!(code, 0);
}
