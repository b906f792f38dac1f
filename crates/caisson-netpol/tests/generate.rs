//! Generated policies against the tools that define their formats: every
//! NetworkPolicy `learn` writes is valid against the official schema
//! (`kubernetes-validate --strict`, Kubernetes 1.37's JSON schema), and
//! every nftables ruleset parses in `nft -c -f` (Debian's nftables);
//! `check` of a generated policy against the flows it came from denies
//! nothing, and it denies what was not observed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;

use caisson_netpol::check::{denied_flows, Conn, Policy, Verdict};
use caisson_netpol::flow::{aggregate_external, FlowTable, Observation, Peer};
use caisson_netpol::{k8s, nft, Flow, Workload};

fn pod(ns: &str, pod: &str, app: &str) -> Workload {
    let labels: BTreeMap<String, String> = [
        ("io.kubernetes.pod.name", pod),
        ("io.kubernetes.pod.namespace", ns),
        ("pod-template-hash", "5f6b7c8d9f"),
        ("app", app),
        ("tier", "shop"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Workload::from_container(&format!("k8s_{app}"), &labels)
}

fn obs(src: &Workload, sa: &str, dst: Peer, da: &str, port: u16, proto: &str) -> Observation {
    Observation {
        src: Peer::Workload(src.clone()),
        dst,
        src_addr: sa.parse().unwrap(),
        dst_addr: da.parse().unwrap(),
        port,
        proto: proto.into(),
        time: 1_800_000_000,
        new: true,
        bytes: None,
    }
}

/// web → api:8080, api → db:5432, api → six addresses of 203.0.113.0/24
/// on 443, web → 30 ports of a metrics pod in another namespace (collapsed),
/// api → db ICMP (not expressible in a NetworkPolicy).
fn three_tier() -> (Vec<Flow>, [Workload; 4]) {
    let web = pod("shop", "web-5f6b7c8d9f-x2kqz", "web");
    let api = pod("shop", "api-5f6b7c8d9f-q7w2x", "api");
    let db = pod("shop", "db-5f6b7c8d9f-b8n4m", "db");
    let metrics = pod("monitoring", "metrics-5f6b7c8d9f-zz9z2", "metrics");
    let w = |x: &Workload| Peer::Workload(x.clone());
    let mut t = FlowTable::new(1000);
    t.record(obs(&web, "10.1.0.2", w(&api), "10.1.0.3", 8080, "tcp"));
    t.record(obs(&api, "10.1.0.3", w(&db), "10.1.0.4", 5432, "tcp"));
    t.record(obs(&api, "10.1.0.3", w(&db), "10.1.0.4", 0, "icmp"));
    for i in 1..=6 {
        let a = format!("203.0.113.{i}");
        let ext = Peer::External(a.parse::<IpAddr>().unwrap().into());
        t.record(obs(&api, "10.1.0.3", ext, &a, 443, "tcp"));
    }
    for port in 9100..9130 {
        t.record(obs(&web, "10.1.0.2", w(&metrics), "10.2.0.9", port, "tcp"));
    }
    (aggregate_external(t.flows(), 4), [web, api, db, metrics])
}

#[test]
fn learned_network_policies_are_schema_valid_and_allow_exactly_the_flows() {
    if !caisson_testsupport::have_tool("kubernetes-validate") {
        return;
    }
    let (flows, [web, api, db, _]) = three_tier();
    let mut skipped = Vec::new();
    let generated = k8s::generate(&flows, Some("shop"), &mut skipped).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let names: BTreeSet<_> = generated
        .iter()
        .map(|g| g.policy.metadata.name.as_str())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["api-caisson", "db-caisson", "web-caisson"])
    );
    let dir = tempfile::tempdir().unwrap();
    let mut all = String::new();
    for g in &generated {
        let path = dir.path().join(&g.file_name);
        std::fs::write(&path, &g.text).unwrap();
        let out = Command::new("kubernetes-validate")
            .args(["--strict", "--no-warn"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}{}\n{}",
            g.file_name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            g.text
        );
        all.push_str(&g.text);
        all.push_str("---\n");
    }
    let web_text = &generated.iter().find(|g| g.workload == web).unwrap().text;
    assert!(
        web_text.contains("30 tcp ports observed, collapsed into the range 9100-9129"),
        "{web_text}"
    );
    assert!(web_text.contains("endPort: 9129"), "{web_text}");
    assert!(
        web_text.contains("kubernetes.io/metadata.name: monitoring"),
        "{web_text}"
    );
    assert!(!web_text.contains("pod-template-hash"), "{web_text}");
    let api_text = &generated.iter().find(|g| g.workload == api).unwrap().text;
    assert!(api_text.contains("cidr: 203.0.113.0/24"), "{api_text}");
    assert!(
        api_text.contains("icmp with shop/db not expressible"),
        "{api_text}"
    );

    // Read back: every observed flow is allowed (ICMP aside, which the
    // header says was left out), plus DNS; what was not observed is denied.
    let policy = Policy::parse(&all, "generated").unwrap();
    let denied: Vec<_> = denied_flows(&policy, &flows)
        .into_iter()
        .map(|d| {
            (
                d.flow.src.display(),
                d.flow.dst.display(),
                d.flow.proto.clone(),
            )
        })
        .collect();
    assert_eq!(
        denied,
        vec![("shop/api".into(), "shop/db".into(), "icmp".into())]
    );
    let dns = Peer::Workload(Workload {
        kind: caisson_netpol::WorkloadKind::K8s,
        namespace: Some("kube-system".into()),
        name: "coredns".into(),
        labels: BTreeMap::from([("k8s-app".into(), "kube-dns".into())]),
    });
    let (pw, pa, pd) = (Peer::Workload(web), Peer::Workload(api), Peer::Workload(db));
    let conn = |src, dst, port, proto| Conn {
        src,
        dst,
        src_addr: "10.1.0.2".parse().unwrap(),
        dst_addr: "10.1.0.4".parse().unwrap(),
        port,
        proto,
    };
    assert_eq!(policy.decide(&conn(&pw, &dns, 53, "udp")), Verdict::Allow);
    match policy.decide(&conn(&pw, &pd, 5432, "tcp")) {
        Verdict::Deny(r) => assert!(
            r.contains("egress of shop/web not allowed by web-caisson"),
            "{r}"
        ),
        Verdict::Allow => panic!("web → db allowed"),
    }
    match policy.decide(&conn(&pa, &pd, 5433, "tcp")) {
        Verdict::Deny(r) => assert!(r.contains("by api-caisson"), "{r}"),
        Verdict::Allow => panic!("api → db:5433 allowed"),
    }
}

#[test]
fn learned_nftables_ruleset_parses_in_nft_and_check_agrees_with_it() {
    let (flows, _) = three_tier();
    let text = nft::generate(&flows);
    if caisson_testsupport::have_tool("nft") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("caisson.nft");
        std::fs::write(&path, &text).unwrap();
        for t in [
            text.clone(),
            Policy::parse(&text, "x")
                .map(|_| ())
                .map(|()| match Policy::parse(&text, "x").unwrap() {
                    Policy::Nft(r) => r.audit_text(&text),
                    Policy::K8s(_) => unreachable!(),
                })
                .unwrap(),
        ] {
            std::fs::write(&path, &t).unwrap();
            let out = Command::new("nft")
                .arg("-c")
                .arg("-f")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "nft -c: {}\n{t}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let Policy::Nft(rs) = Policy::parse(&text, "generated").unwrap() else {
        panic!("not read as nftables");
    };
    assert!(
        text.contains("log prefix \"caisson-netpol drop \" group 7 drop"),
        "{text}"
    );
    let policy = Policy::Nft(rs.clone());
    assert!(denied_flows(&policy, &flows).is_empty(), "{text}");
    // web → db was never observed: the ruleset drops it.
    let web = &flows
        .iter()
        .find(|f| f.src.display() == "shop/web")
        .unwrap()
        .src;
    let db = &flows
        .iter()
        .find(|f| f.dst.display() == "shop/db")
        .unwrap()
        .dst;
    let c = Conn {
        src: web,
        dst: db,
        src_addr: "10.1.0.2".parse().unwrap(),
        dst_addr: "10.1.0.4".parse().unwrap(),
        port: 5432,
        proto: "tcp",
    };
    assert!(matches!(policy.decide(&c), Verdict::Deny(_)));
    // Audit: the same decisions for check, but the dropping lines accept.
    let audit = rs.audit_text(&text);
    assert!(
        audit.contains("log prefix \"caisson-netpol audit \" group 7 accept"),
        "{audit}"
    );
    assert!(!audit.contains(" drop\n"), "{audit}");
    // Hosts the ruleset does not know are left alone.
    let other = Peer::External("192.0.2.1/32".parse().unwrap());
    let c = Conn {
        src: &other,
        dst: &other,
        src_addr: "192.0.2.1".parse().unwrap(),
        dst_addr: "192.0.2.2".parse().unwrap(),
        port: 22,
        proto: "tcp",
    };
    assert_eq!(policy.decide(&c), Verdict::Allow);
}

#[test]
fn rulesets_and_policies_check_cannot_read_are_errors_naming_the_line() {
    let e = Policy::parse(
        "table inet caisson {\n chain forward {\n  ip saddr 10.0.0.1 tcp flags syn drop\n }\n}\n",
        "r.nft",
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        e,
        "nftables ruleset r.nft, line 3: only `tcp dport` is read"
    );
    let e = Policy::parse("table inet caisson {\n chain forward {\n  type filter hook forward priority 0; policy drop;\n }\n}\n", "r.nft")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3: only `policy accept`"), "{e}");
    let e = Policy::parse(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {}\n",
        "p.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("NetworkPolicy p.yaml, document 1:"), "{e}");
    let named = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x, namespace: a}\nspec:\n  podSelector: {}\n  ingress:\n  - ports: [{port: http}]\n";
    let e = Policy::parse(named, "p.yaml").unwrap_err().to_string();
    assert!(e.contains("named port \"http\""), "{e}");
}
