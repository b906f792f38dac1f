//! What a cluster needs to call the webhook: a `ValidatingWebhookConfiguration`
//! (with the CA bundle), a Service, a Deployment and a TLS Secret holding a
//! self-generated CA and a serving certificate for `SERVICE.NAMESPACE.svc`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use serde_json::{json, Value as Json};

use crate::AdmissionError;

/// The container port the webhook listens on.
pub const PORT: u16 = 8443;

/// What the API server does when the webhook cannot answer (down, timed out,
/// overloaded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailurePolicy {
    /// Reject the request: nothing unchecked gets in, but an unavailable webhook
    /// blocks every matching create/update (the default: safe).
    #[default]
    Fail,
    /// Admit the request unchecked: the cluster keeps working, policies are
    /// silently bypassed while the webhook is down.
    Ignore,
}

impl fmt::Display for FailurePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FailurePolicy::Fail => "Fail",
            FailurePolicy::Ignore => "Ignore",
        })
    }
}

impl FromStr for FailurePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Fail" => Ok(FailurePolicy::Fail),
            "Ignore" => Ok(FailurePolicy::Ignore),
            other => Err(format!("unknown failure policy {other:?} (Fail or Ignore)")),
        }
    }
}

/// Options of [`generate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestOptions {
    pub namespace: String,
    pub service: String,
    pub image: String,
    pub failure_policy: FailurePolicy,
    /// 1–30 (the API server's bounds).
    pub timeout_seconds: u8,
    pub replicas: u32,
    /// Extra arguments for `caisson admission serve` (e.g. `--policy pss-restricted`).
    pub serve_args: Vec<String>,
}

impl ManifestOptions {
    pub fn new(namespace: impl Into<String>, service: impl Into<String>) -> Self {
        ManifestOptions {
            namespace: namespace.into(),
            service: service.into(),
            image: format!("ghcr.io/caisson/caisson:{}", env!("CARGO_PKG_VERSION")),
            failure_policy: FailurePolicy::Fail,
            timeout_seconds: 5,
            replicas: 2,
            serve_args: Vec::new(),
        }
    }
}

/// The generated manifests and the PEM material in them.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Multi-document YAML: webhook configuration, Service, Deployment, Secret.
    pub yaml: String,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// A DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters.
fn check_label(what: &str, s: &str) -> Result<(), AdmissionError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(AdmissionError::Options(format!(
            "{what} {s:?} is not a DNS label (lowercase letters, digits, '-', at most 63)"
        )))
    }
}

/// The certificate authority and serving certificate, PEM: (ca, cert, key).
pub fn certificates(
    namespace: &str,
    service: &str,
) -> Result<(String, String, String), AdmissionError> {
    let cert_err = |what| move |source| AdmissionError::Certificate { what, source };
    let today = time::OffsetDateTime::now_utc().date();
    let (year, month, day) = (today.year(), u8::from(today.month()), today.day());
    let start = rcgen::date_time_ymd(year, month, day.min(28));
    let ca_key = KeyPair::generate().map_err(cert_err("the CA key"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(cert_err("the CA"))?;
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("caisson-admission-ca {namespace}/{service}"),
    );
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = start;
    ca.not_after = rcgen::date_time_ymd(year + 10, month, day.min(28));
    let ca_cert = ca.self_signed(&ca_key).map_err(cert_err("the CA"))?;

    let key = KeyPair::generate().map_err(cert_err("the serving key"))?;
    let names = vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
        format!("{service}.{namespace}"),
        service.to_string(),
    ];
    let mut leaf = CertificateParams::new(names).map_err(cert_err("the serving certificate"))?;
    leaf.distinguished_name
        .push(DnType::CommonName, format!("{service}.{namespace}.svc"));
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = start;
    leaf.not_after = rcgen::date_time_ymd(year + 2, month, day.min(28));
    let cert = leaf
        .signed_by(&key, &ca_cert, &ca_key)
        .map_err(cert_err("the serving certificate"))?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

/// Builds the manifests with fresh certificates.
pub fn generate(opts: &ManifestOptions) -> Result<Generated, AdmissionError> {
    check_label("namespace", &opts.namespace)?;
    check_label("service", &opts.service)?;
    if !(1..=30).contains(&opts.timeout_seconds) {
        return Err(AdmissionError::Options(format!(
            "timeoutSeconds {} is outside 1..=30",
            opts.timeout_seconds
        )));
    }
    if opts.image.trim().is_empty() {
        return Err(AdmissionError::Options("image is empty".into()));
    }
    let (ca_pem, cert_pem, key_pem) = certificates(&opts.namespace, &opts.service)?;
    let docs = documents(opts, &ca_pem, &cert_pem, &key_pem);
    let mut yaml = String::from(
        "# Generated by `caisson admission manifests`. failurePolicy and timeoutSeconds\n\
         # are explicit: see docs/admission.md for the fail-open/fail-closed trade-off.\n",
    );
    for d in &docs {
        yaml.push_str("---\n");
        yaml.push_str(
            &serde_norway::to_string(d).map_err(|e| AdmissionError::Options(e.to_string()))?,
        );
    }
    Ok(Generated {
        yaml,
        ca_pem,
        cert_pem,
        key_pem,
    })
}

fn documents(opts: &ManifestOptions, ca: &str, cert: &str, key: &str) -> Vec<Json> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let ns = opts.namespace.as_str();
    let name = opts.service.as_str();
    let labels =
        json!({"app.kubernetes.io/name": "caisson-admission", "app.kubernetes.io/instance": name});
    let secret = format!("{name}-tls");
    let rule = |groups: &[&str], resources: &[&str]| {
        json!({"apiGroups": groups, "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
               "resources": resources, "scope": "Namespaced"})
    };
    let webhook = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": format!("{name}.{ns}.caisson.dev"), "labels": labels},
        "webhooks": [{
            "name": format!("{name}.{ns}.caisson.dev"),
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": opts.failure_policy.to_string(),
            "timeoutSeconds": opts.timeout_seconds,
            "matchPolicy": "Equivalent",
            "clientConfig": {
                "caBundle": b64(ca),
                "service": {"namespace": ns, "name": name, "path": crate::VALIDATE_PATH, "port": 443},
            },
            // Never gate the control plane or the webhook itself: with
            // failurePolicy Fail that would deadlock the webhook's own rollout.
            "namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name", "operator": "NotIn",
                "values": ["kube-system", ns],
            }]},
            "rules": [
                rule(&[""], &["pods", "pods/ephemeralcontainers", "replicationcontrollers"]),
                rule(&["apps"], &["deployments", "statefulsets", "daemonsets", "replicasets"]),
                rule(&["batch"], &["jobs", "cronjobs"]),
            ],
        }],
    });
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": "https", "port": 443, "targetPort": PORT, "protocol": "TCP"}]},
    });
    let mut args = vec![
        "admission".to_string(),
        "serve".into(),
        "--listen".into(),
        format!("0.0.0.0:{PORT}"),
        "--tls-cert".into(),
        "/etc/caisson/tls/tls.crt".into(),
        "--tls-key".into(),
        "/etc/caisson/tls/tls.key".into(),
    ];
    args.extend(opts.serve_args.iter().cloned());
    let probe = json!({"httpGet": {"path": "/healthz", "port": PORT, "scheme": "HTTPS"},
                       "periodSeconds": 10, "timeoutSeconds": 2});
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": opts.replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": false,
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "webhook",
                        "image": opts.image,
                        "args": args,
                        "ports": [{"name": "https", "containerPort": PORT, "protocol": "TCP"}],
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                                            "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]}},
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"cpu": "1", "memory": "512Mi"}},
                        "readinessProbe": probe,
                        "livenessProbe": probe,
                        "volumeMounts": [{"name": "tls", "mountPath": "/etc/caisson/tls", "readOnly": true}],
                    }],
                    "volumes": [{"name": "tls", "secret": {"secretName": secret}}],
                },
            },
        },
    });
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": secret, "namespace": ns, "labels": labels},
        "data": {"tls.crt": b64(cert), "tls.key": b64(key), "ca.crt": b64(ca)},
    });
    vec![webhook, service, deployment, secret]
}
