//! Resource use of a container from its cgroups (v1: `memory`, `cpuacct`,
//! `pids` hierarchies; v2: the unified hierarchy) and its network namespace
//! (`/proc/<pid>/net/dev`). Parsers are pure and take the files' text; the
//! reader takes the roots so tests can point them at a fixture tree.
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::{Path, PathBuf};

/// Largest file read from cgroupfs or procfs here.
const MAX_READ: u64 = 64 * 1024;
/// A v1 memory limit at or above this is "no limit" (the kernel reports
/// `PAGE_COUNTER_MAX` pages as a huge byte count).
const NO_LIMIT_V1: u64 = 1 << 62;

/// One sample of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used, nanoseconds (cumulative).
    pub cpu_ns: Option<u64>,
    /// Working set: usage minus inactive page cache.
    pub memory_bytes: Option<u64>,
    pub memory_limit: Option<u64>,
    pub pids: Option<u64>,
    pub pids_limit: Option<u64>,
    /// Bytes received and sent on the container's interfaces (loopback
    /// excluded), cumulative.
    pub net_rx_bytes: Option<u64>,
    pub net_tx_bytes: Option<u64>,
}

impl Usage {
    /// `part` as a whole percentage of `limit`, rounded down.
    pub fn pct(part: Option<u64>, limit: Option<u64>) -> Option<u32> {
        let (p, l) = (part?, limit?);
        if l == 0 {
            return None;
        }
        u32::try_from(u128::from(p) * 100 / u128::from(l)).ok()
    }
}

/// Where a process's cgroups are, from `/proc/<pid>/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupPaths {
    /// v1: controllers → path (e.g. `memory` → `/docker/<id>`).
    pub v1: Vec<(String, String)>,
    /// v2: the unified path (`0::/…`).
    pub v2: Option<String>,
}

impl CgroupPaths {
    pub fn parse(cgroup_file: &str) -> Self {
        let mut out = Self::default();
        for line in cgroup_file.lines().take(64) {
            let mut it = line.splitn(3, ':');
            let (Some(id), Some(ctrl), Some(path)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            if id == "0" && ctrl.is_empty() {
                out.v2 = Some(path.to_string());
            } else if !ctrl.is_empty() {
                out.v1.push((ctrl.to_string(), path.to_string()));
            }
        }
        out
    }

    /// The v1 hierarchy directory holding `controller`, e.g.
    /// `<root>/cpu,cpuacct/docker/<id>`.
    fn v1_dir(&self, root: &Path, controller: &str) -> Option<PathBuf> {
        self.v1
            .iter()
            .find(|(c, _)| c.split(',').any(|x| x == controller))
            .map(|(c, p)| root.join(c).join(p.trim_start_matches('/')))
    }
}

fn read(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut s = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_READ).read_to_string(&mut s))
        .ok()?;
    Some(s)
}

fn read_u64(path: &Path) -> Option<u64> {
    read(path)?.trim().parse().ok()
}

/// `max` or a number.
fn read_limit(path: &Path) -> Option<u64> {
    let s = read(path)?;
    let s = s.trim();
    if s == "max" {
        None
    } else {
        s.parse().ok()
    }
}

/// A `key value` line of a stat file (`memory.stat`, `cpu.stat`).
pub fn stat_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Sums receive and transmit bytes of `/proc/<pid>/net/dev`, loopback
/// excluded.
pub fn net_dev_totals(text: &str) -> Option<(u64, u64)> {
    let mut rx = 0u64;
    let mut tx = 0u64;
    let mut any = false;
    for line in text.lines().skip(2).take(1024) {
        let Some((iface, rest)) = line.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let cols: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect();
        if let (Some(r), Some(t)) = (cols.first(), cols.get(8)) {
            rx = rx.saturating_add(*r);
            tx = tx.saturating_add(*t);
            any = true;
        }
    }
    any.then_some((rx, tx))
}

/// Reads one container's usage: cgroups below `cgroup_root`
/// (`/sys/fs/cgroup`), network counters from `<proc_root>/<pid>/net/dev`.
pub fn read_usage(paths: &CgroupPaths, cgroup_root: &Path, proc_root: &Path, pid: u32) -> Usage {
    let mut u = Usage::default();
    if let Some(v2) = &paths.v2 {
        if paths.v1.iter().all(|(c, _)| c.starts_with("name=")) {
            let dir = cgroup_root.join(v2.trim_start_matches('/'));
            u.cpu_ns = read(&dir.join("cpu.stat"))
                .and_then(|s| stat_value(&s, "usage_usec"))
                .map(|us| us.saturating_mul(1000));
            let inactive = read(&dir.join("memory.stat"))
                .and_then(|s| stat_value(&s, "inactive_file"))
                .unwrap_or(0);
            u.memory_bytes =
                read_u64(&dir.join("memory.current")).map(|m| m.saturating_sub(inactive));
            u.memory_limit = read_limit(&dir.join("memory.max"));
            u.pids = read_u64(&dir.join("pids.current"));
            u.pids_limit = read_limit(&dir.join("pids.max"));
        }
    }
    if let Some(dir) = paths.v1_dir(cgroup_root, "cpuacct") {
        u.cpu_ns = read_u64(&dir.join("cpuacct.usage")).or(u.cpu_ns);
    }
    if let Some(dir) = paths.v1_dir(cgroup_root, "memory") {
        let inactive = read(&dir.join("memory.stat"))
            .and_then(|s| stat_value(&s, "total_inactive_file"))
            .unwrap_or(0);
        if let Some(m) = read_u64(&dir.join("memory.usage_in_bytes")) {
            u.memory_bytes = Some(m.saturating_sub(inactive));
        }
        if let Some(l) = read_u64(&dir.join("memory.limit_in_bytes")) {
            u.memory_limit = (l < NO_LIMIT_V1).then_some(l);
        }
    }
    if let Some(dir) = paths.v1_dir(cgroup_root, "pids") {
        u.pids = read_u64(&dir.join("pids.current")).or(u.pids);
        u.pids_limit = read_limit(&dir.join("pids.max"));
    }
    if let Some((rx, tx)) = read(&proc_root.join(pid.to_string()).join("net/dev"))
        .as_deref()
        .and_then(net_dev_totals)
    {
        u.net_rx_bytes = Some(rx);
        u.net_tx_bytes = Some(tx);
    }
    u
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_v1_and_v2_cgroup_files() {
        let v1 = CgroupPaths::parse(
            "12:pids:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n1:name=systemd:/docker/abc\n",
        );
        assert_eq!(v1.v2, None);
        let root = Path::new("/sys/fs/cgroup");
        assert_eq!(
            v1.v1_dir(root, "cpuacct").unwrap(),
            Path::new("/sys/fs/cgroup/cpu,cpuacct/docker/abc")
        );
        let v2 = CgroupPaths::parse("0::/system.slice/docker-abc.scope\n");
        assert_eq!(v2.v2.as_deref(), Some("/system.slice/docker-abc.scope"));
    }

    #[test]
    fn reads_a_v2_tree_and_percentages() {
        let dir = tempfile::tempdir().unwrap();
        let cg = dir.path().join("cg/system.slice/c.scope");
        std::fs::create_dir_all(&cg).unwrap();
        std::fs::write(cg.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\n").unwrap();
        std::fs::write(cg.join("memory.current"), "1000\n").unwrap();
        std::fs::write(cg.join("memory.stat"), "anon 800\ninactive_file 100\n").unwrap();
        std::fs::write(cg.join("memory.max"), "1000\n").unwrap();
        std::fs::write(cg.join("pids.current"), "3\n").unwrap();
        std::fs::write(cg.join("pids.max"), "max\n").unwrap();
        let proc = dir.path().join("proc/7/net");
        std::fs::create_dir_all(&proc).unwrap();
        std::fs::write(
            proc.join("dev"),
            "Inter-|   Receive  |  Transmit\n face |bytes packets errs drop fifo frame compressed multicast|bytes packets\n    lo: 999 1 0 0 0 0 0 0 999 1 0 0 0 0 0 0\n  eth0: 1200 10 0 0 0 0 0 0 3400 20 0 0 0 0 0 0\n",
        )
        .unwrap();
        let paths = CgroupPaths::parse("0::/system.slice/c.scope\n");
        let u = read_usage(&paths, &dir.path().join("cg"), &dir.path().join("proc"), 7);
        assert_eq!(u.cpu_ns, Some(1_500_000));
        assert_eq!(u.memory_bytes, Some(900));
        assert_eq!(u.memory_limit, Some(1000));
        assert_eq!(u.pids, Some(3));
        assert_eq!(u.pids_limit, None);
        assert_eq!((u.net_rx_bytes, u.net_tx_bytes), (Some(1200), Some(3400)));
        assert_eq!(Usage::pct(u.memory_bytes, u.memory_limit), Some(90));
        assert_eq!(Usage::pct(u.pids, u.pids_limit), None);
    }

    #[test]
    fn hostile_text_does_not_panic() {
        for t in ["", ":", "x:y", "0::", "\n\n\n", "a:b:c:d"] {
            let _ = CgroupPaths::parse(t);
            let _ = net_dev_totals(t);
            let _ = stat_value(t, "x");
        }
        assert_eq!(Usage::pct(Some(u64::MAX), Some(1)), None);
    }
}
