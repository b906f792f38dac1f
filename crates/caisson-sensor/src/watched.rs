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
    /// Device number of the root filesystem (`st_dev` of
    /// `/proc/<pid>/root`): every file on an overlay whose layers share one
    /// filesystem reports it, so a file event's `fstat` names the container
    /// without reading `/proc`.
    pub dev: Option<u64>,
    pub cgroups: CgroupPaths,
}

/// State shared by the watcher and the fanotify thread.
#[derive(Debug, Default)]
pub struct Shared {
    containers: RwLock<HashMap<String, Arc<Watched>>>,
    /// Root filesystem device → container id.
    by_dev: RwLock<HashMap<u64, String>>,
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

    /// The container whose root filesystem is device `dev`.
    pub fn by_dev(&self, dev: u64) -> Option<(String, Arc<Watched>)> {
        let id = self
            .by_dev
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&dev)
            .cloned()?;
        let w = self.get(&id)?;
        Some((id, w))
    }

    pub fn insert(&self, id: String, w: Watched) {
        if let Some(dev) = w.dev {
            self.by_dev
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(dev, id.clone());
        }
        self.containers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::new(w));
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Watched>> {
        let gone = self
            .containers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(dev) = gone.as_ref().and_then(|w| w.dev) {
            let mut by_dev = self.by_dev.write().unwrap_or_else(|p| p.into_inner());
            if by_dev.get(&dev).is_some_and(|i| i == id) {
                by_dev.remove(&dev);
            }
        }
        gone
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_device_names_its_container_until_removed() {
        let shared = Shared::default();
        let w = |dev| Watched {
            dev,
            ..Watched::default()
        };
        shared.insert("a".into(), w(Some(41)));
        shared.insert("b".into(), w(None));
        assert_eq!(shared.by_dev(41).map(|(id, _)| id).as_deref(), Some("a"));
        assert!(shared.by_dev(42).is_none());
        // A device reused by a newer container is not dropped with the old one.
        shared.insert("c".into(), w(Some(41)));
        shared.remove("a");
        assert_eq!(shared.by_dev(41).map(|(id, _)| id).as_deref(), Some("c"));
        shared.remove("c");
        assert!(shared.by_dev(41).is_none());
        assert!(shared.get("b").is_some());
    }
}
