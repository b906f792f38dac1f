//! The secret and misconfiguration walk: one streaming pass over every layer
//! (not the squashed view) through `caisson-image`'s extractor hook.
//!
//! [`Walk`] is an [`Interest`]: `caisson scan` subscribes it to the SBOM's
//! layer walk ([`caisson_sbom::from_image_with`]), so the catalogers, the
//! secret scanner and the misconfig facts share one decompression of each
//! layer and one read of each file; [`walk_image`] runs it alone.
//!
//! Each regular file of each layer is handed to [`caisson_secrets::RuleSet::scan_reader`]
//! while the layer streams past (at most `max_file_size` bytes of one file in
//! memory per worker); findings carry the layer that holds the file, so a
//! secret deleted by a later layer is still reported. Files the misconfig
//! checks need (set-uid bits, `sshd`, package caches) leave a one-byte marker
//! in the squashed view, so whiteouts apply to them and the checks see the
//! final image.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use caisson_image::{Extractor, ImageError, Interest, Limits, OpenedImage, Squashed};
use caisson_misconfig::{FileFact, ImageInput, MisconfigFinding};
use caisson_model::{LayerRef, Warning};
use caisson_secrets::{RuleSet, SecretFinding};

/// Most secret findings kept for one image.
pub const MAX_SECRET_FINDINGS: usize = 10_000;

const SETUID_MARK: &[u8] = b"s";
const FILE_MARK: &[u8] = b"f";

struct Shared<'a> {
    rules: Option<&'a RuleSet>,
    layers: Vec<LayerRef>,
    found: Mutex<Vec<SecretFinding>>,
    truncated: AtomicBool,
}

struct Ex<'a> {
    shared: Arc<Shared<'a>>,
    /// Leave this marker in the view (misconfig facts), or nothing.
    mark: Option<&'static [u8]>,
}

impl Extractor for Ex<'_> {
    fn name(&self) -> &'static str {
        match self.mark {
            Some(m) if m == SETUID_MARK => "caisson-scan-setuid",
            Some(_) => "caisson-scan-file",
            None => "caisson-scan-secrets",
        }
    }

    fn extract(
        &self,
        path: &str,
        reader: &mut dyn std::io::Read,
        size: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        self.extract_in_layer(0, path, reader, size)
    }

    fn extract_in_layer(
        &self,
        layer: usize,
        path: &str,
        reader: &mut dyn std::io::Read,
        size: u64,
    ) -> std::io::Result<Option<Vec<u8>>> {
        if let Some(rules) = self.shared.rules {
            let mut found = rules.scan_reader(path, reader, size)?;
            if !found.is_empty() {
                let layer_ref = self.shared.layers.get(layer).cloned().or(Some(LayerRef {
                    index: layer,
                    diff_id: String::new(),
                }));
                for f in &mut found {
                    f.layer = layer_ref.clone();
                }
                let mut all = self
                    .shared
                    .found
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let room = MAX_SECRET_FINDINGS.saturating_sub(all.len());
                if found.len() > room {
                    self.shared.truncated.store(true, Ordering::Relaxed);
                }
                all.extend(found.into_iter().take(room));
            }
        }
        Ok(self.mark.map(<[u8]>::to_vec))
    }

    /// The secret scanner reads a file up to its size limit; the misconfig
    /// markers read nothing.
    fn read_limit(&self, path: &str, size: u64) -> Option<u64> {
        match self.shared.rules {
            Some(r) if r.skip_before_read(path, size).is_none() => Some(r.max_file_size),
            _ => Some(0),
        }
    }
}

/// The secret scanner and the misconfig file selection as one [`Interest`]:
/// give it to a layer walk, then [`Walk::finish`] the view it produced.
pub struct Walk<'a> {
    shared: Arc<Shared<'a>>,
    secrets: bool,
    misconfig: bool,
    plain: Ex<'a>,
    setuid: Ex<'a>,
    file: Ex<'a>,
}

impl Interest for Walk<'_> {
    fn wants(&self, _path: &str) -> Option<u64> {
        None
    }

    fn extractor(&self, path: &str, mode: u32, _size: u64) -> Option<&dyn Extractor> {
        if self.misconfig && caisson_misconfig::wanted_file(path, mode) {
            return Some(if mode & 0o6000 != 0 {
                &self.setuid
            } else {
                &self.file
            });
        }
        self.secrets.then_some(&self.plain as &dyn Extractor)
    }
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct WalkOutput {
    pub secrets: Vec<SecretFinding>,
    pub files: Vec<FileFact>,
    pub warnings: Vec<Warning>,
}

/// Walks every layer of `image` once for secrets (`rules`) and the
/// misconfig file facts (`misconfig`), on its own.
pub fn walk_image(
    image: &OpenedImage,
    rules: Option<&RuleSet>,
    misconfig: bool,
    limits: &Limits,
) -> Result<WalkOutput, ImageError> {
    let walk = Walk::new(image, rules, misconfig);
    let squashed = caisson_image::scan(image, &walk, limits)?;
    Ok(walk.finish(squashed))
}

impl<'a> Walk<'a> {
    /// Secrets with `rules` (none when `None`), misconfig facts when `misconfig`.
    pub fn new(image: &OpenedImage, rules: Option<&'a RuleSet>, misconfig: bool) -> Walk<'a> {
        let shared = Arc::new(Shared {
            rules,
            layers: image
                .layers
                .iter()
                .enumerate()
                .map(|(index, l)| LayerRef {
                    index,
                    diff_id: l.diff_id().to_string(),
                })
                .collect(),
            found: Mutex::new(Vec::new()),
            truncated: AtomicBool::new(false),
        });
        Walk {
            secrets: rules.is_some(),
            misconfig,
            plain: Ex {
                shared: shared.clone(),
                mark: None,
            },
            setuid: Ex {
                shared: shared.clone(),
                mark: Some(SETUID_MARK),
            },
            file: Ex {
                shared: shared.clone(),
                mark: Some(FILE_MARK),
            },
            shared,
        }
    }

    /// What the walk found, from the view the layer walk built for it.
    pub fn finish(self, squashed: Squashed) -> WalkOutput {
        let shared = &self.shared;
        let mut files = Vec::new();
        if let Some(view) = squashed.final_view() {
            for p in view.files() {
                if let Ok(Some(f)) = view.read(p) {
                    let mode = match &*f.data {
                        SETUID_MARK => 0o4755,
                        _ => 0o644,
                    };
                    files.push(FileFact {
                        path: p.to_string(),
                        mode,
                    });
                }
            }
        }
        let mut warnings = squashed.warnings;
        if shared.truncated.load(Ordering::Relaxed) {
            warnings.push(Warning {
                code: "secret-findings-truncated".into(),
                message: format!(
                    "more than {MAX_SECRET_FINDINGS} secret findings; the rest are not reported"
                ),
            });
        }
        let mut secrets = std::mem::take(
            &mut *shared
                .found
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        secrets.sort_by(|a, b| {
            (
                a.layer.as_ref().map(|l| l.index),
                &a.path,
                a.start_line,
                &a.rule_id,
            )
                .cmp(&(
                    b.layer.as_ref().map(|l| l.index),
                    &b.path,
                    b.start_line,
                    &b.rule_id,
                ))
        });
        WalkOutput {
            secrets,
            files,
            warnings,
        }
    }
}

fn config_parts(image: &OpenedImage) -> (Option<&serde_json::Value>, &[serde_json::Value]) {
    match &image.config {
        Some(c) => (c.config.as_ref(), c.history.as_slice()),
        None => (None, &[]),
    }
}

/// Secrets in the image config: `Env`, `Labels`, history `created_by`.
pub fn config_secrets(image: &OpenedImage, rules: &RuleSet) -> Vec<SecretFinding> {
    let (cfg, history) = config_parts(image);
    let mut out = Vec::new();
    if let Some(env) = cfg.and_then(|c| c.get("Env")).and_then(|e| e.as_array()) {
        for e in env.iter().filter_map(|e| e.as_str()) {
            out.extend(rules.scan_text("config:Env", e.as_bytes()));
        }
    }
    if let Some(labels) = cfg
        .and_then(|c| c.get("Labels"))
        .and_then(|l| l.as_object())
    {
        for (k, v) in labels {
            let line = format!("{k}={}", v.as_str().unwrap_or_default());
            out.extend(rules.scan_text("config:Labels", line.as_bytes()));
        }
    }
    for (i, h) in history.iter().enumerate() {
        if let Some(by) = h.get("created_by").and_then(|b| b.as_str()) {
            out.extend(rules.scan_text(&format!("config:history[{i}]"), by.as_bytes()));
        }
    }
    out
}

/// The image misconfiguration checks on the config and the walk's file facts.
pub fn image_misconfigs(image: &OpenedImage, files: &[FileFact]) -> Vec<MisconfigFinding> {
    let (config, history) = config_parts(image);
    caisson_misconfig::check_image(&ImageInput {
        config,
        history,
        files,
    })
}
