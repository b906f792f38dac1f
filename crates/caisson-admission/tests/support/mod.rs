//! A webhook served over real TLS on loopback, and AdmissionReview payloads in
//! the exact shape the API server sends (admission.k8s.io/v1).
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use caisson_admission::manifests::certificates;
use caisson_admission::{
    resolve::FactsSource, router, AdmissionState, DecisionSink, JsonLinesSink, ServerLimits,
};
use caisson_policy::{Config, PolicySet, SupplyChainFacts};
use serde_json::{json, Value as Json};

pub const HOST: &str = "webhook.caisson.svc";

pub struct Webhook {
    pub addr: SocketAddr,
    pub client: reqwest::blocking::Client,
    pub log: PathBuf,
    pub ca_pem: String,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn policies(ids: &[&str], config: &str) -> PolicySet {
    let mut b = PolicySet::builder();
    for id in ids {
        b.add(id).unwrap();
    }
    if !config.is_empty() {
        b.config(Config::parse(config, "test.yaml").unwrap(), "test.yaml");
    }
    b.build().unwrap()
}

impl Webhook {
    pub fn start(set: PolicySet, limits: ServerLimits) -> Webhook {
        Webhook::start_with(set, limits, None, None)
    }

    /// [`Webhook::start`] with live facts and the decision log at `log`
    /// (default: a file in a fresh temporary directory).
    pub fn start_with(
        set: PolicySet,
        limits: ServerLimits,
        source: Option<Arc<dyn FactsSource>>,
        log: Option<PathBuf>,
    ) -> Webhook {
        let dir = tempfile::tempdir().unwrap();
        let log = log.unwrap_or_else(|| dir.path().join("decisions.jsonl"));
        let sink: Arc<dyn DecisionSink> = Arc::new(JsonLinesSink::open(&log).unwrap());
        let (ca, cert, key) = certificates("caisson", "webhook").unwrap();
        let tls = caisson_admission::tls::server_config_from_pem(
            cert.as_bytes(),
            "cert",
            key.as_bytes(),
            "key",
        )
        .unwrap();
        let state = AdmissionState::with_source(
            set,
            SupplyChainFacts::default(),
            source,
            Some(sink),
            limits,
        )
        .unwrap();
        let app = router(state);
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                caisson_http::serve(
                    listener,
                    Some(tls),
                    app,
                    caisson_http::Limits::default(),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
            });
        });
        let client = reqwest::blocking::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .tls_built_in_root_certs(false)
            .resolve(HOST, addr)
            .https_only(true)
            .build()
            .unwrap();
        Webhook {
            addr,
            client,
            log,
            ca_pem: ca,
            _dir: dir,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{HOST}:{}{path}", self.addr.port())
    }

    /// POSTs raw bytes; returns (status, body as JSON or Null).
    pub fn post_bytes(&self, body: Vec<u8>) -> (u16, Json) {
        let resp = self
            .client
            .post(self.url("/admission/validate"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Json::Null))
    }

    /// POSTs an AdmissionReview and checks the response is a valid one for it.
    pub fn review(&self, review: &Json) -> Json {
        let (status, body) = self.post_bytes(serde_json::to_vec(review).unwrap());
        assert_eq!(status, 200, "{body}");
        assert_valid_response(review, &body);
        body["response"].clone()
    }

    pub fn records(&self) -> Vec<Json> {
        let text = fs_err::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// What the API server requires of a response.
pub fn assert_valid_response(review: &Json, body: &Json) {
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1", "{body}");
    assert_eq!(body["kind"], "AdmissionReview", "{body}");
    let resp = &body["response"];
    assert_eq!(
        resp["uid"], review["request"]["uid"],
        "uid must be echoed: {body}"
    );
    assert!(resp["allowed"].is_boolean(), "{body}");
    if resp["allowed"] == false {
        assert!(resp["status"]["message"].is_string(), "{body}");
        assert!(resp["status"]["code"].is_u64(), "{body}");
    }
}

/// (group, version, kind, resource) of a kind.
fn gvr(kind: &str) -> (&'static str, &'static str, &'static str) {
    match kind {
        "Pod" => ("", "v1", "pods"),
        "Deployment" => ("apps", "v1", "deployments"),
        "CronJob" => ("batch", "v1", "cronjobs"),
        "Scale" => ("autoscaling", "v1", "scale"),
        other => panic!("no resource for {other}"),
    }
}

/// An AdmissionReview as the API server sends it.
pub fn review(
    uid: &str,
    operation: &str,
    kind: &str,
    resource_kind: &str,
    sub_resource: Option<&str>,
    object: Json,
    old_object: Json,
) -> Json {
    let (group, version, resource) = gvr(resource_kind);
    let (kgroup, kversion, _) = gvr(kind);
    let meta = if object.is_object() {
        &object
    } else {
        &old_object
    };
    let name = meta["metadata"]["name"].as_str().unwrap_or("").to_string();
    let namespace = meta["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let options = match operation {
        "CREATE" => json!({"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}),
        "UPDATE" => json!({"apiVersion": "meta.k8s.io/v1", "kind": "UpdateOptions"}),
        _ => json!({"apiVersion": "meta.k8s.io/v1", "kind": "DeleteOptions"}),
    };
    let mut request = json!({
        "uid": uid,
        "kind": {"group": kgroup, "version": kversion, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": kgroup, "version": kversion, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": resource},
        "name": name,
        "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": "alice@example.com", "uid": "u-1",
                     "groups": ["system:authenticated", "devs"]},
        "object": object,
        "oldObject": old_object,
        "dryRun": false,
        "options": options,
    });
    if let Some(sub) = sub_resource {
        request["subResource"] = json!(sub);
        request["requestSubResource"] = json!(sub);
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}

/// A container that passes pss-restricted and the least-privilege policies.
pub fn good_container(name: &str) -> Json {
    json!({
        "name": name,
        "image": "registry.example.com/team/app:1.4.2",
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "runAsNonRoot": true,
            "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                      "requests": {"cpu": "100m", "memory": "128Mi"}},
    })
}

pub fn good_pod_spec() -> Json {
    json!({
        "automountServiceAccountToken": false,
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [good_container("app")],
    })
}

pub fn pod(name: &str, namespace: &str, spec: Json) -> Json {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
           "spec": spec})
}

/// A pod spec with one violation of each kind: privileged, host network, `:latest`.
pub fn bad_pod_spec() -> Json {
    let mut spec = good_pod_spec();
    spec["hostNetwork"] = json!(true);
    spec["containers"][0]["securityContext"]["privileged"] = json!(true);
    spec["containers"][0]["image"] = json!("nginx:latest");
    spec
}
