//! File events from fanotify (the `nix` crate's safe wrapper; no FFI here):
//! one group, a mount mark on each container's root filesystem (placed by
//! the watcher, [`super::watch`]), read on a thread of its own.
//!
//! Events: `FAN_OPEN`, `FAN_MODIFY`, `FAN_CLOSE_WRITE`, and `FAN_OPEN_EXEC`
//! (off, discover, monitor) or `FAN_OPEN_EXEC_PERM` (protect). A permission
//! event is answered on this thread right after it is read, from memory:
//! the path (the event fd's `/proc/self/fd` link), one `fstat` of the event
//! fd (size, mtime, device), the container (the one whose root filesystem
//! is that device, as every file on an overlay whose layers share one
//! filesystem reports the overlay's device; else pid → `/proc/<pid>/cgroup`,
//! cached) and the image's allowlist. Nothing on that path waits for the engine, the
//! container engine or file contents; if any step fails the exec is
//! allowed and counted (`decision="error"`). When the sensor dies the
//! kernel answers pending events itself (allow) as the group is closed.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::fanotify::{EventFFlags, Fanotify, FanotifyResponse, InitFlags, MaskFlags, Response};

use super::watch::Shared;
use super::Queue;
pub use crate::allowlist::AllowlistMode;
use crate::allowlist::Executable;
use crate::error::SourceError;
use crate::event::{Event, FileEvent, FileOp};
use crate::metrics::{label, Metrics};

/// Largest executable hashed when learning.
const MAX_HASH: u64 = 1 << 30;

/// The events the marks ask for in `mode`.
pub fn mask(mode: AllowlistMode) -> MaskFlags {
    let base = MaskFlags::FAN_OPEN | MaskFlags::FAN_MODIFY | MaskFlags::FAN_CLOSE_WRITE;
    if mode == AllowlistMode::Protect {
        base | MaskFlags::FAN_OPEN_EXEC_PERM
    } else {
        base | MaskFlags::FAN_OPEN_EXEC
    }
}

/// Creates the fanotify group.
pub fn open() -> Result<Fanotify, SourceError> {
    Fanotify::init(
        InitFlags::FAN_CLASS_CONTENT | InitFlags::FAN_CLOEXEC | InitFlags::FAN_NONBLOCK,
        EventFFlags::O_RDONLY | EventFFlags::O_LARGEFILE | EventFFlags::O_CLOEXEC,
    )
    .map_err(|e| SourceError::Socket {
        source_name: "fanotify",
        source: std::io::Error::from(e),
    })
}

/// Reads the group on a new thread until `stop` is set or the engine goes
/// away.
pub fn spawn(
    fan: Arc<Fanotify>,
    queue: Queue,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
    mode: AllowlistMode,
    metrics: Option<Arc<Metrics>>,
) -> Result<JoinHandle<()>, SourceError> {
    std::thread::Builder::new()
        .name("sensor-fanotify".into())
        .spawn(move || {
            let mut r = Reader {
                fan,
                queue,
                shared,
                mode,
                metrics,
                cache: HashMap::new(),
                cache_reset: Instant::now(),
                own_pid: std::process::id(),
            };
            r.run(&stop);
        })
        .map_err(|source| SourceError::Socket {
            source_name: "fanotify",
            source,
        })
}

struct Reader {
    fan: Arc<Fanotify>,
    queue: Queue,
    shared: Arc<Shared>,
    mode: AllowlistMode,
    metrics: Option<Arc<Metrics>>,
    /// pid → container id, reset every second (pids are reused).
    cache: HashMap<u32, Option<String>>,
    cache_reset: Instant,
    own_pid: u32,
}

impl Reader {
    fn run(&mut self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            let ready = {
                let mut fds = [PollFd::new(self.fan.as_fd(), PollFlags::POLLIN)];
                poll(&mut fds, PollTimeout::from(200u16))
            };
            match ready {
                Ok(0) | Err(Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("fanotify: poll: {e}; the file source stops");
                    return;
                }
            }
            let events = match self.fan.read_events() {
                Ok(v) => v,
                Err(Errno::EAGAIN | Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!("fanotify: read: {e}; the file source stops");
                    return;
                }
            };
            if self.cache_reset.elapsed() > Duration::from_secs(1) || self.cache.len() > 8192 {
                self.cache.clear();
                self.cache_reset = Instant::now();
            }
            for ev in events {
                let mask = ev.mask();
                let Some(fd) = ev.fd() else {
                    // FAN_Q_OVERFLOW: the kernel's queue (16,384 events) overflowed.
                    self.queue
                        .counters
                        .kernel_overruns
                        .fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let pid = u32::try_from(ev.pid()).unwrap_or(0);
                if !self.handle(mask, fd, pid) {
                    return;
                }
            }
        }
    }

    /// One event; false when the engine is gone.
    fn handle(&mut self, mask: MaskFlags, fd: BorrowedFd<'_>, pid: u32) -> bool {
        let started = Instant::now();
        let path = nix::fcntl::readlink(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The container: the one whose root filesystem holds the file (no
        // `/proc` read), else the process's cgroup.
        let st = nix::sys::stat::fstat(fd).ok();
        let (container_id, watched) = match st.as_ref().and_then(|st| self.shared.by_dev(st.st_dev))
        {
            Some((id, w)) => (Some(id), Some(w)),
            None => {
                let id = self.container_of(pid);
                let w = id.as_deref().and_then(|id| self.shared.get(id));
                (id, w)
            }
        };
        let exec = mask.intersects(MaskFlags::FAN_OPEN_EXEC | MaskFlags::FAN_OPEN_EXEC_PERM);
        let mut allowlisted = None;
        let mut denied = false;
        // The image's mode and allowlist: per image from the server when
        // managed (then every mark asks for permission events), else the
        // sensor's own mode.
        let (mode, profile) = match &watched {
            Some(w) => self.shared.policy(w, self.mode),
            None => (self.mode, None),
        };
        if exec && matches!(mode, AllowlistMode::Monitor | AllowlistMode::Protect) {
            if let Some(profile) = &profile {
                allowlisted = st
                    .as_ref()
                    .map(|st| profile.allows(&path, st.st_size as u64, mtime_ns(st)));
            }
        }
        if mask.contains(MaskFlags::FAN_OPEN_EXEC_PERM) {
            // Deny only what a profile says is not allowed; anything the
            // decision could not be made for is allowed and counted.
            let decision = if pid == self.own_pid || path.is_empty() {
                "error"
            } else if allowlisted == Some(false) && mode == AllowlistMode::Protect {
                "deny"
            } else if mode == AllowlistMode::Protect && profile.is_some() && allowlisted.is_none() {
                "error"
            } else {
                "allow"
            };
            denied = decision == "deny";
            let response = if denied {
                Response::FAN_DENY
            } else {
                Response::FAN_ALLOW
            };
            if let Err(e) = self.fan.write_response(FanotifyResponse::new(fd, response)) {
                tracing::warn!("fanotify: answering a permission event: {e}");
            }
            if let Some(m) = &self.metrics {
                m.decisions
                    .get_or_create(&label("decision", decision))
                    .inc();
                m.decision_time.observe(started.elapsed().as_secs_f64());
            }
        }
        if pid == self.own_pid {
            return true;
        }
        let op = if exec {
            FileOp::Exec
        } else if mask.intersects(MaskFlags::FAN_MODIFY | MaskFlags::FAN_CLOSE_WRITE) {
            FileOp::Write
        } else {
            FileOp::Open
        };
        let upper_layer = match (&watched, op) {
            (Some(w), FileOp::Exec) => w.upper.as_ref().map(|u| {
                u.join(path.trim_start_matches('/'))
                    .symlink_metadata()
                    .is_ok()
            }),
            _ => None,
        };
        if exec && mode == AllowlistMode::Discover {
            if let Some(w) = &watched {
                if let Some(key) = &w.image_key {
                    if let Some(e) = executable(fd, &path) {
                        self.shared.learn(key, &w.reference, e);
                    }
                }
            }
        }
        let proc = format!("/proc/{pid}");
        let name = std::fs::read_to_string(format!("{proc}/comm"))
            .map(|s| s.trim_end().to_string())
            .unwrap_or_default();
        let exe = std::fs::read_link(format!("{proc}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        self.queue.push(Event::File(Box::new(FileEvent {
            time: Some(SystemTime::now()),
            op: Some(op),
            path,
            pid,
            name,
            exe,
            container_id,
            upper_layer,
            allowlisted,
            denied,
        })))
    }

    fn container_of(&mut self, pid: u32) -> Option<String> {
        if let Some(c) = self.cache.get(&pid) {
            return c.clone();
        }
        let id = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .ok()
            .and_then(|s| crate::cgroup::container_id(&s).map(str::to_string));
        self.cache.insert(pid, id.clone());
        id
    }
}

/// Modification time in nanoseconds since the epoch.
pub fn mtime_ns(st: &nix::sys::stat::FileStat) -> i64 {
    st.st_mtime
        .saturating_mul(1_000_000_000)
        .saturating_add(st.st_mtime_nsec)
}

/// Size, mtime and sha256 of the open file `fd` (read from its start).
pub fn executable(fd: BorrowedFd<'_>, path: &str) -> Option<Executable> {
    use sha2::Digest;
    use std::io::{Read, Seek};
    let st = nix::sys::stat::fstat(fd).ok()?;
    let mut f = std::fs::File::from(fd.try_clone_to_owned().ok()?);
    f.seek(std::io::SeekFrom::Start(0)).ok()?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f.take(MAX_HASH), &mut h).ok()?;
    Some(Executable {
        path: path.to_string(),
        sha256: hex::encode(h.finalize()),
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime_ns: mtime_ns(&st),
    })
}
