//! Namespace pull policies in the SQLite store (kept across a reopen, gone
//! with their namespace) and the parent-index lookup pull policies use.

use caisson_oci::Digest;
use caisson_registry_store::sqlite::SqliteMetaStore;
use caisson_registry_store::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .expect("digest")
}

fn manifest(repo: &str, d: &Digest, media_type: &str, refs: Vec<ManifestRef>) -> ManifestRecord {
    ManifestRecord {
        repo: repo.into(),
        digest: d.clone(),
        media_type: media_type.into(),
        artifact_type: None,
        size: 100,
        subject: None,
        annotations_json: None,
        created_ms: now_ms(),
        refs,
    }
}

#[test]
fn pull_policies_round_trip_survive_reopen_and_go_with_their_namespace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta.sqlite");
    let policy = PullPolicy {
        block_severity: Some("high".into()),
        allow: vec![AllowedVulnerability {
            id: "CVE-2024-0001".into(),
            expires: Some("2027-01-01".into()),
            reason: Some("not reachable".into()),
        }],
        require_signature: true,
        trusted_keys: vec!["-----BEGIN PUBLIC KEY-----\n...".into()],
        block_unscanned: false,
        bypass_role: Role::Admin,
    };
    rt().block_on(async {
        let s = SqliteMetaStore::open(&path).expect("open");
        s.put_namespace(Namespace {
            name: "prod".into(),
            public: false,
            immutable_tags: false,
            quota_bytes: None,
        })
        .await
        .expect("namespace");
        assert_eq!(s.pull_policy("prod").await.expect("read"), None);
        s.set_pull_policy("prod", Some(policy.clone()))
            .await
            .expect("set");
    });
    rt().block_on(async {
        let s = SqliteMetaStore::open(&path).expect("reopen");
        assert_eq!(
            s.pull_policy("prod").await.expect("read"),
            Some(policy.clone())
        );
        s.set_pull_policy("prod", None).await.expect("clear");
        assert_eq!(s.pull_policy("prod").await.expect("read"), None);
        s.set_pull_policy("prod", Some(policy)).await.expect("set");
        assert!(s.delete_namespace("prod").await.expect("delete"));
        assert_eq!(s.pull_policy("prod").await.expect("read"), None);
    });
}

#[test]
fn defaults_apply_and_unknown_fields_are_refused() {
    let p: PullPolicy = serde_json::from_str(r#"{"require_signature": true}"#).expect("parse");
    assert_eq!(p.bypass_role, Role::Maintainer);
    assert!(p.allow.is_empty() && p.block_severity.is_none() && !p.block_unscanned);
    let err = serde_json::from_str::<PullPolicy>(r#"{"block_severity": "high", "blok": 1}"#)
        .expect_err("unknown field");
    assert!(err.to_string().contains("blok"), "{err}");
}

#[test]
fn parents_are_the_indexes_listing_a_manifest_in_the_same_repository() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (child, other, index) = (digest('a'), digest('b'), digest('c'));
    rt().block_on(async {
        let s = SqliteMetaStore::open(&dir.path().join("meta.sqlite")).expect("open");
        for d in [&child, &other] {
            s.put_manifest(
                manifest("ns/app", d, caisson_oci::media_type::OCI_MANIFEST, vec![]),
                None,
                false,
            )
            .await
            .expect("manifest");
        }
        s.put_manifest(
            manifest(
                "ns/app",
                &index,
                caisson_oci::media_type::OCI_INDEX,
                vec![ManifestRef {
                    digest: child.clone(),
                    kind: RefKind::Manifest,
                }],
            ),
            Some("v1".into()),
            false,
        )
        .await
        .expect("index");
        assert_eq!(
            s.manifest_parents("ns/app", &child).await.expect("parents"),
            vec![index.clone()]
        );
        assert!(s
            .manifest_parents("ns/app", &other)
            .await
            .expect("parents")
            .is_empty());
        assert!(s
            .manifest_parents("ns/other", &child)
            .await
            .expect("parents")
            .is_empty());
    });
}
