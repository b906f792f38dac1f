//! Building the Rego input document for one object: the pod spec of any workload
//! kind flattened into `input.pod`, the images with their supply-chain facts, and
//! an AdmissionReview-shaped `input.review` for Gatekeeper templates.

use serde_json::{json, Map, Value as Json};

use crate::facts::SupplyChainFacts;
use crate::model::ObjectRef;

/// Where a gate evaluates: recorded in `input.gate` so policies may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Gate {
    #[default]
    Ci,
    Registry,
    Admission,
}

impl Gate {
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Ci => "ci",
            Gate::Registry => "registry",
            Gate::Admission => "admission",
        }
    }
}

/// Bounds applied to every object before it reaches Rego.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// Serialized size of the object (JSON bytes).
    pub max_bytes: usize,
    /// Nesting depth of arrays and objects.
    pub max_depth: usize,
    /// Number of JSON values.
    pub max_nodes: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        // Kubernetes objects are at most ~1.5 MiB (etcd's request limit).
        InputLimits {
            max_bytes: 3 << 20,
            max_depth: 64,
            max_nodes: 200_000,
        }
    }
}

/// Checks size, depth and node count without recursion.
pub fn check_bounds(value: &Json, limits: &InputLimits) -> Result<(), String> {
    let mut stack: Vec<(&Json, usize)> = vec![(value, 1)];
    let mut nodes = 0usize;
    let mut bytes = 0usize;
    while let Some((v, depth)) = stack.pop() {
        nodes += 1;
        if nodes > limits.max_nodes {
            return Err(format!(
                "object has more than {} values (limit)",
                limits.max_nodes
            ));
        }
        if depth > limits.max_depth {
            return Err(format!(
                "object nests deeper than {} levels (limit)",
                limits.max_depth
            ));
        }
        match v {
            Json::Array(items) => {
                bytes = bytes.saturating_add(2 + items.len());
                stack.extend(items.iter().map(|i| (i, depth + 1)));
            }
            Json::Object(map) => {
                bytes = bytes.saturating_add(2 + map.len());
                for (k, item) in map {
                    bytes = bytes.saturating_add(k.len() + 3);
                    stack.push((item, depth + 1));
                }
            }
            Json::String(s) => bytes = bytes.saturating_add(s.len() + 2),
            _ => bytes = bytes.saturating_add(8),
        }
        if bytes > limits.max_bytes {
            return Err(format!(
                "object is larger than {} bytes (limit)",
                limits.max_bytes
            ));
        }
    }
    Ok(())
}

/// `apiVersion` and `kind` of the object a registry pull is evaluated as.
pub const IMAGE_PULL_API_VERSION: &str = "registry.caisson.dev/v1";
pub const IMAGE_PULL_KIND: &str = "ImagePull";

/// One image pull from a registry namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePull {
    /// `registry/repository@sha256:…`, as the facts are keyed.
    pub image: String,
    /// The registry namespace (the repository's first component).
    pub namespace: String,
    pub repository: String,
    /// The tag or digest the client asked for.
    pub reference: String,
    /// Who pulls (`robot:robot$prod`, `user:alice`, `anonymous`).
    pub actor: String,
}

/// An object to evaluate, in the shape of an admission request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// AdmissionReview `request`: `uid`, `kind`, `name`, `namespace`, `operation`,
    /// `object`, `oldObject`, `userInfo`…
    pub review: Json,
    /// Labels of the object's namespace, when the caller knows them (Gatekeeper
    /// `namespaceSelector`).
    pub namespace_labels: Option<Map<String, Json>>,
    /// Where the object came from (`deploy.yaml#1`), for output.
    pub origin: Option<String>,
    pub gate: Gate,
}

impl Request {
    /// A CREATE request for a manifest object (CI and `caisson policy check`).
    pub fn from_object(object: Json) -> Request {
        let (group, version) = split_api_version(str_at(&object, &["apiVersion"]));
        let review = json!({
            "uid": "",
            "kind": {"group": group, "version": version, "kind": str_at(&object, &["kind"])},
            "name": str_at(&object, &["metadata", "name"]),
            "namespace": str_at(&object, &["metadata", "namespace"]),
            "operation": "CREATE",
            "object": object,
            "oldObject": Json::Null,
            "userInfo": {"username": "", "groups": []},
            "dryRun": true,
        });
        Request {
            review,
            namespace_labels: None,
            origin: None,
            gate: Gate::Ci,
        }
    }

    /// The `request` of an AdmissionReview, as the API server sends it.
    pub fn from_admission_request(request: Json) -> Request {
        Request {
            review: request,
            namespace_labels: None,
            origin: None,
            gate: Gate::Admission,
        }
    }

    /// A pull of one image from a registry, for the registry's pull policies
    /// (`kind: ImagePull`; the image is `input.images[0]`).
    pub fn image_pull(pull: &ImagePull) -> Request {
        let object = json!({
            "apiVersion": IMAGE_PULL_API_VERSION,
            "kind": IMAGE_PULL_KIND,
            "metadata": {"name": pull.repository, "namespace": pull.namespace},
            "spec": {
                "image": pull.image,
                "repository": pull.repository,
                "reference": pull.reference,
                "actor": pull.actor,
            },
        });
        let (group, version) = split_api_version(IMAGE_PULL_API_VERSION);
        let review = json!({
            "uid": "",
            "kind": {"group": group, "version": version, "kind": IMAGE_PULL_KIND},
            "name": pull.repository,
            "namespace": pull.namespace,
            "operation": "PULL",
            "object": object,
            "oldObject": Json::Null,
            "userInfo": {"username": pull.actor, "groups": []},
            "dryRun": false,
        });
        Request {
            review,
            namespace_labels: None,
            origin: None,
            gate: Gate::Registry,
        }
    }

    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    pub fn object(&self) -> &Json {
        self.review.get("object").unwrap_or(&Json::Null)
    }

    /// The namespace: the request's, else the object's.
    pub fn namespace(&self) -> Option<&str> {
        let ns = self
            .review
            .get("namespace")
            .and_then(Json::as_str)
            .filter(|s| !s.is_empty());
        ns.or_else(|| {
            self.object()
                .pointer("/metadata/namespace")
                .and_then(Json::as_str)
                .filter(|s| !s.is_empty())
        })
    }

    pub fn object_ref(&self) -> ObjectRef {
        let obj = self.object();
        let name = obj
            .pointer("/metadata/name")
            .and_then(Json::as_str)
            .or_else(|| obj.pointer("/metadata/generateName").and_then(Json::as_str))
            .or_else(|| self.review.get("name").and_then(Json::as_str))
            .unwrap_or("")
            .to_string();
        let kind = obj
            .get("kind")
            .and_then(Json::as_str)
            .or_else(|| self.review.pointer("/kind/kind").and_then(Json::as_str))
            .unwrap_or("")
            .to_string();
        ObjectRef {
            api_version: str_at(obj, &["apiVersion"]).to_string(),
            kind,
            namespace: self.namespace().map(str::to_string),
            name,
            origin: self.origin.clone(),
        }
    }
}

fn str_at<'a>(v: &'a Json, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return "",
        }
    }
    cur.as_str().unwrap_or("")
}

fn split_api_version(av: &str) -> (&str, &str) {
    match av.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", av),
    }
}

/// Where the pod template sits in each workload kind: (spec path, metadata path).
pub fn pod_location(kind: &str) -> Option<(&'static [&'static str], &'static [&'static str])> {
    Some(match kind {
        "Pod" => (&["spec"], &["metadata"]),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "Job"
        | "ReplicationController" => (
            &["spec", "template", "spec"],
            &["spec", "template", "metadata"],
        ),
        "CronJob" => (
            &["spec", "jobTemplate", "spec", "template", "spec"],
            &["spec", "jobTemplate", "spec", "template", "metadata"],
        ),
        "PodTemplate" => (&["template", "spec"], &["template", "metadata"]),
        _ => return None,
    })
}

fn at<'a>(v: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(v, |cur, p| cur.get(p))
}

pub const CONTAINER_TYPES: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// One container of the pod, as given to Rego in `input.pod.containers`.
#[derive(Debug, Clone)]
pub(crate) struct ContainerEntry<'a> {
    pub ctype: &'static str,
    pub index: usize,
    pub path: String,
    pub container: &'a Json,
    pub image: Option<&'a str>,
    pub name: &'a str,
}

/// The pod spec of the object (for any workload kind), or `None`.
pub(crate) struct PodView<'a> {
    pub path: String,
    pub metadata_path: String,
    pub spec: &'a Json,
    pub metadata: &'a Json,
    pub containers: Vec<ContainerEntry<'a>>,
}

pub(crate) fn pod_view(object: &Json) -> Option<PodView<'_>> {
    let kind = object.get("kind").and_then(Json::as_str)?;
    let (spec_path, meta_path) = pod_location(kind)?;
    let spec = at(object, spec_path).filter(|s| s.is_object())?;
    let metadata = at(object, meta_path).unwrap_or(&Json::Null);
    let path = spec_path.join(".");
    let mut containers = Vec::new();
    for ctype in CONTAINER_TYPES {
        let Some(list) = spec.get(ctype).and_then(Json::as_array) else {
            continue;
        };
        for (index, container) in list.iter().enumerate() {
            containers.push(ContainerEntry {
                ctype,
                index,
                path: format!("{path}.{ctype}[{index}]"),
                container,
                image: container.get("image").and_then(Json::as_str),
                name: container.get("name").and_then(Json::as_str).unwrap_or(""),
            });
        }
    }
    Some(PodView {
        path,
        metadata_path: meta_path.join("."),
        spec,
        metadata,
        containers,
    })
}

/// The image of every container (`containers`, `initContainers`,
/// `ephemeralContainers`) of a Pod or of any kind that embeds a pod
/// template, as written, without duplicates.
pub fn container_images(object: &Json) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(view) = pod_view(object) {
        for c in view.containers {
            if let Some(image) = c.image {
                if !out.iter().any(|i| i == image) {
                    out.push(image.to_string());
                }
            }
        }
    }
    out
}

fn label_for(ctype: &str, name: &str) -> String {
    let what = match ctype {
        "initContainers" => "init container",
        "ephemeralContainers" => "ephemeral container",
        _ => "container",
    };
    format!("{what} {}", Json::String(name.to_string()))
}

/// Builds `input` (without `parameters`) for one request. Containers whose image is
/// exempt are left out of `input.pod.containers` and `input.images`.
pub(crate) fn build_input(
    req: &Request,
    facts: &SupplyChainFacts,
    image_exempt: &dyn Fn(&str) -> bool,
) -> Json {
    let object = req.object();
    let mut pod = Json::Null;
    let mut images = Vec::new();
    if let Some(image) = pulled_image(object).filter(|i| !image_exempt(i)) {
        images.push(image_entry(image, "spec.image", "", "", facts));
    }
    if let Some(view) = pod_view(object) {
        let mut containers = Vec::new();
        for c in &view.containers {
            if c.image.is_some_and(image_exempt) {
                continue;
            }
            containers.push(json!({
                "type": c.ctype,
                "index": c.index,
                "name": c.name,
                "label": label_for(c.ctype, c.name),
                "path": c.path,
                "container": c.container,
            }));
            if let Some(image) = c.image {
                let path = format!("{}.image", c.path);
                images.push(image_entry(image, &path, c.name, c.ctype, facts));
            }
        }
        pod = json!({
            "path": view.path,
            "metadata_path": view.metadata_path,
            "metadata": view.metadata,
            "spec": view.spec,
            "containers": containers,
        });
    }
    json!({
        "object": object,
        "kind": object.get("kind").cloned().unwrap_or(Json::Null),
        "namespace": req.namespace(),
        "review": req.review,
        "pod": pod,
        "images": images,
        "gate": req.gate.as_str(),
    })
}

/// The image of an [`ImagePull`] object.
fn pulled_image(object: &Json) -> Option<&str> {
    if object.get("kind").and_then(Json::as_str) != Some(IMAGE_PULL_KIND)
        || object.get("apiVersion").and_then(Json::as_str) != Some(IMAGE_PULL_API_VERSION)
    {
        return None;
    }
    object.pointer("/spec/image").and_then(Json::as_str)
}

fn image_entry(
    image: &str,
    path: &str,
    container: &str,
    container_type: &str,
    facts: &SupplyChainFacts,
) -> Json {
    let parsed = image.parse::<caisson_oci::Reference>();
    let (registry, repository, name, tag, digest, error) = match &parsed {
        Ok(r) => (
            Json::from(r.registry.clone()),
            Json::from(r.repository.clone()),
            Json::from(r.name()),
            r.tag.clone().map_or(Json::Null, Json::from),
            r.digest
                .as_ref()
                .map_or(Json::Null, |d| Json::from(d.to_string())),
            Json::Null,
        ),
        Err(e) => (
            Json::Null,
            Json::Null,
            Json::Null,
            Json::Null,
            Json::Null,
            Json::from(e.to_string()),
        ),
    };
    let f = facts.lookup(image, digest.as_str());
    json!({
        "ref": image,
        "path": path,
        "container": container,
        "container_type": container_type,
        "registry": registry,
        "repository": repository,
        "name": name,
        "tag": tag,
        "digest": f.digest.map_or(digest, Json::from),
        "pinned": parsed.as_ref().is_ok_and(|r| r.digest.is_some()),
        "error": error,
        "os": f.os.map_or(Json::Null, |o| json!(o)),
        "signature": f.signature.map_or(Json::Null, |s| json!(s)),
        "findings": f.findings.map_or(Json::Null, |s| json!(s)),
    })
}
