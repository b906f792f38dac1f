//! Section 2 table-driven: command line + daemon.json + /info variants.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use caisson_cis::Status;
use serde_json::json;
use support::*;

#[test]
fn compliant_daemon_passes_the_scored_daemon_checks() {
    let r = run(&good_host(), &[]);
    for c in r.results.iter().filter(|c| c.section == "2" && c.scored) {
        // 2.7 is informational when dockerd does not listen on TCP.
        let want = if c.id == "2.7" {
            Status::Info
        } else {
            Status::Pass
        };
        assert_eq!(c.status, want, "{} {}: {}", c.id, c.title, c.evidence);
    }
}

/// argv, daemon.json, /info patch, check, expected status, evidence part.
type Case = (
    &'static [&'static str],
    Option<&'static str>,
    serde_json::Value,
    &'static str,
    Status,
    &'static str,
);

#[test]
fn each_daemon_check_flags_its_setting() {
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        (&["dockerd"], None, json!({}), "2.2", Status::Warn, "inter-container communication"),
        (&["dockerd", "--icc=false"], None, json!({}), "2.2", Status::Pass, "--icc=false"),
        (&["dockerd", "--icc", "false"], None, json!({}), "2.2", Status::Warn, "--icc"),
        (&["dockerd"], Some(r#"{"icc": false}"#), json!({}), "2.2", Status::Pass, "\"icc\": false"),
        (&["dockerd", "--log-level", "debug"], None, json!({}), "2.3", Status::Warn, "--log-level=debug"),
        (&["dockerd", "-l", "info"], None, json!({}), "2.3", Status::Pass, "--log-level=info"),
        (&["dockerd", "-D"], None, json!({}), "2.3", Status::Warn, "debug mode"),
        (&["dockerd"], None, json!({"Debug": true}), "2.3", Status::Warn, "debug mode"),
        (&["dockerd"], None, json!({}), "2.3", Status::Pass, "default info"),
        (&["dockerd", "--iptables=false"], None, json!({}), "2.4", Status::Warn, "--iptables=false"),
        (&["dockerd"], Some(r#"{"iptables": false}"#), json!({}), "2.4", Status::Warn, "\"iptables\": false"),
        (&["dockerd", "--insecure-registry", "reg.local:5000"], None, json!({}), "2.5", Status::Warn, "reg.local:5000"),
        (&["dockerd"], None, json!({"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/8"]}}), "2.5", Status::Warn, "10.0.0.0/8"),
        (&["dockerd"], None, json!({"RegistryConfig": {"IndexConfigs": {"r.example": {"Name": "r.example", "Secure": false}}}}), "2.5", Status::Warn, "r.example"),
        (&["dockerd"], None, json!({"Driver": "aufs"}), "2.6", Status::Warn, "aufs"),
        (&["dockerd", "-H", "tcp://0.0.0.0:2375"], None, json!({}), "2.7", Status::Warn, "without TLS"),
        (&["dockerd", "-H", "tcp://0.0.0.0:2376", "--tls"], None, json!({}), "2.7", Status::Warn, "without client verification"),
        (&["dockerd", "-H", "tcp://0.0.0.0:2376", "--tlsverify"], None, json!({}), "2.7", Status::Pass, "with tlsverify"),
        (&["dockerd"], Some(r#"{"hosts": ["tcp://0.0.0.0:2376"], "tlsverify": true}"#), json!({}), "2.7", Status::Pass, "tlsverify"),
        (&["dockerd"], None, json!({}), "2.7", Status::Info, "does not listen on TCP"),
        (&["dockerd"], None, json!({}), "2.8", Status::Info, "default ulimits not set"),
        (&["dockerd", "--default-ulimit", "nofile=64000:64000"], None, json!({}), "2.8", Status::Pass, "nofile=64000:64000"),
        (&["dockerd"], None, json!({"SecurityOptions": ["name=seccomp,profile=builtin"]}), "2.9", Status::Warn, "not enabled"),
        (&["dockerd", "--userns-remap=default"], None, json!({"SecurityOptions": []}), "2.9", Status::Pass, "--userns-remap=default"),
        (&["dockerd", "--cgroup-parent", "/foo"], None, json!({}), "2.10", Status::Warn, "/foo"),
        (&["dockerd"], Some(r#"{"storage-opts": ["dm.basesize=20G"]}"#), json!({}), "2.11", Status::Warn, "dm.basesize=20G"),
        (&["dockerd"], None, json!({"Plugins": {"Authorization": null}}), "2.12", Status::Warn, "no authorization plugin"),
        (&["dockerd"], None, json!({"LoggingDriver": "json-file"}), "2.13", Status::Warn, "json-file"),
        (&["dockerd"], None, json!({"LoggingDriver": "journald"}), "2.13", Status::Pass, "journald"),
        (&["dockerd"], None, json!({}), "2.14", Status::Warn, "not set"),
        (&["dockerd", "--no-new-privileges"], None, json!({}), "2.14", Status::Pass, "--no-new-privileges"),
        (&["dockerd"], None, json!({"LiveRestoreEnabled": false}), "2.15", Status::Warn, "not enabled"),
        (&["dockerd"], None, json!({"LiveRestoreEnabled": false, "Swarm": {"LocalNodeState": "active"}}), "2.15", Status::Pass, "swarm"),
        (&["dockerd"], None, json!({}), "2.16", Status::Warn, "userland proxy enabled"),
        (&["dockerd", "--userland-proxy=false"], None, json!({}), "2.16", Status::Pass, "--userland-proxy=false"),
        (&["dockerd"], None, json!({"SecurityOptions": ["name=seccomp,profile=unconfined"]}), "2.17", Status::Warn, "unconfined"),
        (&["dockerd"], None, json!({"SecurityOptions": ["name=seccomp,profile=/etc/docker/seccomp.json"]}), "2.17", Status::Pass, "custom"),
        (&["dockerd"], None, json!({"ExperimentalBuild": true}), "2.18", Status::Warn, "experimental features are enabled"),
        (&["dockerd"], None, json!({"SecurityOptions": ["name=rootless"]}), "2.1", Status::Pass, "rootless"),
    ];
    for (argv, file, info_patch, id, want, evidence) in cases {
        let mut h = good_host();
        h.daemon = daemon(argv, file);
        h.info = Some(info(info_patch.clone()));
        let r = run(&h, &[]);
        let c = result(&r, id);
        assert_eq!(
            c.status, want,
            "{id} argv {argv:?} file {file:?} info {info_patch}: {}",
            c.evidence
        );
        assert!(
            c.evidence.contains(evidence),
            "{id}: evidence {:?} lacks {evidence:?}",
            c.evidence
        );
    }
}

#[test]
fn malformed_daemon_json_warns_where_needed_and_the_rest_still_runs() {
    let mut h = good_host();
    h.daemon = daemon(
        &["dockerd", "--icc=false"],
        Some("{\"log-level\": \"info\",, }"),
    );
    let c = container(hardened_inspect("still-checked"));
    let r = run(&h, &[c]);
    // Needs daemon.json (the command line does not set it): warn with the error.
    for id in ["2.3", "2.4", "2.10", "2.14", "2.16"] {
        let c = result(&r, id);
        assert_eq!(c.status, Status::Warn, "{id}: {}", c.evidence);
        assert!(
            c.evidence.contains("/etc/docker/daemon.json is not valid"),
            "{id}: {}",
            c.evidence
        );
        assert!(
            c.evidence.contains("line 1"),
            "{id} names the parse error: {}",
            c.evidence
        );
    }
    // Decided by the command line or /info: unaffected.
    assert_eq!(
        result(&r, "2.2").status,
        Status::Pass,
        "--icc=false decides"
    );
    assert_eq!(result(&r, "2.6").status, Status::Pass);
    assert_eq!(
        result(&r, "2.9").status,
        Status::Pass,
        "/info reports userns"
    );
    assert_eq!(result(&r, "2.13").status, Status::Pass);
    // The other sections still run.
    assert_eq!(result(&r, "5.13").status, Status::Pass);
    assert_eq!(result(&r, "3.1").status, Status::Pass);
}

#[test]
fn v18_numbering_adds_devicemapper_and_shifts() {
    let mut h = good_host();
    h.info = Some(info(json!({"Driver": "devicemapper"})));
    let opts = caisson_cis::Options {
        benchmark: caisson_cis::Benchmark::V1_8,
        ..Default::default()
    };
    let r = caisson_cis::run(&h, &[], &[], &opts).unwrap();
    assert_eq!(result(&r, "2.7").key, "daemon-devicemapper");
    assert_eq!(result(&r, "2.7").status, Status::Warn);
    assert_eq!(result(&r, "2.8").key, "daemon-tls");
    assert_eq!(result(&r, "2.19").key, "daemon-experimental");
    let r17 = run(&h, &[]);
    assert_eq!(result(&r17, "2.7").key, "daemon-tls");
    assert!(r17.results.iter().all(|c| c.key != "daemon-devicemapper"));
}

#[test]
fn checks_filter_and_unknown_ids() {
    let opts = caisson_cis::Options {
        checks: vec!["2.2".into(), "5".into()],
        ..Default::default()
    };
    let r = caisson_cis::run(&good_host(), &[], &[], &opts).unwrap();
    assert!(r.results.iter().all(|c| c.id == "2.2" || c.section == "5"));
    assert_eq!(r.results.len(), 1 + 32);
    let bad = caisson_cis::Options {
        checks: vec!["9.9".into()],
        ..Default::default()
    };
    let e = caisson_cis::run(&good_host(), &[], &[], &bad).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--checks 9.9: no such check or section in CIS Docker Benchmark v1.7.0"
    );
}

#[test]
fn score_counts_scored_pass_and_warn_only() {
    let mut h = good_host();
    h.daemon = daemon(&["dockerd"], None);
    let r = run(&h, &[]);
    let (mut want, mut pass, mut warn) = (0i64, 0, 0);
    for c in &r.results {
        match c.status {
            Status::Pass => pass += 1,
            Status::Warn => warn += 1,
            _ => {}
        }
        if c.scored {
            want += match c.status {
                Status::Pass => 1,
                Status::Warn => -1,
                _ => 0,
            };
        }
    }
    assert_eq!(r.summary.score, want);
    assert_eq!((r.summary.pass, r.summary.warn), (pass, warn));
    // 2.8 is not scored: its info does not count; 2.2 warns and does.
    assert!(!result(&r, "2.8").scored);
    assert!(result(&r, "2.2").scored);
}
