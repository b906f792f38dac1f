//! Enrichment from `/proc/<pid>`: exe, command line, uid, cwd, tty, standard
//! descriptors, cgroup (container) and the parent chain. Every read is
//! bounded; a process that exits half-way is reported with what was read
//! (`complete = false`), and once its directory is gone the remaining reads
//! are skipped. A bounded table of the processes seen (exec and fork events)
//! gives the ancestors without reading `/proc` again, the ones already gone
//! included, and the container of a process that exited before its cgroup
//! was read (a child starts in its parent's cgroup).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cgroup;
use crate::event::{Ancestor, ExecEvent, FdKind};

/// Longest command line read (bytes); the rest is cut.
pub const MAX_CMDLINE: usize = 4096;
/// Most arguments kept.
pub const MAX_ARGS: usize = 128;
/// Default number of ancestors reported.
pub const DEFAULT_ANCESTORS: usize = 8;
/// Most processes remembered for ancestors that already exited.
pub const PROCESS_TABLE_LIMIT: usize = 32_768;

/// Reads processes under a proc root (`/proc` on a host; a directory of
/// fake entries in tests).
#[derive(Debug, Clone)]
pub struct ProcReader {
    root: PathBuf,
    ancestors: usize,
    table: ProcessTable,
}

/// What is remembered of a process for the ancestor chains of its
/// descendants.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    ppid: Option<u32>,
    name: String,
    exe: Option<String>,
    container_id: Option<Arc<str>>,
}

/// Bounded pid → [`Known`] map, filled by exec and fork events, emptied by
/// exit events. When full, new entries are not added (counted).
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    map: HashMap<u32, Known>,
    /// Entries not stored because the table was full.
    pub refused: u64,
}

impl ProcessTable {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn insert(&mut self, pid: u32, k: Known) {
        if self.map.len() >= PROCESS_TABLE_LIMIT && !self.map.contains_key(&pid) {
            self.refused += 1;
            return;
        }
        self.map.insert(pid, k);
    }
}

impl ProcReader {
    pub fn new(root: impl Into<PathBuf>, ancestors: usize) -> Self {
        Self {
            root: root.into(),
            ancestors,
            table: ProcessTable::default(),
        }
    }

    /// The host's `/proc`.
    pub fn host() -> Self {
        Self::new("/proc", DEFAULT_ANCESTORS)
    }

    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    /// A fork: the child is, until it execs, a copy of its parent.
    pub fn on_fork(&mut self, parent: u32, child: u32) {
        let known = self.table.map.get(&parent).cloned().or_else(|| {
            let dir = self.root.join(parent.to_string());
            let stat = read_small(&dir.join("stat"), 1024)?;
            let (name, _, _) = parse_stat(&stat)?;
            Some(Known {
                ppid: None,
                name: name.to_string(),
                exe: read_link(&dir.join("exe")),
                container_id: read_container(&dir),
            })
        });
        if let Some(mut k) = known {
            k.ppid = Some(parent);
            self.table.insert(child, k);
        }
    }

    /// An exit: forget the process.
    pub fn on_exit(&mut self, pid: u32) {
        self.table.map.remove(&pid);
    }

    /// Reads an exec'd process. Never fails: missing pieces stay `None`.
    pub fn exec(&mut self, pid: u32) -> ExecEvent {
        let dir = self.root.join(pid.to_string());
        let mut ev = ExecEvent {
            pid,
            complete: true,
            ..ExecEvent::default()
        };
        let mut missing = false;
        // The command line and the executable first: a process that execs
        // again or exits within microseconds changes or loses them first.
        ev.exe = read_link(&dir.join("exe"));
        let known = self.table.map.get(&pid);
        match std::fs::read(dir.join("cmdline")) {
            Ok(raw) => {
                let mut argv = split_cmdline(&raw);
                if !argv.is_empty() {
                    ev.cmdline = argv.join(" ");
                    ev.argv0 = Some(argv.remove(0));
                    ev.args = argv;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Gone (a short-lived process): every other read would fail
                // too. What the table knows from its fork stands in.
                ev.complete = false;
                ev.ppid = known.and_then(|k| k.ppid);
                ev.container_id = known.and_then(|k| k.container_id.as_deref().map(str::to_string));
                ev.ancestors = self.ancestors_of(ev.ppid);
                return ev;
            }
            Err(_) => missing = true,
        }
        match read_small(&dir.join("stat"), 1024)
            .as_deref()
            .and_then(parse_stat)
        {
            Some((name, ppid, tty)) => {
                ev.name = name.to_string();
                ev.ppid = Some(ppid);
                ev.tty = Some(tty);
            }
            None => missing = true,
        }
        if let Some(comm) = read_small(&dir.join("comm"), 64) {
            // comm is authoritative (stat's copy can be stale mid-exec).
            ev.name = comm.trim_end_matches('\n').to_string();
        }
        ev.uid = read_small(&dir.join("status"), 8192)
            .as_deref()
            .and_then(parse_uid);
        ev.cwd = read_link(&dir.join("cwd"));
        ev.stdin = read_link(&dir.join("fd/0")).map_or(FdKind::Unknown, |t| FdKind::from_link(&t));
        ev.stdout = read_link(&dir.join("fd/1")).map_or(FdKind::Unknown, |t| FdKind::from_link(&t));
        let container_id = read_container(&dir).or_else(|| {
            self.table
                .map
                .get(&pid)
                .and_then(|k| k.container_id.clone())
        });
        ev.container_id = container_id.as_deref().map(str::to_string);
        if ev.exe.is_none() {
            missing = true;
        }
        // The table knows the parent even when /proc no longer does.
        if ev.ppid.is_none() {
            ev.ppid = self.table.map.get(&pid).and_then(|k| k.ppid);
        }
        if ev.name.is_empty() {
            missing = true;
        }
        ev.complete = !missing;
        ev.ancestors = self.ancestors_of(ev.ppid);
        self.table.insert(
            pid,
            Known {
                ppid: ev.ppid,
                name: ev.name.clone(),
                exe: ev.exe.clone(),
                container_id,
            },
        );
        ev
    }

    /// The parent chain: from the table (every exec and fork the sensor saw
    /// keeps it current), else from `/proc` for processes older than the
    /// sensor, which the table then remembers.
    fn ancestors_of(&mut self, mut next: Option<u32>) -> Vec<Ancestor> {
        let mut out = Vec::new();
        while let Some(pid) = next {
            if pid == 0 || out.len() >= self.ancestors {
                break;
            }
            let k = match self.table.map.get(&pid) {
                Some(k) => k.clone(),
                None => {
                    let dir = self.root.join(pid.to_string());
                    let Some((name, ppid)) = read_small(&dir.join("stat"), 1024).and_then(|s| {
                        let (name, ppid, _) = parse_stat(&s)?;
                        Some((name.to_string(), ppid))
                    }) else {
                        break;
                    };
                    let k = Known {
                        ppid: Some(ppid),
                        name,
                        exe: read_link(&dir.join("exe")),
                        container_id: read_container(&dir),
                    };
                    self.table.insert(pid, k.clone());
                    k
                }
            };
            out.push(Ancestor {
                pid,
                name: k.name,
                exe: k.exe,
            });
            next = k.ppid;
        }
        out
    }
}

/// The container of the process whose `/proc` directory is `dir`.
fn read_container(dir: &Path) -> Option<Arc<str>> {
    read_small(&dir.join("cgroup"), 16 * 1024)
        .as_deref()
        .and_then(cgroup::container_id)
        .map(Arc::from)
}

fn read_small(path: &Path, limit: u64) -> Option<String> {
    use std::io::Read;
    // std, not fs_err: a failed read is expected (processes exit) and is
    // dropped, so it should not format a message.
    let f = std::fs::File::open(path).ok()?;
    let mut s = String::new();
    f.take(limit).read_to_string(&mut s).ok()?;
    Some(s)
}

fn read_link(path: &Path) -> Option<String> {
    std::fs::read_link(path)
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

/// `(comm, ppid, tty_nr)` from `/proc/<pid>/stat`. The name is between the
/// first `(` and the last `)` (it may hold spaces and parentheses).
pub fn parse_stat(stat: &str) -> Option<(&str, u32, u32)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let mut rest = stat.get(close + 1..)?.split_ascii_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    let _pgrp = rest.next()?;
    let _session = rest.next()?;
    let tty: i64 = rest.next()?.parse().ok()?;
    Some((name, ppid, u32::try_from(tty).unwrap_or(0)))
}

/// The real uid from `/proc/<pid>/status`.
pub fn parse_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// NUL-separated arguments, at most [`MAX_ARGS`] and [`MAX_CMDLINE`] bytes.
pub fn split_cmdline(raw: &[u8]) -> Vec<String> {
    let raw = raw.get(..MAX_CMDLINE).unwrap_or(raw);
    let raw = raw.strip_suffix(&[0]).unwrap_or(raw);
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(|b| *b == 0)
        .take(MAX_ARGS)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let s = "1234 (my) proc (x)) S 77 1234 1234 34816 1234 4194560 0";
        assert_eq!(parse_stat(s), Some(("my) proc (x)", 77, 34816)));
        assert_eq!(parse_stat("1 (init"), None);
    }

    #[test]
    fn uid_and_cmdline() {
        assert_eq!(parse_uid("Name:\tsh\nUid:\t1000\t0\t0\t0\n"), Some(1000));
        assert_eq!(
            split_cmdline(b"nc\0-e\0/bin/sh\0"),
            vec!["nc", "-e", "/bin/sh"]
        );
        assert_eq!(split_cmdline(b""), Vec::<String>::new());
        let long = vec![b'a'; 10_000];
        assert_eq!(split_cmdline(&long)[0].len(), MAX_CMDLINE);
    }

    /// A fake /proc: a process that is gone (no directory) is still reported,
    /// not complete, with the ancestors the table remembers.
    #[test]
    fn gone_process_reported_incomplete_with_remembered_ancestors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("100");
        fs_err::create_dir_all(&p).unwrap();
        fs_err::write(p.join("stat"), "100 (bash) S 1 100 100 34816 0 0").unwrap();
        fs_err::write(p.join("comm"), "bash\n").unwrap();
        fs_err::write(p.join("cmdline"), "bash\0").unwrap();
        let id = "a".repeat(64);
        fs_err::write(p.join("cgroup"), format!("12:pids:/docker/{id}\n")).unwrap();
        let mut r = ProcReader::new(dir.path(), 4);
        let parent = r.exec(100);
        assert_eq!(parent.tty, Some(34816));
        assert!(!parent.complete, "no exe link in the fake");
        r.on_fork(100, 101);
        fs_err::remove_dir_all(&p).unwrap();
        let ev = r.exec(101);
        assert!(!ev.complete);
        assert_eq!(ev.ppid, Some(100));
        assert_eq!(ev.ancestors.len(), 1);
        assert_eq!(ev.ancestors[0].name, "bash");
        assert_eq!(
            ev.container_id.as_deref(),
            Some(id.as_str()),
            "inherited at fork"
        );
    }

    /// Ancestors come from the table once seen: a parent whose `/proc`
    /// entry changed is still reported as the sensor last saw it exec.
    #[test]
    fn ancestors_from_the_table_without_reading_proc() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("200");
        fs_err::create_dir_all(&p).unwrap();
        fs_err::write(p.join("stat"), "200 (nginx) S 1 200 200 0 0 0").unwrap();
        fs_err::write(p.join("cmdline"), "nginx\0").unwrap();
        let mut r = ProcReader::new(dir.path(), 4);
        r.exec(200);
        fs_err::write(p.join("stat"), "200 (other) S 1 200 200 0 0 0").unwrap();
        r.on_fork(200, 201);
        let c = dir.path().join("201");
        fs_err::create_dir_all(&c).unwrap();
        fs_err::write(c.join("stat"), "201 (sh) S 200 200 200 0 0 0").unwrap();
        fs_err::write(c.join("cmdline"), "sh\0").unwrap();
        let ev = r.exec(201);
        assert_eq!(ev.ppid, Some(200));
        let names: Vec<_> = ev.ancestors.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["nginx"], "pid 1 is not in the fake /proc");
    }
}
