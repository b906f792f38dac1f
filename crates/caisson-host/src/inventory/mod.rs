//! `caisson host inventory`: the engine, every container, and the findings
//! `caisson scan` gives for each container's image.
//!
//! Fetch, then decide: [`inventory`] asks the engine (`/version`, `/info`,
//! `/containers/json`, one inspect per container, one image inspect per
//! image), then obtains each image's findings once per image id — from a
//! Caisson registry (`--registry`), else from the cached SBOM matched
//! against the current advisory database, else by exporting the image
//! (`GET /images/{id}/get`) into a bounded spool, building its SBOM exactly
//! as `caisson scan docker-archive:<export>` does and caching it — and then
//! assembles the document with pure functions ([`model`]).
//!
//! Failures stay local: a container gone between list and inspect is
//! skipped with a note; an image whose export is too large or unreadable is
//! `scan-failed` with the reason, and the rest of the inventory stands.

pub mod cache;
pub mod model;
pub mod registry;

use std::collections::BTreeMap;

use caisson_advisory::Database;
use caisson_match::ScanResults;
use caisson_model::{Sbom, SourceInfo, Warning};

use crate::engine::Engine;
use crate::error::{error_chain, HostError};
use crate::spool::SpoolOptions;
use cache::SbomCache;
use model::{
    container_entry, engine_facts, ContainerEntry, Counts, FindingsSource, ImageEntry, Inventory,
    Note, ScanStatus, Tool,
};
use registry::{Lookup, RegistrySource};

/// How to build the inventory.
#[derive(Debug)]
pub struct Options {
    /// Leave stopped containers out.
    pub running_only: bool,
    /// The image SBOM cache.
    pub cache: SbomCache,
    pub spool: SpoolOptions,
    /// Database, staleness and policy (`--severity`), as for `caisson scan`.
    pub scan: caisson_scan::Options,
    pub registry: Option<RegistrySource>,
    /// `generated_at` (RFC 3339), given by the caller.
    pub now: String,
}

/// An image's SBOM and results, for the SARIF and CycloneDX writers.
#[derive(Debug)]
pub struct ImageScan {
    pub sbom: Sbom,
    pub results: ScanResults,
}

/// The inventory plus what the report writers need beside it.
#[derive(Debug)]
pub struct Report {
    pub inventory: Inventory,
    /// Per scanned image id.
    pub scans: BTreeMap<String, ImageScan>,
    /// Warnings of the scans (database staleness, cataloging problems).
    pub warnings: Vec<Warning>,
}

/// What one image's scan produced before matching.
enum Obtained {
    Sbom(Sbom, FindingsSource),
    Registry {
        reference: String,
        sbom: Sbom,
        findings: Vec<caisson_model::Finding>,
    },
    Failed(String),
}

/// Builds the inventory of the host `engine` serves.
pub fn inventory(engine: &Engine, opts: &Options) -> Result<Report, HostError> {
    let version = engine.version()?;
    let info = engine.info()?;
    let facts = engine_facts(
        engine.endpoint().to_string(),
        engine.api_version().to_string(),
        &version,
        &info,
    );
    let mut notes = Vec::new();
    let mut containers = Vec::new();
    for summary in engine.containers(!opts.running_only)? {
        let Some(id) = summary.id.clone() else {
            continue;
        };
        let name = summary
            .names
            .as_ref()
            .and_then(|n| n.first())
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| id.clone());
        match engine.inspect(&id) {
            Ok(doc) => match container_entry(&doc) {
                Some(entry) => containers.push(entry),
                None => notes.push(Note {
                    code: "container-unreadable".into(),
                    message: format!(
                        "container {name} ({id}): its inspect document has no image id; skipped"
                    ),
                }),
            },
            Err(e) if e.is_not_found() => notes.push(Note {
                code: "container-gone".into(),
                message: format!(
                    "container {name} ({id}) was removed between list and inspect; skipped"
                ),
            }),
            Err(e) => notes.push(Note {
                code: "container-inspect-failed".into(),
                message: format!("container {name} ({id}): {e}; skipped"),
            }),
        }
    }
    containers.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));

    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &containers {
        users
            .entry(c.image_id.clone())
            .or_default()
            .push(c.name.clone());
    }
    let mut db: Option<Database> = None;
    let mut warnings = Vec::new();
    let mut images = Vec::new();
    let mut scans = BTreeMap::new();
    for (image_id, names) in users {
        let (repo_tags, repo_digests) = match engine.image_inspect(&image_id) {
            Ok(i) => (
                i.repo_tags.unwrap_or_default(),
                i.repo_digests.unwrap_or_default(),
            ),
            Err(e) => {
                notes.push(Note {
                    code: "image-inspect-failed".into(),
                    message: format!("image {image_id}: {e}"),
                });
                (Vec::new(), Vec::new())
            }
        };
        let reference = repo_tags
            .first()
            .cloned()
            .unwrap_or_else(|| image_id.clone());
        let obtained = obtain(
            engine,
            opts,
            &image_id,
            &reference,
            &repo_digests,
            &mut notes,
        );
        let mut entry = ImageEntry {
            id: image_id.clone(),
            repo_tags,
            repo_digests,
            containers: names,
            status: ScanStatus::Scanned,
            source: None,
            error: None,
            os: None,
            packages: None,
            vulnerabilities: Counts::default(),
            findings: Vec::new(),
        };
        let scanned = match obtained {
            Obtained::Failed(reason) => {
                entry.status = ScanStatus::ScanFailed;
                entry.error = Some(reason);
                None
            }
            Obtained::Registry {
                reference,
                sbom,
                findings,
            } => {
                entry.source = Some(FindingsSource::Registry);
                notes.push(Note {
                    code: "findings-from-registry".into(),
                    message: format!("image {image_id}: stored findings of {reference}"),
                });
                let results = caisson_match::apply(findings, Vec::new(), &sbom, &opts.scan.policy);
                Some(ImageScan { sbom, results })
            }
            Obtained::Sbom(sbom, source) => {
                entry.source = Some(source);
                entry.os = sbom.os.as_ref().map(|os| match &os.version_id {
                    Some(v) => format!("{} {v}", os.id),
                    None => os.id.clone(),
                });
                entry.packages = Some(sbom.packages.len());
                if db.is_none() {
                    let (opened, stale) = caisson_scan::open_database(&opts.scan)
                        .map_err(|e| HostError::Database(Box::new(e)))?;
                    warnings.extend(stale);
                    db = Some(opened);
                }
                let matched = db.as_ref().map(|db| {
                    caisson_scan::match_vulnerabilities(&sbom, db, &opts.scan.policy, Vec::new())
                });
                match matched {
                    Some(Ok(results)) => Some(ImageScan { sbom, results }),
                    Some(Err(e)) => {
                        entry.status = ScanStatus::ScanFailed;
                        entry.error = Some(error_chain(&e));
                        None
                    }
                    None => None,
                }
            }
        };
        if let Some(scan) = scanned {
            entry.findings = scan.results.findings.clone();
            entry.vulnerabilities = Counts::of(&entry.findings);
            warnings.extend(scan.results.warnings.iter().cloned().map(|w| Warning {
                code: w.code,
                message: format!("{reference}: {}", w.message),
            }));
            scans.insert(image_id.clone(), scan);
        }
        images.push(entry);
    }
    let by_id: BTreeMap<&str, &ImageEntry> = images.iter().map(|i| (i.id.as_str(), i)).collect();
    for c in &mut containers {
        if let Some(img) = by_id.get(c.image_id.as_str()) {
            apply_image(c, img);
        }
    }
    Ok(Report {
        inventory: Inventory {
            format: model::FORMAT.into(),
            format_version: model::FORMAT_VERSION,
            generated_at: opts.now.clone(),
            tool: Tool {
                name: "caisson".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            engine: facts,
            running_only: opts.running_only,
            containers,
            images,
            notes,
        },
        scans,
        warnings,
    })
}

/// A container takes its image's repo digests, status and counts.
pub fn apply_image(c: &mut ContainerEntry, img: &ImageEntry) {
    c.repo_digests = img.repo_digests.clone();
    c.scan_status = img.status;
    c.vulnerabilities = img.vulnerabilities;
}

/// Registry, else cache, else export and scan.
fn obtain(
    engine: &Engine,
    opts: &Options,
    image_id: &str,
    reference: &str,
    repo_digests: &[String],
    notes: &mut Vec<Note>,
) -> Obtained {
    let stub = || Sbom {
        source: SourceInfo {
            reference: reference.to_string(),
            kind: "engine".into(),
            config_digest: Some(image_id.to_string()),
            ..SourceInfo::default()
        },
        ..Sbom::default()
    };
    if let Some(reg) = &opts.registry {
        match reg.lookup(repo_digests) {
            Lookup::Found {
                reference,
                findings,
            } => {
                return Obtained::Registry {
                    reference,
                    sbom: stub(),
                    findings,
                }
            }
            Lookup::NotThere => {}
            Lookup::Unavailable { reason } => notes.push(Note {
                code: "registry-findings-unavailable".into(),
                message: format!("image {image_id}: {reason}; scanned locally"),
            }),
        }
    }
    if let Some(mut sbom) = opts.cache.get(image_id) {
        sbom.source.reference = reference.to_string();
        return Obtained::Sbom(sbom, FindingsSource::Cache);
    }
    match scan_export(engine, opts, image_id) {
        Ok(mut sbom) => {
            if let Err(e) = opts.cache.put(image_id, &sbom) {
                notes.push(Note {
                    code: "cache-write-failed".into(),
                    message: format!("image {image_id}: the SBOM could not be cached: {e}"),
                });
            }
            sbom.source.reference = reference.to_string();
            Obtained::Sbom(sbom, FindingsSource::Scan)
        }
        Err(reason) => Obtained::Failed(reason),
    }
}

/// Exports the image into the spool and builds its SBOM the way `caisson
/// scan docker-archive:<file>` does. The reason on failure is one line.
fn scan_export(engine: &Engine, opts: &Options, image_id: &str) -> Result<Sbom, String> {
    let spooled = engine
        .export_image(image_id, &opts.spool)
        .map_err(|e| error_chain(&e))?;
    tracing::info!(image = image_id, bytes = spooled.size(), "image exported");
    sbom_of_archive(&spooled, &opts.scan.sbom)
}

/// The SBOM of a spooled `docker save` archive.
pub fn sbom_of_archive(
    spooled: &crate::spool::Spooled,
    opts: &caisson_sbom::Options,
) -> Result<Sbom, String> {
    let source = format!("docker-archive:{}", spooled.path().display());
    caisson_scan::load_sbom(&source, opts).map_err(|e| error_chain(&e))
}

/// True when any listed container's image has findings left after the
/// filters (`--exit-code`).
pub fn has_findings(inv: &Inventory) -> bool {
    inv.containers.iter().any(|c| c.vulnerabilities.total > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::spool_stream;

    fn spooled(bytes: Vec<u8>, dir: &std::path::Path) -> crate::spool::Spooled {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let items: Vec<Result<bytes::Bytes, bollard::errors::Error>> =
            vec![Ok(bytes::Bytes::from(bytes))];
        rt.block_on(spool_stream(
            futures_util::stream::iter(items),
            "sha256:feed",
            "unix:///x.sock",
            &SpoolOptions {
                dir: dir.to_path_buf(),
                limit: 1 << 20,
            },
        ))
        .expect("spooled")
    }

    #[test]
    fn a_corrupt_export_is_a_reason_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = caisson_sbom::Options::default();
        // Not a tar at all, an empty file, and a tar without manifest.json.
        let mut no_manifest = vec![0u8; 512];
        if let Some(name) = no_manifest.get_mut(..5) {
            name.copy_from_slice(b"hello");
        }
        for bytes in [b"garbage, not a tar".to_vec(), Vec::new(), no_manifest] {
            let s = spooled(bytes, dir.path());
            let reason = sbom_of_archive(&s, &opts).expect_err("corrupt export");
            assert!(!reason.is_empty() && !reason.contains('\n'), "{reason}");
        }
    }

    #[test]
    fn containers_take_their_image_counts() {
        let hex = "e".repeat(64);
        let doc = serde_json::json!({"Id": "c1", "Name": "/a", "Image": format!("sha256:{hex}")});
        let c: bollard::models::ContainerInspectResponse =
            serde_json::from_value(doc).expect("inspect");
        let mut entry = container_entry(&c).expect("entry");
        let img = ImageEntry {
            id: format!("sha256:{hex}"),
            repo_tags: vec![],
            repo_digests: vec!["r/x@sha256:1".into()],
            containers: vec!["a".into()],
            status: ScanStatus::ScanFailed,
            source: None,
            error: Some("too large".into()),
            os: None,
            packages: None,
            vulnerabilities: Counts::default(),
            findings: vec![],
        };
        apply_image(&mut entry, &img);
        assert_eq!(entry.scan_status, ScanStatus::ScanFailed);
        assert_eq!(entry.repo_digests, img.repo_digests);
    }
}
