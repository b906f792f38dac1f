//! The SQLite HostStore: a report is stored whole or not at all, a
//! re-delivered `seq` changes nothing (also after reopening the database,
//! as after a server crash), containers are replaced, the previous
//! benchmark comes back for the regression check, the report log is capped,
//! and mapped containers are found by digest.

use caisson_registry_store::hosts::*;
use caisson_registry_store::sqlite::SqliteMetaStore;
use serde_json::json;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

fn container(id: &str, state: &str, mapped: Option<(&str, &str)>) -> HostContainer {
    HostContainer {
        id: id.into(),
        name: format!("c-{id}"),
        image: "app:1".into(),
        image_id: format!("sha256:{}", "a".repeat(64)),
        repo_digests: vec![format!("reg/app@sha256:{}", "b".repeat(64))],
        state: state.into(),
        started_at: None,
        repo: mapped.map(|m| m.0.to_string()),
        digest: mapped.map(|m| m.1.to_string()),
    }
}

fn update(host: &str, seq: i64, containers: Vec<HostContainer>, warn: bool) -> HostUpdate {
    HostUpdate {
        id: host.into(),
        hostname: format!("{host}.example"),
        engine: json!({"kind": "docker"}),
        agent_version: "t".into(),
        interval_secs: 60,
        line: ReportLine {
            seq,
            reason: "event".into(),
            generated_ms: seq,
            received_ms: 1000 + seq,
            containers: containers.len() as u64,
        },
        containers,
        bench: Some(StoredBench {
            seq,
            received_ms: 1000 + seq,
            document: json!({"benchmark": "v1.7", "checks": [{"id": "2.1", "status": if warn { "warn" } else { "pass" }}]}),
        }),
    }
}

#[test]
fn reports_are_idempotent_by_seq_and_replace_the_host_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.sqlite");
    let rt = rt();
    rt.block_on(async {
        let s = SqliteMetaStore::open(&path).expect("open");
        let digest = format!("sha256:{}", "b".repeat(64));
        let out = s
            .store_host_report(update(
                "h1",
                10,
                vec![
                    container("a1", "running", Some(("team/app", &digest))),
                    container("a2", "exited", None),
                ],
                false,
            ))
            .await
            .expect("store");
        assert_eq!(
            out,
            ReportOutcome::Stored {
                new_host: true,
                previous_bench: None
            }
        );
        // The same seq again (a re-delivery), or an older one: nothing changes.
        for seq in [10, 9] {
            let out = s
                .store_host_report(update("h1", seq, vec![], true))
                .await
                .expect("store");
            assert_eq!(out, ReportOutcome::Duplicate { last_seq: 10 });
        }
        let h = s.host("h1").await.expect("read").expect("host");
        assert_eq!(
            (h.reports, h.containers, h.running, h.last_seq),
            (1, 2, 1, 10)
        );
        let placed = s
            .containers_of_digest("team/app", &digest)
            .await
            .expect("by digest");
        assert_eq!(placed.len(), 1);
        assert_eq!(
            (placed[0].host.as_str(), placed[0].container.id.as_str()),
            ("h1", "a1")
        );
        assert_eq!(placed[0].hostname, "h1.example");
    });
    // After reopening (a restarted server), the seq still de-duplicates.
    rt.block_on(async {
        let s = SqliteMetaStore::open(&path).expect("reopen");
        let out = s
            .store_host_report(update("h1", 10, vec![], true))
            .await
            .expect("store");
        assert_eq!(out, ReportOutcome::Duplicate { last_seq: 10 });
        let out = s
            .store_host_report(update(
                "h1",
                11,
                vec![container("a3", "running", None)],
                true,
            ))
            .await
            .expect("store");
        let ReportOutcome::Stored {
            new_host,
            previous_bench,
        } = out
        else {
            panic!("stored: {out:?}");
        };
        assert!(!new_host);
        assert_eq!(
            previous_bench.expect("previous").document["checks"][0]["status"],
            "pass"
        );
        let cs = s.host_containers("h1").await.expect("containers");
        assert_eq!(
            cs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            vec!["a3"],
            "replaced"
        );
        assert_eq!(
            s.host_bench("h1").await.expect("bench").expect("bench").seq,
            11
        );
        let lines = s.host_reports("h1", 10).await.expect("lines");
        assert_eq!(
            lines.iter().map(|l| l.seq).collect::<Vec<_>>(),
            vec![11, 10]
        );
        assert_eq!(s.list_hosts().await.expect("list").len(), 1);
        assert!(s.host("nope").await.expect("read").is_none());
    });
}

#[test]
fn the_report_log_is_capped_per_host() {
    let dir = tempfile::tempdir().expect("tempdir");
    rt().block_on(async {
        let s = SqliteMetaStore::open(&dir.path().join("meta.sqlite")).expect("open");
        let n = REPORT_LOG_CAP + 5;
        for seq in 1..=n {
            s.store_host_report(update("h", seq, vec![], false))
                .await
                .expect("store");
        }
        let lines = s.host_reports("h", 5000).await.expect("lines");
        assert_eq!(lines.len() as i64, REPORT_LOG_CAP);
        assert_eq!(lines.first().map(|l| l.seq), Some(n));
        assert_eq!(lines.last().map(|l| l.seq), Some(6));
        assert_eq!(
            s.host("h").await.expect("read").expect("host").reports,
            n as u64
        );
    });
}
