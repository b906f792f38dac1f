//! `caisson sensor run --server`: the profile sync thread. For the image of
//! every watched container it fetches the server's profile (mode and
//! executables; `If-None-Match` with the version it holds, so an unchanged
//! profile is a 304), uploads what discover learned that the server does
//! not have yet, and swaps the sensor's [`ManagedProfiles`] whole
//! ([`Shared::set_managed`]). Every request has a deadline; the decision
//! path never waits for it. When the server cannot be reached the sensor
//! keeps the profiles it last had, and with `--profiles DIR` they are
//! cached there (YAML profiles plus `server-modes.json`) so a restart
//! without the server starts from them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use caisson_sensor::allowlist::{AllowlistMode, Executable, ManagedProfiles, Profile};
use caisson_sensor::watched::Shared;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::profile::{encode_key, to_sensor_profile};

/// Deadline of each request to the server.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest profile answer read.
const MAX_ANSWER: u64 = 32 << 20;
/// The cache file of modes and versions next to the cached profiles.
pub const MODES_FILE: &str = "server-modes.json";

pub struct SyncConfig {
    pub server: String,
    pub user: String,
    pub password: String,
    /// Extra CA certificate (PEM) for the server.
    pub ca: Option<Vec<u8>>,
    pub interval: Duration,
    pub cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    mode: String,
    version: u64,
}

fn mode_of(s: &str) -> Option<AllowlistMode> {
    use caisson_model::exec_profile::Mode;
    Mode::parse(s).map(|m| match m {
        Mode::Discover => AllowlistMode::Discover,
        Mode::Monitor => AllowlistMode::Monitor,
        Mode::Protect => AllowlistMode::Protect,
    })
}

/// What the sync holds: per key the server's mode and version, the
/// profile, and what was uploaded already.
pub struct Sync {
    cfg: SyncConfig,
    client: reqwest::blocking::Client,
    held: BTreeMap<String, (Held, Profile)>,
    uploaded: BTreeMap<String, BTreeSet<Executable>>,
}

impl Sync {
    pub fn new(cfg: SyncConfig) -> anyhow::Result<Self> {
        let client =
            caisson_host::agent::http_client(&cfg.server, cfg.ca.as_deref(), REQUEST_TIMEOUT)?;
        let mut s = Sync {
            client,
            cfg,
            held: BTreeMap::new(),
            uploaded: BTreeMap::new(),
        };
        s.load_cache()?;
        Ok(s)
    }

    /// The profiles the sensor starts from (the cache, else none).
    pub fn managed(&self) -> ManagedProfiles {
        let mut m = ManagedProfiles::default();
        for (h, p) in self.held.values() {
            if let Some(mode) = mode_of(&h.mode) {
                m.insert(mode, p);
            }
        }
        m
    }

    fn load_cache(&mut self) -> anyhow::Result<()> {
        let Some(dir) = &self.cfg.cache_dir else {
            return Ok(());
        };
        let modes = dir.join(MODES_FILE);
        if !modes.exists() {
            return Ok(());
        }
        let text = fs_err::read_to_string(&modes)?;
        let held: BTreeMap<String, Held> = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a modes cache", modes.display()))?;
        for (key, h) in held {
            let probe = Profile {
                version: caisson_sensor::allowlist::PROFILE_VERSION,
                image: key.clone(),
                reference: String::new(),
                executables: Vec::new(),
                any_contents: Vec::new(),
            };
            let path = dir.join(probe.file_name());
            let p = Profile::read(&path)?;
            self.held.insert(key, (h, p));
        }
        Ok(())
    }

    fn save_cache(&self) -> anyhow::Result<()> {
        let Some(dir) = &self.cfg.cache_dir else {
            return Ok(());
        };
        fs_err::create_dir_all(dir)?;
        let mut modes = BTreeMap::new();
        for (key, (h, p)) in &self.held {
            p.write(&dir.join(p.file_name()))?;
            modes.insert(key.clone(), h.clone());
        }
        let tmp = dir.join(format!("{MODES_FILE}.tmp"));
        fs_err::write(&tmp, serde_json::to_vec_pretty(&modes)?)?;
        fs_err::rename(&tmp, dir.join(MODES_FILE))?;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.cfg.server.trim_end_matches('/'))
    }

    /// Fetches `key` (`None`: unchanged).
    fn fetch(&self, key: &str, reference: &str) -> anyhow::Result<Option<(Held, Profile)>> {
        let mut req = self
            .client
            .get(self.url(&format!("/profiles/{}", encode_key(key))))
            .query(&[("reference", reference)])
            .basic_auth(&self.cfg.user, Some(&self.cfg.password));
        if let Some((h, _)) = self.held.get(key) {
            req = req.header("if-none-match", format!("\"v{}\"", h.version));
        }
        let resp = req
            .send()
            .with_context(|| format!("fetching profile {key}"))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(None);
        }
        if !status.is_success() {
            bail!("fetching profile {key}: {status}");
        }
        use std::io::Read;
        let mut body = Vec::new();
        resp.take(MAX_ANSWER + 1).read_to_end(&mut body)?;
        if body.len() as u64 > MAX_ANSWER {
            bail!("profile {key}: the answer is over {MAX_ANSWER} bytes");
        }
        let v: Value = serde_json::from_slice(&body)
            .with_context(|| format!("profile {key}: the answer is not JSON"))?;
        let mode = v["mode"].as_str().unwrap_or_default().to_string();
        if mode_of(&mode).is_none() {
            bail!("profile {key}: unknown mode {mode:?}");
        }
        let version = v["version"].as_u64().unwrap_or(0);
        let p = to_sensor_profile(&v)?;
        // The same checks as a profile file.
        for e in &p.executables {
            caisson_model::exec_profile::check_executable(&e.path, &e.sha256)
                .map_err(|m| anyhow::anyhow!("profile {key}: {m}"))?;
        }
        if p.any_contents.iter().any(|path| !path.starts_with('/')) {
            bail!("profile {key}: a path is not absolute");
        }
        if p.image != key {
            bail!("profile {key}: the server answered profile {}", p.image);
        }
        Ok(Some((Held { mode, version }, p)))
    }

    fn upload(&self, key: &str, reference: &str, new: &[Executable]) -> anyhow::Result<()> {
        let body = json!({
            "reference": reference,
            "executables": new.iter().map(|e| json!({
                "path": e.path, "sha256": e.sha256, "size": e.size, "mtime_ns": e.mtime_ns,
            })).collect::<Vec<_>>(),
        });
        let resp = self
            .client
            .post(self.url(&format!("/profiles/{}/learned", encode_key(key))))
            .basic_auth(&self.cfg.user, Some(&self.cfg.password))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body)?)
            .send()
            .with_context(|| format!("uploading what profile {key} learned"))?;
        if !resp.status().is_success() {
            bail!("uploading what profile {key} learned: {}", resp.status());
        }
        Ok(())
    }

    /// One round: every watched image fetched, discover uploads sent, the
    /// profiles swapped in. Errors are logged; the last profiles stay.
    pub fn round(&mut self, shared: &Shared) {
        let mut images: BTreeMap<String, String> = BTreeMap::new();
        for (_, w) in shared.all() {
            if let Some(k) = &w.image_key {
                images
                    .entry(k.clone())
                    .or_insert_with(|| w.reference.clone());
            }
        }
        let learned: BTreeMap<String, Profile> = shared
            .learned()
            .into_iter()
            .map(|p| (p.image.clone(), p))
            .collect();
        let mut changed = false;
        for (key, reference) in &images {
            if self
                .held
                .get(key)
                .is_some_and(|(h, _)| h.mode == "discover")
            {
                if let Some(l) = learned.get(key) {
                    let done = self.uploaded.entry(key.clone()).or_default();
                    let new: Vec<Executable> = l
                        .executables
                        .iter()
                        .filter(|e| !done.contains(*e))
                        .cloned()
                        .collect();
                    if !new.is_empty() {
                        match self.upload(key, reference, &new) {
                            Ok(()) => {
                                self.uploaded.entry(key.clone()).or_default().extend(new);
                            }
                            Err(e) => tracing::warn!("profile sync: {e:#}"),
                        }
                    }
                }
            }
            match self.fetch(key, reference) {
                Ok(Some(got)) => {
                    let before = self.held.get(key).map(|(h, _)| h.mode.clone());
                    if before.as_deref() != Some(got.0.mode.as_str()) {
                        eprintln!(
                            "caisson sensor: image {key}: mode {} (profile version {}, {} executables)",
                            got.0.mode,
                            got.0.version,
                            got.1.executables.len() + got.1.any_contents.len()
                        );
                    }
                    self.held.insert(key.clone(), got);
                    changed = true;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("profile sync: {e:#}; keeping the last profile"),
            }
        }
        if changed {
            shared.set_managed(self.managed());
            if let Err(e) = self.save_cache() {
                tracing::warn!("profile sync: caching the profiles: {e:#}");
            }
        }
    }

    /// Runs rounds every interval until `stop`.
    pub fn spawn(
        mut self,
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("sensor-profile-sync".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    self.round(&shared);
                    let until = Instant::now() + self.cfg.interval;
                    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            })
    }
}
