//! Section 4: the images of the running containers. The image-content
//! decisions are caisson-misconfig's ([`caisson_misconfig::check_image`]):
//! this module feeds it the engine's image config and history and maps its
//! findings to CIS items.

use std::collections::BTreeMap;

use caisson_misconfig::{check_image, FileFact, ImageInput, MisconfigFinding};
use serde_json::{json, Value};

use super::{per_container, Ctx, Outcome};
use crate::facts::ContainerFacts;
use crate::model::{Object, Status};

pub fn checks(ctx: &Ctx<'_>) -> Vec<Outcome> {
    let images = images(ctx.containers);
    vec![
        user(ctx),
        Outcome::new("image-trusted-base", Status::Note, "which base images are trusted is a policy decision; verify signatures with `caisson verify`"),
        Outcome::new("image-minimal", Status::Note, "review each image's packages (`caisson sbom`)"),
        Outcome::new("image-patched", Status::Note, "scan the running images (`caisson host inventory`) and rebuild on fixes"),
        content_trust(ctx),
        per_image("image-healthcheck", &images, Status::Warn, |i| {
            findings(i, "no-healthcheck").map(|f| f.is_empty().then(|| "HEALTHCHECK set".to_string()).ok_or_else(|| "no HEALTHCHECK in the image config".to_string()))
        }),
        per_image("image-update-alone", &images, Status::Info, update_alone),
        setuid(&images),
        per_image("image-add", &images, Status::Info, |i| {
            i.history.as_ref()?;
            findings(i, "add-instead-of-copy").map(|f| listed(f, "no ADD of URLs or archives in the history"))
        }),
        per_image("image-secrets", &images, Status::Warn, |i| {
            findings(i, "secret-in-env-arg").map(|f| listed(f, "no secret-like ENV/ARG in config or history"))
        }),
        Outcome::new("image-verified-packages", Status::Note, "package signature verification happens at build time; not visible in the image"),
        Outcome::new("image-signed-artifacts", Status::Note, "verify image signatures before they run (`caisson verify`, registry pull policies)"),
    ]
}

/// One image and what is known about it.
struct Img<'a> {
    id: &'a str,
    reference: Option<String>,
    config: Option<Value>,
    history: Option<Vec<Value>>,
    files: Option<Vec<FileFact>>,
}

/// Distinct images of the running containers (first container wins).
fn images(containers: &[ContainerFacts]) -> Vec<Img<'_>> {
    let mut by_id: BTreeMap<&str, Img<'_>> = BTreeMap::new();
    for c in containers {
        let Some(id) = c.inspect.image.as_deref() else {
            continue;
        };
        by_id.entry(id).or_insert_with(|| Img {
            id,
            reference: c
                .image
                .as_ref()
                .and_then(|i| i.repo_tags.as_ref())
                .and_then(|t| t.first().cloned())
                .or_else(|| c.inspect.config.as_ref().and_then(|cfg| cfg.image.clone())),
            config: c
                .image
                .as_ref()
                .and_then(|i| i.config.as_ref())
                .and_then(|cfg| serde_json::to_value(cfg).ok()),
            // The engine lists history newest first; image configs (and
            // caisson-misconfig's `history[N]`) oldest first.
            history: c.history.as_ref().map(|h| {
                h.iter()
                    .rev()
                    .map(|i| json!({"created_by": i.created_by}))
                    .collect()
            }),
            files: c.setuid_files.as_ref().map(|f| {
                f.iter()
                    .map(|(path, mode)| FileFact {
                        path: path.clone(),
                        mode: *mode,
                    })
                    .collect()
            }),
        });
    }
    by_id.into_values().collect()
}

/// caisson-misconfig's findings with this id; `None` when the image config
/// is unknown.
fn findings(i: &Img<'_>, id: &str) -> Option<Vec<MisconfigFinding>> {
    let config = i.config.as_ref()?;
    let history = i.history.clone().unwrap_or_default();
    let files = i.files.clone().unwrap_or_default();
    let all = check_image(&ImageInput {
        config: Some(config),
        history: &history,
        files: &files,
    });
    Some(all.into_iter().filter(|f| f.id == id).collect())
}

/// `Ok(pass)` when `f` is empty, else the messages with their locations.
fn listed(f: Vec<MisconfigFinding>, pass: &str) -> Result<String, String> {
    if f.is_empty() {
        Ok(pass.to_string())
    } else {
        Err(f
            .iter()
            .map(|f| format!("{} ({})", f.message, f.location))
            .collect::<Vec<_>>()
            .join(", "))
    }
}

/// Runs `f` per image: `None` means the facts it needs are missing.
fn per_image(
    key: &'static str,
    images: &[Img<'_>],
    fail: Status,
    f: impl Fn(&Img<'_>) -> Option<Result<String, String>>,
) -> Outcome {
    if images.is_empty() {
        return Outcome::new(key, Status::NotApplicable, "no running containers");
    }
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    let mut unknown = Vec::new();
    for i in images {
        let obj = |evidence: String| Object::Image {
            id: i.id.to_string(),
            reference: i.reference.clone(),
            evidence,
        };
        match f(i) {
            Some(Ok(e)) => ok.push(obj(e)),
            Some(Err(e)) => bad.push(obj(e)),
            None => unknown.push(obj("not gathered".into())),
        }
    }
    if !bad.is_empty() {
        Outcome::new(key, fail, super::summarize(&bad)).with_objects(bad)
    } else if ok.is_empty() {
        Outcome::new(
            key,
            Status::Manual,
            format!("image facts not gathered: {}", super::summarize(&unknown)),
        )
    } else {
        Outcome::new(key, Status::Pass, super::summarize(&ok))
    }
}

/// 4.1: the user each running container runs as (the image's USER unless
/// `--user` overrides it), judged by caisson-misconfig's `root-user`.
fn user(ctx: &Ctx<'_>) -> Outcome {
    per_container("image-user", ctx.containers, Status::Warn, |c| {
        let user = c
            .inspect
            .config
            .as_ref()
            .and_then(|c| c.user.clone())
            .unwrap_or_default();
        let cfg = json!({ "User": user });
        let root = check_image(&ImageInput {
            config: Some(&cfg),
            history: &[],
            files: &[],
        })
        .iter()
        .any(|f| f.id == "root-user");
        let ev = if user.is_empty() {
            "User not set (root)".to_string()
        } else {
            format!("User={user}")
        };
        if root {
            Err(ev)
        } else {
            Ok(ev)
        }
    })
}

/// 4.5: `DOCKER_CONTENT_TRUST=1` in the environment.
fn content_trust(ctx: &Ctx<'_>) -> Outcome {
    let key = "image-content-trust";
    match ctx.host.content_trust.as_deref() {
        Some("1") => Outcome::new(key, Status::Pass, "DOCKER_CONTENT_TRUST=1"),
        Some(v) => Outcome::new(key, Status::Warn, format!("DOCKER_CONTENT_TRUST={v}")),
        None => Outcome::new(key, Status::Warn, "DOCKER_CONTENT_TRUST is not set"),
    }
}

/// 4.7: a history line that updates the package index without installing.
fn update_alone(i: &Img<'_>) -> Option<Result<String, String>> {
    let history = i.history.as_ref()?;
    let alone: Vec<String> = history
        .iter()
        .enumerate()
        .filter_map(|(n, h)| {
            let line = h.get("created_by").and_then(Value::as_str).unwrap_or("");
            let updates = [
                "apt-get update",
                "apt update",
                "apk update",
                "yum makecache",
                "dnf makecache",
            ]
            .iter()
            .any(|u| line.contains(u));
            let installs = ["install", "upgrade", " add "]
                .iter()
                .any(|w| line.contains(w));
            (updates && !installs).then(|| format!("history[{n}]"))
        })
        .collect();
    Some(if alone.is_empty() {
        Ok("no package index update without install".into())
    } else {
        Err(format!("update without install in {}", alone.join(", ")))
    })
}

/// 4.8: set-uid/set-gid files, when the file list was gathered.
fn setuid(images: &[Img<'_>]) -> Outcome {
    if !images.is_empty() && images.iter().all(|i| i.files.is_none()) {
        return Outcome::new(
            "image-setuid",
            Status::Manual,
            "image file lists were not gathered; run `caisson scan --scanners misconfig <image>` (setuid-files)",
        );
    }
    per_image("image-setuid", images, Status::Info, |i| {
        i.files.as_ref()?;
        findings(i, "setuid-files").map(|f| {
            if f.is_empty() {
                Ok("no set-uid/set-gid files".into())
            } else {
                Err(format!(
                    "{} set-uid/set-gid files: {}",
                    f.len(),
                    f.iter()
                        .map(|f| f.location.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        })
    })
}
