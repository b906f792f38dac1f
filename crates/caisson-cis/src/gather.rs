//! Reads the host's files under a root directory (`/`, or `/host` when the
//! agent runs in a container with the host mounted there). This is the only
//! module here that does I/O; every problem becomes a note or a fact
//! (missing, unreadable) for the checks to judge, never an error.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use bollard::models::SystemInfo;

use crate::config::DaemonConfig;
use crate::facts::{
    AuditFacts, ConfigFile, DaemonFacts, FileKind, FileStat, FileState, GroupFact, HostFacts,
};
use crate::parse::{self, MAX_INPUT};
use crate::paths;

/// What [`gather_host`] reads.
#[derive(Debug, Clone)]
pub struct GatherOptions {
    /// Host root (`/` by default).
    pub root: PathBuf,
    /// The engine URL in use; picks the dockerd that listens there when
    /// several run.
    pub docker_host: Option<String>,
    /// Run `auditctl -l` (only when `root` is `/`: it reports the running
    /// kernel's rules).
    pub run_auditctl: bool,
    /// `DOCKER_CONTENT_TRUST` as the caller's environment has it.
    pub content_trust: Option<String>,
}

impl Default for GatherOptions {
    fn default() -> Self {
        GatherOptions {
            root: PathBuf::from("/"),
            docker_host: None,
            run_auditctl: true,
            content_trust: None,
        }
    }
}

/// Most certificate files walked under certs.d.
const MAX_CERTS: usize = 1000;

/// Symlink hops followed inside the root.
const MAX_HOPS: usize = 16;

/// Gathers the host facts; `info` is the engine's `/info` when available.
pub fn gather_host(opts: &GatherOptions, info: Option<SystemInfo>) -> HostFacts {
    let root = opts.root.as_path();
    let mut notes = Vec::new();
    let daemon = daemon_facts(root, opts.docker_host.as_deref(), &mut notes);
    let passwd = read_small(&under(root, "/etc/passwd"))
        .map(|t| parse::id_file(&t))
        .unwrap_or_default();
    let group_text = read_small(&under(root, "/etc/group"));
    let groups = group_text
        .as_deref()
        .map(parse::id_file)
        .unwrap_or_default();
    let docker_group = match &group_text {
        None => {
            notes.push(format!(
                "{} could not be read",
                under(root, "/etc/group").display()
            ));
            GroupFact::Unknown
        }
        Some(_) => groups
            .iter()
            .find(|g| g.name == "docker")
            .map_or(GroupFact::Absent, |g| GroupFact::Present {
                gid: g.id,
                members: g.members.clone(),
            }),
    };
    let user_name = |uid: u32| passwd.iter().find(|p| p.id == uid).map(|p| p.name.clone());
    let group_name = |gid: u32| groups.iter().find(|g| g.id == gid).map(|g| g.name.clone());
    let stat_named = |p: &str| match stat(root, p) {
        FileState::Present(mut s) => {
            s.owner = user_name(s.uid);
            s.group = group_name(s.gid);
            FileState::Present(s)
        }
        other => other,
    };

    let cfg = DaemonConfig::new(&daemon);
    let mut files = BTreeMap::new();
    for p in paths::all(&cfg, info.as_ref()) {
        let state = stat_named(&p);
        files.insert(p, state);
    }
    let registry_certs = certs(root, paths::CERTS_D).map(|list| {
        list.into_iter()
            .map(|p| {
                let s = stat_named(&p);
                (p, s)
            })
            .collect()
    });
    let audit = audit_facts(root, opts.run_auditctl, &mut notes);
    let mounts = mounts(root, &mut notes);
    let apparmor = read_small(&under(root, "/sys/module/apparmor/parameters/enabled"))
        .is_some_and(|t| t.trim_start().starts_with('Y'));
    let selinux = under(root, "/sys/fs/selinux/enforce").exists();
    if let ConfigFile::Malformed(e) = &daemon.config {
        notes.push(format!("{} is malformed: {e}", daemon.config_path));
    }
    HostFacts {
        root: root.display().to_string(),
        docker_host: opts.docker_host.clone(),
        info,
        daemon,
        files,
        registry_certs,
        audit,
        mounts,
        docker_group,
        content_trust: opts.content_trust.clone(),
        apparmor,
        selinux,
        notes,
    }
}

/// `root` + an absolute host path.
fn under(root: &Path, host_path: &str) -> PathBuf {
    root.join(host_path.trim_start_matches('/'))
}

/// A file's text, at most [`MAX_INPUT`] bytes (longer files are cut).
fn read_small(p: &Path) -> Option<String> {
    read_bytes(p)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn read_bytes(p: &Path) -> std::io::Result<Vec<u8>> {
    let f = fs_err::File::open(p)?;
    let mut buf = Vec::new();
    f.take(MAX_INPUT as u64 + 1).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Finds dockerd under `<root>/proc` and reads its configuration file.
fn daemon_facts(root: &Path, docker_host: Option<&str>, notes: &mut Vec<String>) -> DaemonFacts {
    let mut found: Vec<(u32, Vec<String>)> = Vec::new();
    match fs_err::read_dir(under(root, "/proc")) {
        Ok(rd) => {
            for e in rd.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                    continue;
                };
                let Ok(bytes) = read_bytes(&e.path().join("cmdline")) else {
                    continue;
                };
                let argv = parse::cmdline(&bytes);
                let is_dockerd = argv
                    .first()
                    .is_some_and(|a| a.rsplit('/').next() == Some("dockerd"));
                if is_dockerd {
                    found.push((pid, argv));
                }
            }
        }
        Err(e) => notes.push(format!("dockerd's command line not read: {e}")),
    }
    found.sort_by_key(|(pid, _)| *pid);
    // Several daemons (a test dockerd beside the system one): prefer the one
    // listening where the client connects, else the newest.
    let chosen = docker_host
        .and_then(|h| {
            found.iter().find(|(_, argv)| {
                let facts = DaemonFacts {
                    cmdline: Some(argv.clone()),
                    ..Default::default()
                };
                DaemonConfig::new(&facts).flag_all("host").contains(&h)
            })
        })
        .or_else(|| found.last())
        .cloned();
    if found.len() > 1 {
        if let Some((pid, _)) = &chosen {
            notes.push(format!(
                "{} dockerd processes; reading pid {pid}",
                found.len()
            ));
        }
    }
    if chosen.is_none() && notes.is_empty() {
        notes.push(
            "no dockerd process found; daemon flags unknown (daemon.json and /info still read)"
                .into(),
        );
    }
    let (pid, cmdline) = match chosen {
        Some((pid, argv)) => (Some(pid), Some(argv)),
        None => (None, None),
    };
    let partial = DaemonFacts {
        pid,
        cmdline: cmdline.clone(),
        ..Default::default()
    };
    let config_path = DaemonConfig::new(&partial)
        .flag("config-file")
        .flatten()
        .map_or_else(|| paths::DEFAULT_DAEMON_JSON.to_string(), str::to_string);
    let config = match read_bytes(&under(root, &config_path)) {
        Ok(b) => parse::daemon_json(&b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigFile::Absent,
        Err(e) => ConfigFile::Unreadable(e.to_string()),
    };
    DaemonFacts {
        pid,
        cmdline,
        config_path,
        config,
    }
}

/// Stats a host path under `root`, following symlinks inside the root.
fn stat(root: &Path, host_path: &str) -> FileState {
    let mut p = host_path.to_string();
    for _ in 0..MAX_HOPS {
        let full = under(root, &p);
        let meta = match fs_err::symlink_metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileState::Missing,
            Err(e) => return FileState::Unreadable(e.to_string()),
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = match fs_err::read_link(&full) {
                Ok(t) => t,
                Err(e) => return FileState::Unreadable(e.to_string()),
            };
            let t = target.to_string_lossy();
            p = if t.starts_with('/') {
                t.into_owned()
            } else {
                let parent = p.rsplit_once('/').map_or("", |(d, _)| d);
                format!("{parent}/{t}")
            };
            continue;
        }
        let kind = if ft.is_file() {
            FileKind::File
        } else if ft.is_dir() {
            FileKind::Dir
        } else if ft.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Other
        };
        return FileState::Present(FileStat {
            kind,
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            owner: None,
            group: None,
        });
    }
    FileState::Unreadable(format!("more than {MAX_HOPS} symlinks"))
}

/// `*.crt` files under certs.d (two levels: `<registry>/<file>.crt`, plus
/// one more for safety); `None` when the directory does not exist.
fn certs(root: &Path, dir: &str) -> Option<Vec<String>> {
    let full = under(root, dir);
    if !full.is_dir() {
        return None;
    }
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_string(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = fs_err::read_dir(under(root, &d)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let host = format!("{d}/{name}");
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && depth < 2 {
                stack.push((host, depth + 1));
            } else if name.ends_with(".crt") && out.len() < MAX_CERTS {
                out.push(host);
            }
        }
    }
    out.sort();
    Some(out)
}

/// `auditctl -l` when allowed and working, else the rules files.
fn audit_facts(root: &Path, run_auditctl: bool, notes: &mut Vec<String>) -> AuditFacts {
    if run_auditctl && root == Path::new("/") {
        match Command::new("auditctl").arg("-l").output() {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                return AuditFacts {
                    source: Some("auditctl -l".into()),
                    rules: parse::audit_rules(&text),
                };
            }
            Ok(o) => notes.push(format!(
                "auditctl -l failed ({}); reading the rules files",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(_) => {}
        }
    }
    let mut files: Vec<PathBuf> = fs_err::read_dir(under(root, "/etc/audit/rules.d"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "rules"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files.push(under(root, "/etc/audit/audit.rules"));
    let mut rules = Vec::new();
    let mut read = Vec::new();
    for f in files {
        if let Some(t) = read_small(&f) {
            rules.extend(parse::audit_rules(&t));
            read.push(f.display().to_string());
        }
    }
    AuditFacts {
        source: (!read.is_empty()).then(|| read.join(", ")),
        rules,
    }
}

/// Mounts with host-path mount points: `<root>/proc/self/mountinfo`
/// (falling back to this process's), those under `root` with the prefix
/// removed.
fn mounts(root: &Path, notes: &mut Vec<String>) -> Option<Vec<parse::Mount>> {
    let text = read_small(&under(root, "/proc/self/mountinfo"))
        .or_else(|| read_small(Path::new("/proc/self/mountinfo")));
    let Some(text) = text else {
        notes.push("mountinfo could not be read".into());
        return None;
    };
    let prefix = root.display().to_string();
    let prefix = prefix.trim_end_matches('/');
    Some(
        parse::mountinfo(&text)
            .into_iter()
            .filter_map(|mut m| {
                if prefix.is_empty() {
                    return Some(m);
                }
                let rest = m.mount_point.strip_prefix(prefix)?;
                if rest.is_empty() {
                    m.mount_point = "/".to_string();
                } else if rest.starts_with('/') {
                    m.mount_point = rest.to_string();
                } else {
                    return None;
                }
                Some(m)
            })
            .collect(),
    )
}
