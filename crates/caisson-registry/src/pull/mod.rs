//! Pull policies: per namespace, the rules a manifest GET must pass, decided
//! by the policy engine (`caisson-policy`'s built-in `vulnerability-threshold`
//! and `signed-images`, evaluated on an `ImagePull` object).
//!
//! The registry supplies the facts: the digest's stored findings counted by
//! severity (allow-listed vulnerabilities left out until their entry
//! expires; for an index, its platforms' findings), whether it was scanned,
//! and the verdict of its cosign signatures checked against the namespace's
//! trusted keys from the registry's own storage. Members holding the
//! policy's `bypass_role` (default `maintainer`) and system administrators
//! pull without the policy; robots and everyone else get it. A blocked pull
//! is a `403 DENIED` whose message names the policy and the findings, with
//! the full account in the error's `detail`; it is audited and published as
//! [`RegistryEvent::PullBlocked`]. Non-image manifests (signatures, SBOMs,
//! other artifacts) are never blocked, so verifiers can read them.

pub(crate) mod api;
mod signature;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use caisson_audit::Outcome;
use caisson_oci::{media_type, Digest};
use caisson_policy::{
    Config, FindingsSummary, ImageFacts, ImagePull, PolicySet, Request, SupplyChainFacts,
};
use caisson_registry_scan::{is_scannable, severity_rank};
use caisson_registry_store::{
    now_ms, BlobStore, ManifestRecord, MetaStore, PullPolicy, RefKind, ScanState, StoredFinding,
};
use caisson_sign::PublicKey;
use serde::Serialize;

use crate::error::{ApiError, ApiResult, Code};
use crate::events::RegistryEvent;
use crate::route::namespace_of;
use crate::v2::Ctx;
use crate::Registry;

/// Severities a pull policy may block at.
pub const BLOCK_SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// Findings named in a denial message (all are in the error's detail).
const NAMED_IN_MESSAGE: usize = 5;

/// One policy violation of a blocked pull.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullViolation {
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    pub message: String,
}

/// Why a pull was blocked: the error detail, the audit record and the
/// `policy.violation` notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PullDenial {
    pub namespace: String,
    pub repository: String,
    pub reference: String,
    pub digest: Digest,
    pub actor: String,
    pub violations: Vec<PullViolation>,
    /// Findings at or above the policy's severity, most severe first.
    pub findings: Vec<StoredFinding>,
    /// Allow-list entries that matched a finding but have expired.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expired_allowances: Vec<String>,
}

/// A namespace's policy, checked and compiled.
pub(crate) struct Compiled {
    policy: PullPolicy,
    set: PolicySet,
    keys: Vec<PublicKey>,
}

/// Compiled policies by namespace; an entry is reused while the stored
/// policy is unchanged (so replicas sharing a store agree without signals).
#[derive(Default)]
pub(crate) struct PullPolicies {
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
}

/// Checks a policy and compiles it; the error names the bad field.
pub(crate) fn compile(namespace: &str, policy: &PullPolicy) -> Result<Compiled, String> {
    if let Some(s) = &policy.block_severity {
        if !BLOCK_SEVERITIES.contains(&s.as_str()) {
            return Err(format!(
                "block_severity {s:?} is not one of {}",
                BLOCK_SEVERITIES.join(", ")
            ));
        }
    }
    for (i, a) in policy.allow.iter().enumerate() {
        if a.id.trim().is_empty() {
            return Err(format!("allow[{i}].id is empty"));
        }
        if let Some(e) = &a.expires {
            if caisson_report::parse_utc(e).is_none() {
                return Err(format!(
                    "allow[{i}].expires {e:?} is not YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ"
                ));
            }
        }
    }
    let keys = policy
        .trusted_keys
        .iter()
        .enumerate()
        .map(|(i, pem)| {
            PublicKey::from_pem(pem.as_bytes(), &format!("trusted_keys[{i}]"))
                .map_err(|e| format!("trusted_keys[{i}]: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if policy.require_signature && keys.is_empty() {
        return Err("require_signature needs at least one trusted key (trusted_keys)".into());
    }
    let mut policies = serde_json::Map::new();
    if policy.block_severity.is_some() || policy.block_unscanned {
        let unscanned = if policy.block_unscanned {
            "deny"
        } else {
            "allow"
        };
        let severity = policy.block_severity.as_deref().unwrap_or("critical");
        policies.insert(
            "vulnerability-threshold".into(),
            serde_json::json!({"parameters": {"severity": severity, "unscanned": unscanned}}),
        );
    }
    if policy.require_signature {
        policies.insert("signed-images".into(), serde_json::json!({}));
    }
    let origin = format!("pull policy of namespace {namespace}");
    let config_text = serde_json::json!({ "policies": policies }).to_string();
    let config = Config::parse(&config_text, &origin).map_err(|e| e.to_string())?;
    let mut b = PolicySet::builder();
    b.keep_memory_ceiling();
    for id in policies.keys() {
        b.builtin(id).map_err(|e| e.to_string())?;
    }
    b.config(config, origin);
    let set = b.build().map_err(|e| e.to_string())?;
    Ok(Compiled {
        policy: policy.clone(),
        set,
        keys,
    })
}

/// Whether `f` is allow-listed at `now_ms`: `Ok(true)` allowed, `Err(id)` an
/// entry matched but expired.
fn allowed(policy: &PullPolicy, f: &StoredFinding, now_ms: i64) -> Result<bool, String> {
    let mut expired = None;
    for a in &policy.allow {
        if a.id != f.id && !f.aliases.contains(&a.id) {
            continue;
        }
        match a.expires.as_deref().map(caisson_report::parse_utc) {
            None => return Ok(true),
            Some(Some(secs)) if secs.saturating_mul(1000) > now_ms => return Ok(true),
            Some(_) => {
                expired = Some(format!(
                    "{} (expired {})",
                    a.id,
                    a.expires.as_deref().unwrap_or("")
                ))
            }
        }
    }
    expired.map_or(Ok(false), Err)
}

/// What the stored scans say about the pulled digest.
struct ScanFacts {
    /// `None`: not scanned (or the scan failed, or no database to match).
    summary: Option<FindingsSummary>,
    blocking: Vec<StoredFinding>,
    expired: Vec<String>,
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    /// Applies the namespace's pull policy to a manifest GET of `rec`.
    pub(crate) async fn check_pull(
        &self,
        ctx: &Ctx,
        host: &str,
        repo: &str,
        reference: &str,
        rec: &ManifestRecord,
        bytes: &[u8],
    ) -> ApiResult<()> {
        let ns = namespace_of(repo);
        let Some(policy) = self.meta.pull_policy(ns).await? else {
            return Ok(());
        };
        // cosign's signature manifests carry an image config type; their
        // simple-signing layers tell them apart.
        let is_signature =
            || caisson_sign::cosign::parse_signature_manifest(bytes).is_ok_and(|l| !l.is_empty());
        let is_image = (is_scannable(rec) && !is_signature())
            || (media_type::is_index(&rec.media_type) && rec.subject.is_none());
        if !is_image
            || self
                .role_in(&ctx.authn.principal, ns)
                .await?
                .is_some_and(|r| r >= policy.bypass_role)
        {
            return Ok(());
        }
        let compiled = self.compiled_pull_policy(ns, policy)?;
        let policy = &compiled.policy;
        let scan = self.scan_facts(repo, rec, policy).await?;
        let signature = if policy.require_signature {
            Some(
                self.signature_verdict(repo, &rec.digest, &compiled.keys)
                    .await?,
            )
        } else {
            None
        };
        let image = format!("{host}/{repo}@{}", rec.digest);
        let facts = SupplyChainFacts {
            images: BTreeMap::from([(
                image.clone(),
                ImageFacts {
                    digest: Some(rec.digest.to_string()),
                    os: None,
                    signature,
                    findings: scan.summary.clone(),
                },
            )]),
        };
        let request = Request::image_pull(&ImagePull {
            image,
            namespace: ns.to_string(),
            repository: repo.to_string(),
            reference: reference.to_string(),
            actor: ctx.actor(),
        });
        let set = compiled.set.clone();
        let decision = tokio::task::spawn_blocking(move || set.evaluate(&request, &facts))
            .await
            .map_err(|e| ApiError::internal("evaluating the pull policy", &e))?;
        if decision.allowed {
            return Ok(());
        }
        let denial = PullDenial {
            namespace: ns.to_string(),
            repository: repo.to_string(),
            reference: reference.to_string(),
            digest: rec.digest.clone(),
            actor: ctx.actor(),
            violations: decision
                .denials
                .iter()
                .map(|v| PullViolation {
                    policy: v.policy.clone(),
                    check: v.check.clone(),
                    message: v.message.clone(),
                })
                .collect(),
            findings: if policy.block_severity.is_some() {
                scan.blocking
            } else {
                Vec::new()
            },
            expired_allowances: scan.expired,
        };
        let message = denial_message(&denial);
        self.audit(
            &ctx.actor(),
            &ctx.source,
            "pull",
            &format!("{repo}:{reference}"),
            Outcome::Denied,
            &message,
        )
        .await?;
        let detail = serde_json::to_value(&denial).unwrap_or_default();
        self.publish(RegistryEvent::PullBlocked(Box::new(denial)));
        Err(ApiError::new(Code::Denied, message).with_detail(detail))
    }

    fn compiled_pull_policy(&self, ns: &str, policy: PullPolicy) -> ApiResult<Arc<Compiled>> {
        let mut cache = self
            .pull_policies
            .compiled
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(c) = cache.get(ns).filter(|c| c.policy == policy) {
            return Ok(c.clone());
        }
        // Stored policies were checked when set; one that no longer compiles
        // (a key format dropped, say) fails closed, naming why.
        let c = Arc::new(compile(ns, &policy).map_err(|e| {
            ApiError::new(
                Code::Denied,
                format!("the pull policy of namespace {ns} is invalid ({e}); pulls are refused until an administrator fixes it"),
            )
        })?);
        cache.insert(ns.to_string(), c.clone());
        Ok(c)
    }

    async fn scan_facts(
        &self,
        repo: &str,
        rec: &ManifestRecord,
        policy: &PullPolicy,
    ) -> ApiResult<ScanFacts> {
        let images = if is_scannable(rec) {
            vec![rec.digest.clone()]
        } else {
            let mut v = Vec::new();
            for r in rec.refs.iter().filter(|r| r.kind == RefKind::Manifest) {
                if let Some(child) = self.meta.get_manifest(repo, &r.digest).await? {
                    if is_scannable(&child) {
                        v.push(child.digest);
                    }
                }
            }
            v
        };
        let min = policy
            .block_severity
            .as_deref()
            .and_then(severity_rank)
            .unwrap_or(usize::MAX);
        let has_db = caisson_registry_scan::has_database(self).await;
        let now = now_ms();
        let mut out = ScanFacts {
            summary: Some(FindingsSummary::default()),
            blocking: Vec::new(),
            expired: Vec::new(),
        };
        for d in &images {
            let scanned = has_db
                && self
                    .meta
                    .scan_record(repo, d)
                    .await?
                    .is_some_and(|r| r.state == ScanState::Scanned);
            if !scanned {
                out.summary = None;
                continue;
            }
            for f in self.meta.scan_findings(repo, d).await? {
                match allowed(policy, &f, now) {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(expired) => {
                        if !out.expired.contains(&expired) {
                            out.expired.push(expired);
                        }
                    }
                }
                if let Some(s) = out.summary.as_mut() {
                    count(s, &f.severity, policy.block_severity.is_some());
                }
                if severity_rank(&f.severity).is_some_and(|r| r >= min)
                    && !out
                        .blocking
                        .iter()
                        .any(|b| b.id == f.id && b.package == f.package)
                {
                    out.blocking.push(f);
                }
            }
        }
        out.blocking.sort_by(|a, b| {
            severity_rank(&b.severity)
                .cmp(&severity_rank(&a.severity))
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.package.cmp(&b.package))
        });
        Ok(out)
    }
}

/// Counts a finding into the summary the policy sees (nothing is counted
/// when the policy has no severity rule: only the unscanned rule applies).
fn count(s: &mut FindingsSummary, severity: &str, counting: bool) {
    if !counting {
        return;
    }
    match severity.to_ascii_uppercase().as_str() {
        "CRITICAL" => s.critical += 1,
        "HIGH" => s.high += 1,
        "MEDIUM" => s.medium += 1,
        "LOW" => s.low += 1,
        "UNKNOWN" => s.unknown += 1,
        _ => {}
    }
}

/// `pull of prod/app:v1 (sha256:…) denied by the pull policy of namespace
/// prod: vulnerability-threshold: …; findings: CVE-… in openssl 3.0.1
/// (HIGH, fixed in 3.0.2), … and 3 more`.
pub fn denial_message(d: &PullDenial) -> String {
    let mut m = format!(
        "pull of {}:{} ({}) denied by the pull policy of namespace {}: ",
        d.repository, d.reference, d.digest, d.namespace
    );
    let reasons: Vec<String> = d
        .violations
        .iter()
        .map(|v| format!("{}: {}", v.policy, v.message))
        .collect();
    m.push_str(&reasons.join("; "));
    if !d.findings.is_empty() {
        let named: Vec<String> = d
            .findings
            .iter()
            .take(NAMED_IN_MESSAGE)
            .map(|f| {
                let fixed = if f.fixed.is_empty() {
                    "no fix yet".to_string()
                } else {
                    format!("fixed in {}", f.fixed.join(", "))
                };
                format!(
                    "{} in {} {} ({}, {fixed})",
                    f.id, f.package, f.installed, f.severity
                )
            })
            .collect();
        m.push_str(&format!("; findings: {}", named.join(", ")));
        if d.findings.len() > NAMED_IN_MESSAGE {
            m.push_str(&format!(
                " and {} more (see the error detail or caisson registry status)",
                d.findings.len() - NAMED_IN_MESSAGE
            ));
        }
    }
    if !d.expired_allowances.is_empty() {
        m.push_str(&format!(
            "; expired allow-list entries: {}",
            d.expired_allowances.join(", ")
        ));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use caisson_registry_store::AllowedVulnerability;

    fn finding(id: &str, alias: &str) -> StoredFinding {
        StoredFinding {
            id: id.into(),
            aliases: vec![alias.into()],
            package: "openssl".into(),
            installed: "3.0.1".into(),
            purl: String::new(),
            fixed: vec![],
            severity: "HIGH".into(),
            title: None,
        }
    }

    fn policy(allow: Vec<(&str, Option<&str>)>) -> PullPolicy {
        serde_json::from_value(serde_json::json!({
            "block_severity": "high",
            "allow": allow.into_iter().map(|(id, e)| AllowedVulnerability {
                id: id.into(), expires: e.map(str::to_string), reason: None
            }).collect::<Vec<_>>(),
        }))
        .expect("policy")
    }

    #[test]
    fn allow_list_matches_ids_and_aliases_until_expiry() {
        let now = caisson_report::parse_utc("2026-06-01").expect("date") * 1000;
        let f = finding("DSA-1", "CVE-2026-1");
        assert_eq!(
            allowed(&policy(vec![("CVE-2026-1", None)]), &f, now),
            Ok(true)
        );
        assert_eq!(
            allowed(&policy(vec![("DSA-1", Some("2026-06-02"))]), &f, now),
            Ok(true)
        );
        assert_eq!(
            allowed(&policy(vec![("CVE-2026-1", Some("2026-06-01"))]), &f, now),
            Err("CVE-2026-1 (expired 2026-06-01)".into())
        );
        assert_eq!(
            allowed(&policy(vec![("CVE-2026-2", None)]), &f, now),
            Ok(false)
        );
        // An expired entry next to a live one for the same finding: allowed.
        assert_eq!(
            allowed(
                &policy(vec![("CVE-2026-1", Some("2020-01-01")), ("DSA-1", None)]),
                &f,
                now
            ),
            Ok(true)
        );
    }

    #[test]
    fn compile_names_what_is_wrong() {
        let bad = |v: serde_json::Value| {
            let p: PullPolicy = serde_json::from_value(v).expect("shape");
            compile("prod", &p).err().expect("refused")
        };
        assert!(bad(serde_json::json!({"block_severity": "severe"}))
            .contains("block_severity \"severe\""));
        assert!(
            bad(serde_json::json!({"allow": [{"id": "CVE-1", "expires": "next year"}]}))
                .contains("allow[0].expires \"next year\"")
        );
        assert!(bad(serde_json::json!({"require_signature": true}))
            .contains("at least one trusted key"));
        assert!(
            bad(serde_json::json!({"trusted_keys": ["not a key"]})).starts_with("trusted_keys[0]")
        );
        let ok: PullPolicy =
            serde_json::from_value(serde_json::json!({"block_severity": "medium"})).expect("shape");
        let c = compile("prod", &ok).expect("compiles");
        let ids: Vec<String> = c.set.policies().into_iter().map(|p| p.meta.id).collect();
        assert_eq!(ids, vec!["vulnerability-threshold"]);
    }

    #[test]
    fn message_names_policy_findings_and_caps_the_list() {
        let mut d = PullDenial {
            namespace: "prod".into(),
            repository: "prod/app".into(),
            reference: "v1".into(),
            digest: Digest::sha256(b"x"),
            actor: "robot:robot$k8s".into(),
            violations: vec![PullViolation {
                policy: "vulnerability-threshold".into(),
                check: Some("findings".into()),
                message: "7 vulnerabilities at or above high".into(),
            }],
            findings: (0..7)
                .map(|i| finding(&format!("CVE-2026-{i}"), ""))
                .collect(),
            expired_allowances: vec![],
        };
        d.findings[0].fixed = vec!["3.0.2".into()];
        let m = denial_message(&d);
        assert!(m.starts_with("pull of prod/app:v1 (sha256:"), "{m}");
        assert!(m.contains("denied by the pull policy of namespace prod: vulnerability-threshold: 7 vulnerabilities"), "{m}");
        assert!(
            m.contains("CVE-2026-0 in openssl 3.0.1 (HIGH, fixed in 3.0.2)"),
            "{m}"
        );
        assert!(
            m.contains("CVE-2026-4 in openssl 3.0.1 (HIGH, no fix yet)"),
            "{m}"
        );
        assert!(!m.contains("CVE-2026-5"), "{m}");
        assert!(m.contains("and 2 more"), "{m}");
    }
}
