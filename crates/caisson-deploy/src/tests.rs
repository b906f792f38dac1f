use super::*;

fn docs(c: Component) -> Vec<Json> {
    let yaml = generate(
        c,
        &Options::new("caisson", "registry.example/caisson:0.1.0"),
    )
    .expect("generate");
    yaml.split("\n---\n")
        .skip(1)
        .map(|d| serde_norway::from_str::<Json>(d).expect("yaml"))
        .collect()
}

fn pod_spec(docs: &[Json]) -> Json {
    docs.iter()
        .find(|d| d["spec"]["template"].is_object())
        .map(|d| d["spec"]["template"]["spec"].clone())
        .expect("a workload")
}

#[test]
fn component_names_round_trip_and_unknown_ones_are_named() {
    for c in Component::ALL {
        assert_eq!(c.as_str().parse::<Component>().expect("parse"), c);
    }
    let err = "cluster-agent"
        .parse::<Component>()
        .expect_err("unknown")
        .to_string();
    assert!(err.contains("\"cluster-agent\""), "{err}");
}

#[test]
fn registry_is_a_statefulset_with_a_claim_and_no_host_access() {
    let d = docs(Component::Registry);
    let kinds: Vec<_> = d.iter().map(|d| d["kind"].as_str().unwrap_or("")).collect();
    assert_eq!(kinds, ["Service", "StatefulSet"]);
    let sts = &d[1];
    assert_eq!(
        sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "10Gi"
    );
    let pod = pod_spec(&d);
    assert!(pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .all(|v| v.get("hostPath").is_none()));
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let args: Vec<_> = pod["containers"][0]["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Json::as_str)
        .collect();
    assert!(args.contains(&"--allow-insecure-http"), "{args:?}");
}

#[test]
fn registry_with_a_tls_secret_serves_https_and_agents_follow() {
    let mut o = Options::new("ops", "r/caisson:1");
    o.tls_secret = Some("registry-tls".into());
    let yaml = generate(Component::Registry, &o).expect("generate");
    assert!(
        yaml.contains("--tls-cert") && !yaml.contains("--allow-insecure-http"),
        "{yaml}"
    );
    let agent = generate(Component::HostAgent, &o).expect("generate");
    assert!(
        agent.contains("https://caisson-registry.ops.svc:5000"),
        "{agent}"
    );
}

#[test]
fn sensor_adds_exactly_four_capabilities_and_is_not_privileged() {
    let pod = pod_spec(&docs(Component::Sensor));
    let sc = &pod["containers"][0]["securityContext"];
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(
        sc["capabilities"]["add"],
        json!(["SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH"])
    );
    assert!(sc.get("privileged").is_none());
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(pod["hostPID"], true);
    assert_eq!(pod["hostNetwork"], true);
    // Every read-only host path is mounted read-only.
    for m in pod["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts")
    {
        let name = m["name"].as_str().unwrap_or("");
        if ["cgroup", "docker-data"].contains(&name) {
            assert_eq!(m["readOnly"], true, "{m}");
        }
    }
}

#[test]
fn host_agent_reads_the_host_root_read_only_and_drops_every_capability() {
    let pod = pod_spec(&docs(Component::HostAgent));
    let c = &pod["containers"][0];
    assert_eq!(
        c["securityContext"]["capabilities"],
        json!({"drop": ["ALL"]})
    );
    let root = c["volumeMounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"] == "/host")
        .expect("/host");
    assert_eq!(root["readOnly"], true);
    assert!(pod.get("hostPID").is_none() && pod.get("hostNetwork").is_none());
}

#[test]
fn every_exemption_is_written_into_its_components_yaml() {
    for c in Component::ALL {
        let yaml = generate(c, &Options::new("caisson", "r/caisson:1")).expect("generate");
        for e in exemptions(c) {
            assert!(
                yaml.contains(&format!("{} {} ({})", e.policy, e.check, e.reason)),
                "{c}: {e:?}"
            );
        }
    }
}

#[test]
fn bad_names_and_images_are_refused_with_the_value() {
    let mut o = Options::new("Bad_NS", "r/caisson:1");
    let err = generate(Component::Registry, &o)
        .expect_err("bad namespace")
        .to_string();
    assert!(err.contains("Bad_NS"), "{err}");
    o.namespace = "ok".into();
    o.image = "two words".into();
    let err = generate(Component::Sensor, &o)
        .expect_err("bad image")
        .to_string();
    assert!(err.contains("two words"), "{err}");
    o.image = "r/c:1".into();
    o.storage = "ten gigs".into();
    let err = generate(Component::Registry, &o)
        .expect_err("bad size")
        .to_string();
    assert!(err.contains("ten gigs"), "{err}");
}

#[test]
fn admission_uses_the_webhook_generator_with_the_given_image() {
    let yaml = generate(
        Component::Admission,
        &Options::new("caisson", "r/caisson@sha256:00"),
    )
    .expect("generate");
    assert!(yaml.contains("ValidatingWebhookConfiguration"));
    assert!(yaml.contains("image: r/caisson@sha256:00"), "{yaml}");
    assert!(
        yaml.contains("caisson-admission.caisson.svc") || yaml.contains("name: caisson-admission")
    );
}
