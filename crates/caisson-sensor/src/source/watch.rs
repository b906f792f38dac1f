//! The container watcher: finds running containers from `/proc` (a process
//! whose cgroup names a container), puts a fanotify mount mark on each new
//! container's root filesystem (`/proc/<pid>/root`, a path into the
//! container's mount namespace: the mark lands on the overlay mount the
//! container's processes use), learns its overlay upper directory from
//! `/proc/<pid>/mountinfo`, asks the engine for its image (to pick the
//! allowlist), forgets containers that stopped (their mounts, and so the
//! marks, are gone with them), and samples resource use every few seconds.
//!
//! It runs on its own thread: engine calls and `/proc` scans never delay
//! the fanotify thread's answers.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use super::Queue;
use crate::allowlist::{image_key, AllowlistMode, Profiles};
use crate::directory::ContainerDirectory;
use crate::error::SourceError;
use crate::event::{Event, ResourceEvent};
use crate::metrics::Metrics;
use crate::resources::{read_usage, CgroupPaths, Usage};
pub use crate::watched::{Shared, Watched};

/// Most processes looked at per `/proc` scan.
const MAX_SCAN: usize = 65_536;

/// The watcher's settings.
pub struct WatchConfig {
    pub mode: AllowlistMode,
    pub profiles: Profiles,
    pub scan_interval: Duration,
    pub resource_interval: Duration,
    /// Only this container (by id prefix or name), for `caisson sensor learn`.
    pub only: Option<String>,
}

/// The overlay upper directory of the mount at `/` in a mountinfo file.
pub fn overlay_upper(mountinfo: &str) -> Option<PathBuf> {
    for line in mountinfo.lines().take(4096) {
        let mut halves = line.splitn(2, " - ");
        let (Some(left), Some(right)) = (halves.next(), halves.next()) else {
            continue;
        };
        if left.split(' ').nth(4) != Some("/") {
            continue;
        }
        let mut r = right.split(' ');
        if r.next() != Some("overlay") {
            continue;
        }
        let opts = r.nth(1)?;
        return opts
            .split(',')
            .find_map(|o| o.strip_prefix("upperdir="))
            .map(|p| PathBuf::from(p.replace("\\040", " ")));
    }
    None
}

/// Running containers: id → (lowest pid, its cgroup file).
pub fn scan_proc(proc_root: &Path) -> HashMap<String, (u32, String)> {
    let mut out: HashMap<String, (u32, String)> = HashMap::new();
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return out;
    };
    for entry in dir.take(MAX_SCAN).flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cg) = std::fs::read_to_string(entry.path().join("cgroup")) else {
            continue;
        };
        let Some(id) = crate::cgroup::container_id(&cg) else {
            continue;
        };
        match out.get_mut(id) {
            Some(slot) if slot.0 <= pid => {}
            Some(slot) => *slot = (pid, cg.clone()),
            None => {
                out.insert(id.to_string(), (pid, cg.clone()));
            }
        }
    }
    out
}

/// Starts the watcher thread. `fan`: the group to mark (`None`: resources
/// only); `queue`: where resource events go.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    fan: Option<Arc<nix::sys::fanotify::Fanotify>>,
    queue: Queue,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    directory: Option<Box<dyn ContainerDirectory>>,
    config: WatchConfig,
    metrics: Option<Arc<Metrics>>,
) -> Result<JoinHandle<()>, SourceError> {
    std::thread::Builder::new()
        .name("sensor-watch".into())
        .spawn(move || {
            let mut next_sample = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                let found = scan_proc(Path::new("/proc"));
                update(
                    &found,
                    fan.as_deref(),
                    &shared,
                    directory.as_deref(),
                    &config,
                    metrics.as_deref(),
                );
                if Instant::now() >= next_sample {
                    next_sample = Instant::now() + config.resource_interval;
                    if !sample(&shared, &queue, metrics.as_deref()) {
                        return;
                    }
                }
                let until = Instant::now() + config.scan_interval;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        })
        .map_err(|source| SourceError::Socket {
            source_name: "container watcher",
            source,
        })
}

fn update(
    found: &HashMap<String, (u32, String)>,
    fan: Option<&nix::sys::fanotify::Fanotify>,
    shared: &Shared,
    directory: Option<&dyn ContainerDirectory>,
    config: &WatchConfig,
    metrics: Option<&Metrics>,
) {
    let known: Vec<String> = shared.ids();
    for id in &known {
        if !found.contains_key(id) {
            let gone = shared.remove(id);
            if let (Some(m), Some(w)) = (metrics, gone) {
                m.remove_container(id, &w.name);
            }
        }
    }
    for (id, (pid, cg)) in found {
        if shared.get(id).is_some_and(|w| w.marked || fan.is_none()) {
            continue;
        }
        let info = directory.and_then(|d| d.container(id).ok().flatten());
        if let Some(only) = &config.only {
            let matches =
                id.starts_with(only.as_str()) || info.as_ref().is_some_and(|i| &i.name == only);
            if !matches {
                continue;
            }
        }
        let root = format!("/proc/{pid}/root");
        let marked = fan.is_some_and(|f| {
            f.mark(
                nix::sys::fanotify::MarkFlags::FAN_MARK_ADD
                    | nix::sys::fanotify::MarkFlags::FAN_MARK_MOUNT,
                super::fanotify::mask(config.mode),
                nix::fcntl::AT_FDCWD,
                Some(root.as_str()),
            )
            .map_err(|e| tracing::warn!("fanotify: marking {root} (container {id}): {e}"))
            .is_ok()
        });
        let upper = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .ok()
            .and_then(|m| overlay_upper(&m));
        let key = info
            .as_ref()
            .map(|i| image_key(i.image_digest.as_deref(), &i.image_id));
        let w = Watched {
            pid: *pid,
            name: info.as_ref().map(|i| i.name.clone()).unwrap_or_default(),
            upper,
            profile: key.as_deref().and_then(|k| config.profiles.get(k)),
            reference: info.as_ref().map(|i| i.image.clone()).unwrap_or_default(),
            image_key: key,
            marked,
            dev: std::fs::metadata(&root)
                .ok()
                .map(|m| std::os::unix::fs::MetadataExt::dev(&m)),
            cgroups: CgroupPaths::parse(cg),
        };
        if shared.policy(&w, config.mode).0 == AllowlistMode::Discover {
            seed(shared, &w);
        }
        shared.insert(id.clone(), w);
    }
    if let Some(m) = metrics {
        let n = shared.all().iter().filter(|(_, w)| w.marked).count();
        m.watched.set(i64::try_from(n).unwrap_or(i64::MAX));
    }
}

/// Discover mode: the executables the container's processes already run
/// (its entrypoint ran before the mark).
fn seed(shared: &Shared, w: &Watched) {
    let Some(key) = &w.image_key else { return };
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let root_link = std::fs::read_link(format!("/proc/{}/root", w.pid)).ok();
    for entry in dir.take(MAX_SCAN).flatten() {
        let p = entry.path();
        let same = std::fs::read_to_string(p.join("cgroup"))
            .ok()
            .is_some_and(|cg| CgroupPaths::parse(&cg) == w.cgroups);
        if !same || std::fs::read_link(p.join("root")).ok() != root_link {
            continue;
        }
        let Ok(path) = std::fs::read_link(p.join("exe")) else {
            continue;
        };
        let Ok(f) = std::fs::File::open(p.join("exe")) else {
            continue;
        };
        use std::os::fd::AsFd;
        if let Some(e) = super::fanotify::executable(f.as_fd(), &path.to_string_lossy()) {
            shared.learn(key, &w.reference, e);
        }
    }
}

/// Samples every watched container; false when the engine is gone.
fn sample(shared: &Shared, queue: &Queue, metrics: Option<&Metrics>) -> bool {
    for (id, w) in shared.all() {
        let u = read_usage(
            &w.cgroups,
            Path::new("/sys/fs/cgroup"),
            Path::new("/proc"),
            w.pid,
        );
        if let Some(m) = metrics {
            m.set_container(&id, &w.name, &u);
        }
        let ev = ResourceEvent {
            time: Some(SystemTime::now()),
            container_id: id,
            memory_pct: Usage::pct(u.memory_bytes, u.memory_limit),
            pids_pct: Usage::pct(u.pids, u.pids_limit),
            memory_bytes: u.memory_bytes,
            memory_limit: u.memory_limit,
            pids: u.pids,
            pids_limit: u.pids_limit,
        };
        if !queue.push(Event::Resource(Box::new(ev))) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn upper_dir_of_the_root_overlay() {
        let m = "1208 1100 0:120 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/d/l/A:/d/l/B,upperdir=/d/overlay2/abc/diff,workdir=/d/overlay2/abc/work\n\
                 1209 1208 0:121 / /proc rw,nosuid - proc proc rw\n";
        assert_eq!(
            overlay_upper(m),
            Some(PathBuf::from("/d/overlay2/abc/diff"))
        );
        assert_eq!(
            overlay_upper("1209 1208 0:121 / /proc rw - proc proc rw\n"),
            None
        );
        assert_eq!(overlay_upper("1 2 0:1 / / rw - ext4 /dev/vda rw\n"), None);
        assert_eq!(overlay_upper("garbage\n - \n"), None);
    }
}
