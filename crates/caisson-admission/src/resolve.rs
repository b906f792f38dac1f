//! Supply-chain facts looked up live for the images an admission request
//! names: the digest each reference resolves to, the signature verdict of
//! the real verifier ([`caisson_registry_client::signatures`]) against the
//! trusted keys, and — when the image lives in a Caisson registry — its
//! stored scan results (findings per severity from the digest's health, the
//! OS from its stored SBOM). Everything is cached per
//! `registry/repository@digest`, tag resolutions per reference, each for a
//! bounded time, so a warm webhook decides without the network. Facts given
//! statically (`--facts`) win over looked-up ones, field by field.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use caisson_oci::Reference;
use caisson_policy::{FindingsSummary, ImageFacts, OsFacts, SignatureVerdict, SupplyChainFacts};
use caisson_registry_client::caisson_api::CaissonApi;
use caisson_registry_client::signatures::{verify_resolved, Requirements};
use caisson_registry_client::{Client, ResolvedManifest};
use caisson_sign::PublicKey;

/// Where live facts come from; the webhook asks once per request.
pub trait FactsSource: Send + Sync {
    /// Facts for `images` (references as written in the object), added to
    /// `base` where `base` leaves a field empty.
    fn facts(&self, images: &[String], base: &SupplyChainFacts) -> SupplyChainFacts;

    /// The facts to decide with when the lookup could not run or finish
    /// (`why`): what `base` says, plus whatever the source would have
    /// looked up marked as failed for `why`.
    fn unavailable(
        &self,
        images: &[String],
        base: &SupplyChainFacts,
        why: &str,
    ) -> SupplyChainFacts {
        let _ = (images, why);
        base.clone()
    }
}

/// How long looked-up facts are reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTimes {
    /// A tag's resolution to a digest (tags move).
    pub tag: Duration,
    /// A signature verdict for a digest (signatures can be added or removed).
    pub verdict: Duration,
    /// A failure (unreachable registry, unknown image): retried sooner.
    pub failure: Duration,
}

impl Default for CacheTimes {
    fn default() -> Self {
        CacheTimes {
            tag: Duration::from_secs(30),
            verdict: Duration::from_secs(300),
            failure: Duration::from_secs(10),
        }
    }
}

/// Where to read stored scan results: the image's own registry, when it is a
/// Caisson registry (plain HTTP for `insecure` hosts, extra roots from `ca`).
#[derive(Debug, Clone, Default)]
pub struct ScanResults {
    pub insecure: Vec<String>,
    pub ca: Option<std::path::PathBuf>,
}

/// What a Caisson registry says about a digest.
#[derive(Debug, Clone, Default)]
struct Scanned {
    findings: Option<FindingsSummary>,
    os: Option<OsFacts>,
}

/// Signature verdicts from the registry, verified with `keys` (none: no
/// signature lookups), and optionally stored scan results.
pub struct SignatureFacts {
    client: Client,
    keys: Vec<PublicKey>,
    requirements: Requirements,
    scan: Option<ScanResults>,
    times: CacheTimes,
    apis: Mutex<HashMap<String, Option<std::sync::Arc<CaissonApi>>>>,
    scans: Mutex<HashMap<String, Cached<Scanned>>>,
    manifests: Mutex<HashMap<String, Cached<Result<ResolvedManifest, String>>>>,
    verdicts: Mutex<HashMap<String, Cached<SignatureVerdict>>>,
}

/// A value and when it was looked up.
type Cached<T> = (Instant, T);

impl std::fmt::Debug for SignatureFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureFacts")
            .field("keys", &self.keys.len())
            .field("times", &self.times)
            .finish()
    }
}

impl SignatureFacts {
    pub fn new(client: Client, keys: Vec<PublicKey>, requirements: Requirements) -> Self {
        SignatureFacts::with_times(client, keys, requirements, CacheTimes::default())
    }

    pub fn with_times(
        client: Client,
        keys: Vec<PublicKey>,
        requirements: Requirements,
        times: CacheTimes,
    ) -> Self {
        SignatureFacts {
            client,
            keys,
            requirements,
            scan: None,
            times,
            apis: Mutex::new(HashMap::new()),
            scans: Mutex::new(HashMap::new()),
            manifests: Mutex::new(HashMap::new()),
            verdicts: Mutex::new(HashMap::new()),
        }
    }

    /// Also reads stored scan results from Caisson registries.
    pub fn with_scan_results(mut self, scan: ScanResults) -> Self {
        self.scan = Some(scan);
        self
    }

    fn api(&self, reference: &Reference) -> Option<std::sync::Arc<CaissonApi>> {
        let scan = self.scan.as_ref()?;
        let mut apis = lock(&self.apis);
        apis.entry(reference.registry.clone())
            .or_insert_with(|| {
                CaissonApi::for_reference(reference, &scan.insecure, scan.ca.as_deref(), None)
                    .map_err(|e| tracing::warn!(registry = %reference.registry, error = %e, "registry API client"))
                    .ok()
                    .map(std::sync::Arc::new)
            })
            .clone()
    }

    /// Findings and OS of `digest` from its Caisson registry; nothing when
    /// the registry is not one, has no scan, or cannot be reached.
    fn scanned(&self, reference: &Reference, digest: &str) -> Scanned {
        let Some(api) = self.api(reference) else {
            return Scanned::default();
        };
        let key = format!("{}@{digest}", reference.name());
        let ttl = |s: &Scanned| {
            if s.findings.is_some() {
                self.times.verdict
            } else {
                self.times.failure
            }
        };
        cached(&self.scans, &key, ttl, || {
            self.fetch_scanned(&api, reference, digest, &key)
        })
    }

    fn fetch_scanned(
        &self,
        api: &CaissonApi,
        reference: &Reference,
        digest: &str,
        key: &str,
    ) -> Scanned {
        let path = format!("/repositories/{}/manifests/{digest}", reference.repository);
        let mut out = Scanned::default();
        match api.call(reqwest::Method::GET, &format!("{path}/health")) {
            Ok(h)
                if matches!(
                    h.get("health").and_then(serde_json::Value::as_str),
                    Some("healthy" | "vulnerable")
                ) =>
            {
                let n = |sev: &str| {
                    h.get("counts")
                        .and_then(|c| c.get(sev))
                        .and_then(serde_json::Value::as_u64)
                        .unwrap_or(0)
                };
                out.findings = Some(FindingsSummary {
                    critical: n("CRITICAL"),
                    high: n("HIGH"),
                    medium: n("MEDIUM"),
                    low: n("LOW"),
                    unknown: n("UNKNOWN"),
                });
                if let Ok(bytes) = api.call_bytes(reqwest::Method::GET, &format!("{path}/sbom")) {
                    if let Ok((sbom, _)) = caisson_report::read_sbom(&bytes) {
                        out.os = sbom.os.map(|os| OsFacts {
                            id: os.id,
                            version_id: os.version_id,
                        });
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(image = %key, error = %e, "no stored scan results"),
        }
        out
    }

    fn resolve(&self, image: &str, reference: &Reference) -> Result<ResolvedManifest, String> {
        // A reference pinned by digest names immutable content.
        let ttl =
            |r: &Result<ResolvedManifest, String>| match (r.is_ok(), reference.digest.is_some()) {
                (false, _) => self.times.failure,
                (true, true) => self.times.verdict,
                (true, false) => self.times.tag,
            };
        cached(&self.manifests, image, ttl, || {
            self.client
                .resolve(reference)
                .map_err(|e| format!("cannot resolve {image}: {e}"))
        })
    }

    fn verdict(&self, reference: &Reference, image: ResolvedManifest) -> SignatureVerdict {
        let key = format!("{}@{}", reference.name(), image.digest);
        let ttl = |v: &SignatureVerdict| {
            if v.verified || v.key.is_some() {
                self.times.verdict
            } else {
                self.times.failure
            }
        };
        cached(&self.verdicts, &key, ttl, || self.verify(reference, image))
    }

    fn verify(&self, reference: &Reference, image: ResolvedManifest) -> SignatureVerdict {
        match verify_resolved(
            &self.client,
            reference,
            image,
            &self.keys,
            &self.requirements,
        ) {
            Ok(out) => match out.result {
                Ok(verified) => SignatureVerdict {
                    verified: true,
                    key: verified.first().map(|v| v.key.clone()),
                    reason: None,
                },
                Err(e) => SignatureVerdict {
                    verified: false,
                    key: None,
                    reason: Some(e.to_string()),
                },
            },
            Err(e) => SignatureVerdict {
                verified: false,
                key: None,
                reason: Some(format!("cannot read the signatures: {e}")),
            },
        }
    }

    fn image_facts(&self, image: &str) -> ImageFacts {
        let reference: Reference = match image.parse() {
            Ok(r) => r,
            Err(e) => {
                return ImageFacts {
                    signature: (!self.keys.is_empty())
                        .then(|| unverified(format!("{image:?} is not an image reference: {e}"))),
                    ..ImageFacts::default()
                }
            }
        };
        match self.resolve(image, &reference) {
            Ok(manifest) => {
                let digest = manifest.digest.to_string();
                let scanned = self.scanned(&reference, &digest);
                ImageFacts {
                    digest: Some(digest),
                    signature: (!self.keys.is_empty()).then(|| self.verdict(&reference, manifest)),
                    findings: scanned.findings,
                    os: scanned.os,
                }
            }
            Err(reason) => ImageFacts {
                signature: (!self.keys.is_empty()).then(|| unverified(reason)),
                ..ImageFacts::default()
            },
        }
    }
}

fn unverified(reason: String) -> SignatureVerdict {
    SignatureVerdict {
        verified: false,
        key: None,
        reason: Some(reason),
    }
}

/// The value cached under `key` while `ttl(value)` says it is fresh, else
/// `compute()`'s, cached from now.
fn cached<T: Clone>(
    map: &Mutex<HashMap<String, Cached<T>>>,
    key: &str,
    ttl: impl Fn(&T) -> Duration,
    compute: impl FnOnce() -> T,
) -> T {
    let now = Instant::now();
    if let Some((at, v)) = lock(map).get(key) {
        if now.duration_since(*at) < ttl(v) {
            return v.clone();
        }
    }
    let v = compute();
    lock(map).insert(key.to_string(), (now, v.clone()));
    v
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FactsSource for SignatureFacts {
    fn facts(&self, images: &[String], base: &SupplyChainFacts) -> SupplyChainFacts {
        let mut out = base.clone();
        for image in images {
            let given = base.images.get(image).cloned().unwrap_or_default();
            let wants_signature = !self.keys.is_empty() && given.signature.is_none();
            let wants_scan =
                self.scan.is_some() && (given.findings.is_none() || given.os.is_none());
            if !wants_signature && !wants_scan {
                continue;
            }
            let live = self.image_facts(image);
            let entry = out.images.entry(image.clone()).or_default();
            if entry.digest.is_none() {
                entry.digest = live.digest;
            }
            if entry.signature.is_none() {
                entry.signature = live.signature;
            }
            if entry.findings.is_none() {
                entry.findings = live.findings;
            }
            if entry.os.is_none() {
                entry.os = live.os;
            }
        }
        out
    }

    fn unavailable(
        &self,
        images: &[String],
        base: &SupplyChainFacts,
        why: &str,
    ) -> SupplyChainFacts {
        let mut out = base.clone();
        if self.keys.is_empty() {
            return out;
        }
        for image in images {
            let entry = out.images.entry(image.clone()).or_default();
            if entry.signature.is_none() {
                entry.signature = Some(unverified(why.to_string()));
            }
        }
        out
    }
}
