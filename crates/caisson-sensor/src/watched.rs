//! What the container watcher and the fanotify thread share: the watched
//! containers (pid, overlay upper directory, image, allowlist) and the
//! executables learned in discover mode.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use crate::allowlist::{
    AllowlistMode, Executable, Learner, ManagedProfiles, Profile, ProfileIndex,
};
use crate::resources::CgroupPaths;

/// What the fanotify thread knows about a watched container.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    pub pid: u32,
    pub name: String,
    /// Overlay upper directory (host path), when the root is overlayfs.
    pub upper: Option<PathBuf>,
    pub image_key: Option<String>,
    pub reference: String,
    pub profile: Option<Arc<ProfileIndex>>,
    /// The mark is in place (false: no fanotify, or marking failed).
    pub marked: bool,
    pub cgroups: CgroupPaths,
}

/// State shared by the watcher and the fanotify thread.
#[derive(Debug, Default)]
pub struct Shared {
    containers: RwLock<HashMap<String, Arc<Watched>>>,
    learner: Mutex<Learner>,
    /// Server-managed profiles (`None`: the sensor's own `--mode`). The
    /// lock is held only to clone or replace the `Arc`: the decision path
    /// never waits for the network.
    managed: RwLock<Option<Arc<ManagedProfiles>>>,
}

impl Shared {
    pub fn get(&self, id: &str) -> Option<Arc<Watched>> {
        self.containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Whether container `id` is watched (and marked, when `marked`).
    pub fn is_watched(&self, id: &str, marked: bool) -> bool {
        self.get(id).is_some_and(|w| w.marked || !marked)
    }

    pub fn ids(&self) -> Vec<String> {
        self.containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<(String, Arc<Watched>)> {
        self.containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn insert(&self, id: String, w: Watched) {
        self.containers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::new(w));
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Watched>> {
        self.containers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    /// Switches to (or updates) server-managed profiles.
    pub fn set_managed(&self, m: ManagedProfiles) {
        *self.managed.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(m));
    }

    pub fn is_managed(&self) -> bool {
        self.managed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// The mode and allowlist in force for container `w`: the server's for
    /// its image when managed, else `global` and the profile it started with.
    pub fn policy(
        &self,
        w: &Watched,
        global: AllowlistMode,
    ) -> (AllowlistMode, Option<Arc<ProfileIndex>>) {
        let managed = self
            .managed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match (managed, &w.image_key) {
            (Some(m), Some(key)) => m.get(key),
            (Some(_), None) => (AllowlistMode::Discover, None),
            (None, _) => (global, w.profile.clone()),
        }
    }

    pub fn learn(&self, key: &str, reference: &str, e: Executable) {
        self.learner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(key, reference, e);
    }

    /// The profiles learned so far (discover mode).
    pub fn learned(&self) -> Vec<Profile> {
        self.learner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .profiles()
    }
}
