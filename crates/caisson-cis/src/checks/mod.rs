//! The decisions, one module per benchmark section. Each check is a pure
//! function of [`Ctx`] returning an [`Outcome`] keyed by the catalog's `key`.

pub mod daemon;
pub mod files;
pub mod host;
pub mod images;
pub mod runtime;

use crate::config::DaemonConfig;
use crate::facts::{ContainerFacts, HostFacts};
use crate::model::{Object, Status};

/// What the checks read.
pub struct Ctx<'a> {
    pub host: &'a HostFacts,
    pub cfg: DaemonConfig<'a>,
    pub containers: &'a [ContainerFacts],
    /// Users allowed in the docker group (1.1.2); `None`: list them as info.
    pub trusted_users: Option<&'a [String]>,
}

/// One check's verdict before it is numbered for a benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub key: &'static str,
    pub status: Status,
    pub evidence: String,
    pub objects: Vec<Object>,
}

impl Outcome {
    pub fn new(key: &'static str, status: Status, evidence: impl Into<String>) -> Outcome {
        Outcome {
            key,
            status,
            evidence: evidence.into(),
            objects: Vec::new(),
        }
    }

    pub fn with_objects(mut self, objects: Vec<Object>) -> Outcome {
        self.objects = objects;
        self
    }
}

/// A per-container verdict: `Ok(evidence)` compliant, `Err(evidence)` not.
pub type Verdict = Result<String, String>;

/// How many objects' evidence the summary evidence lists.
const EVIDENCE_ITEMS: usize = 10;

/// Runs `f` on every container: `fail` status with the failing containers as
/// objects if any fails, else `pass`. No containers: not applicable.
pub fn per_container(
    key: &'static str,
    containers: &[ContainerFacts],
    fail: Status,
    f: impl Fn(&ContainerFacts) -> Verdict,
) -> Outcome {
    if containers.is_empty() {
        return Outcome::new(key, Status::NotApplicable, "no running containers");
    }
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for c in containers {
        let obj = |evidence: String| Object::Container {
            id: c.id().to_string(),
            name: c.name().to_string(),
            evidence,
        };
        match f(c) {
            Ok(e) => ok.push(obj(e)),
            Err(e) => bad.push(obj(e)),
        }
    }
    if bad.is_empty() {
        Outcome::new(key, Status::Pass, summarize(&ok))
    } else {
        Outcome::new(key, fail, summarize(&bad)).with_objects(bad)
    }
}

/// `name: evidence; …` for the first few objects, then `… and N more`.
pub fn summarize(objects: &[Object]) -> String {
    let mut parts: Vec<String> = objects
        .iter()
        .take(EVIDENCE_ITEMS)
        .map(|o| match o {
            Object::Container { name, evidence, .. } => format!("{name}: {evidence}"),
            Object::File { path, evidence } => format!("{path}: {evidence}"),
            Object::Image { .. } => format!("{}: {}", o.label(), o.evidence()),
        })
        .collect();
    if objects.len() > EVIDENCE_ITEMS {
        parts.push(format!("… and {} more", objects.len() - EVIDENCE_ITEMS));
    }
    parts.join("; ")
}

/// Every outcome, in catalog order.
pub fn all(ctx: &Ctx<'_>) -> Vec<Outcome> {
    let mut out = Vec::new();
    out.extend(host::checks(ctx));
    out.extend(daemon::checks(ctx));
    out.extend(files::checks(ctx));
    out.extend(images::checks(ctx));
    out.extend(runtime::checks(ctx));
    out.extend(host::operations(ctx));
    out
}
