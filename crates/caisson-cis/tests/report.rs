//! Images (section 4), gathering from an engine that loses a container, and
//! the report formats (SARIF validated against the official schema).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;
use std::sync::Mutex;

use bollard::models::{
    ContainerInspectResponse, ContainerTopResponse, ImageHistoryResponseItem, ImageInspect,
};
use caisson_cis::render::{render, Format};
use caisson_cis::{gather_containers, ContainerSource, SourceError, Status};
use serde_json::json;
use support::*;

fn image(user: &str, healthcheck: bool, env: &[&str]) -> ImageInspect {
    let mut cfg = json!({"User": user, "Env": env});
    if healthcheck {
        cfg["Healthcheck"] = json!({"Test": ["CMD", "true"]});
    }
    serde_json::from_value(json!({"Id": "sha256:1111111111111111111111111111111111111111111111111111111111111111", "RepoTags": ["example/app:1"], "Config": cfg})).unwrap()
}

fn history(lines: &[&str]) -> Vec<ImageHistoryResponseItem> {
    // The engine lists newest first.
    lines
        .iter()
        .rev()
        .map(|l| serde_json::from_value(json!({"Id": "<missing>", "Created": 0, "CreatedBy": l, "Tags": [], "Size": 0, "Comment": ""})).unwrap())
        .collect()
}

#[test]
fn image_checks_reuse_misconfig() {
    let mut c = container(hardened_inspect("img"));
    c.image = Some(image("app", true, &["PATH=/bin"]));
    c.history = Some(history(&[
        "/bin/sh -c #(nop) ADD file:abc in / ",
        "RUN /bin/sh -c apt-get install -y curl # buildkit",
    ]));
    c.setuid_files = Some(vec![]);
    let r = run(&good_host(), &[c.clone()]);
    for id in ["4.1", "4.5", "4.6", "4.7", "4.8", "4.9", "4.10"] {
        assert_eq!(
            result(&r, id).status,
            Status::Pass,
            "{id}: {}",
            result(&r, id).evidence
        );
    }
    // Root user (container Config.User empty), no HEALTHCHECK, a remote ADD,
    // a secret ENV, update alone, set-uid files.
    let mut bad = container(patch(
        hardened_inspect("img"),
        json!({"Config": {"User": ""}}),
    ));
    bad.image = Some(image("", false, &["DB_PASSWORD=hunter2"]));
    bad.history = Some(history(&[
        "ADD https://example.com/app.tgz /opt/ # buildkit",
        "RUN /bin/sh -c apt-get update",
        "ENV API_TOKEN=abc",
    ]));
    bad.setuid_files = Some(vec![("/usr/bin/su".into(), 0o4755)]);
    let mut h = good_host();
    h.content_trust = None;
    let r = run(&h, &[bad]);
    #[rustfmt::skip]
    let want = [
        ("4.1", Status::Warn, "User not set (root)"),
        ("4.5", Status::Warn, "DOCKER_CONTENT_TRUST is not set"),
        ("4.6", Status::Warn, "no HEALTHCHECK"),
        ("4.7", Status::Info, "update without install in history[1]"),
        ("4.8", Status::Info, "/usr/bin/su"),
        ("4.9", Status::Info, "ADD of a remote URL (history[0])"),
        ("4.10", Status::Warn, "Env DB_PASSWORD looks like a secret"),
    ];
    for (id, st, ev) in want {
        let c = result(&r, id);
        assert_eq!(c.status, st, "{id}: {}", c.evidence);
        assert!(
            c.evidence.contains(ev),
            "{id}: {:?} lacks {ev:?}",
            c.evidence
        );
        assert!(!c.evidence.contains("hunter2"), "secret values never shown");
    }
    assert!(result(&r, "4.10").evidence.contains("ENV API_TOKEN"));
    // Without history or file lists the content checks are manual.
    let r = run(&good_host(), &[container(hardened_inspect("bare"))]);
    assert_eq!(result(&r, "4.8").status, Status::Manual);
    assert_eq!(result(&r, "4.9").status, Status::Manual);
}

/// An engine whose second container is removed after the list.
#[derive(Default)]
struct FakeEngine {
    containers: BTreeMap<String, ContainerInspectResponse>,
    listed: Vec<(String, String)>,
    image_calls: Mutex<usize>,
}

impl ContainerSource for FakeEngine {
    fn list_running(&self) -> Result<Vec<(String, String)>, SourceError> {
        Ok(self.listed.clone())
    }
    fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, SourceError> {
        self.containers.get(id).cloned().ok_or(SourceError::Gone)
    }
    fn top(&self, _id: &str) -> Result<ContainerTopResponse, SourceError> {
        Ok(top(&["sleep 3600"]))
    }
    fn image_inspect(&self, _id: &str) -> Result<ImageInspect, SourceError> {
        *self.image_calls.lock().unwrap() += 1;
        Ok(image("1000", true, &[]))
    }
    fn image_history(&self, _id: &str) -> Result<Vec<ImageHistoryResponseItem>, SourceError> {
        Err(SourceError::Other("history is not supported here".into()))
    }
}

#[test]
fn container_gone_between_list_and_inspect_is_skipped_with_a_note() {
    let a = hardened_inspect("a");
    let b = patch(hardened_inspect("bb"), json!({}));
    let stopped = patch(
        hardened_inspect("ccc"),
        json!({"State": {"Running": false, "Status": "exited"}}),
    );
    let id = |v: &serde_json::Value| v["Id"].as_str().unwrap().to_string();
    let mut e = FakeEngine {
        listed: vec![
            (id(&a), "/a".into()),
            ("deadbeef".repeat(8), "/gone".into()),
            (id(&b), "/bb".into()),
            (id(&stopped), "/ccc".into()),
        ],
        ..Default::default()
    };
    for v in [&a, &b, &stopped] {
        e.containers
            .insert(id(v), serde_json::from_value(v.clone()).unwrap());
    }
    let g = gather_containers(&e).unwrap();
    assert_eq!(g.containers.len(), 2);
    assert_eq!(
        *e.image_calls.lock().unwrap(),
        1,
        "one image inspect per image id"
    );
    assert_eq!(g.skipped.len(), 2);
    assert_eq!(g.skipped[0].name, "gone");
    assert_eq!(g.skipped[0].reason, "removed between list and inspect");
    assert_eq!(g.skipped[1].reason, "stopped between list and inspect");
    assert!(g.notes.iter().any(|n| n.contains("history failed")));
    let r = caisson_cis::run(&good_host(), &g.containers, &g.skipped, &Default::default()).unwrap();
    assert_eq!(r.engine.containers_checked, 2);
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("deadbeefdead gone skipped: removed between list and inspect")),
        "{:?}",
        r.notes
    );
    let table = render(&r, Format::Table, "0.1.0", false);
    assert!(table.contains("skipped container deadbeefdead gone: removed between list and inspect"));
}

#[test]
fn sarif_validates_and_json_round_trips() {
    let risky = container(patch(
        hardened_inspect("risky"),
        json!({"HostConfig": {"PidMode": "host", "CapAdd": ["SYS_ADMIN"]}}),
    ));
    let mut h = good_host();
    h.files.insert(
        "/etc/docker".into(),
        stat(0, 0, 0o775, caisson_cis::FileKind::Dir),
    );
    h.notes.push("a gathering note".into());
    let r = run(&h, &[risky, container(hardened_inspect("ok"))]);
    let sarif: serde_json::Value =
        serde_json::from_str(&render(&r, Format::Sarif, "0.1.0", false)).unwrap();
    let errors = caisson_testsupport::schema::errors(&caisson_testsupport::schema::sarif(), &sarif);
    assert!(errors.is_empty(), "{errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), r.results.len());
    let pid = results.iter().find(|x| x["ruleId"] == "5.16").unwrap();
    assert_eq!(pid["kind"], "fail");
    assert_eq!(pid["level"], "warning");
    assert_eq!(pid["locations"][0]["logicalLocations"][0]["name"], "risky");
    let etc = results.iter().find(|x| x["ruleId"] == "3.6").unwrap();
    assert_eq!(
        etc["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "file:///etc/docker"
    );
    let json = render(&r, Format::Json, "0.1.0", false);
    let back: caisson_cis::Report = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "caisson-host-bench/v1");
    assert_eq!(v["benchmark"], "v1.7");
    let c = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "5.16")
        .unwrap();
    assert_eq!(c["status"], "warn");
    assert_eq!(c["objects"][0]["kind"], "container");
    assert_eq!(c["objects"][0]["name"], "risky");
    assert_eq!(c["objects"][0]["evidence"], "PidMode=host");
    let table = render(&r, Format::Table, "0.1.0", false);
    assert!(
        table.contains(
            "[WARN]           5.16    Ensure that the host's process namespace is not shared [L1]"
        ),
        "{table}"
    );
    assert!(table.contains("Score: "));
}
