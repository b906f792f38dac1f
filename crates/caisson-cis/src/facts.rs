//! The facts the checks decide on. [`crate::gather`] fills the host part from
//! files under a root directory; the engine client fills `info` and the
//! containers. Tests build them by hand.

use std::collections::BTreeMap;

use bollard::models::{
    ContainerInspectResponse, ContainerTopResponse, ImageHistoryResponseItem, ImageInspect,
    SystemInfo,
};
use serde_json::{Map, Value};

/// Everything about the host and its daemon.
#[derive(Debug, Clone, Default)]
pub struct HostFacts {
    /// The root the host files were read under (`/`, or `/host` for an agent).
    pub root: String,
    /// The URL of the engine the containers came from (for the report).
    pub docker_host: Option<String>,
    /// The engine's `GET /info`; `None` when it could not be fetched.
    pub info: Option<SystemInfo>,
    pub daemon: DaemonFacts,
    /// Owner and mode of every host path a check asked about (host paths,
    /// without the root prefix). A path absent from the map was not looked at.
    pub files: BTreeMap<String, FileState>,
    /// `*.crt` files under /etc/docker/certs.d; `None` when the directory
    /// does not exist.
    pub registry_certs: Option<Vec<(String, FileState)>>,
    pub audit: AuditFacts,
    /// Mounts of the host (from mountinfo), mount points as host paths;
    /// `None` when mountinfo could not be read.
    pub mounts: Option<Vec<crate::parse::Mount>>,
    /// The `docker` group from `<root>/etc/group`.
    pub docker_group: GroupFact,
    /// `DOCKER_CONTENT_TRUST` in the environment of the run.
    pub content_trust: Option<String>,
    /// AppArmor is enabled in the host kernel.
    pub apparmor: bool,
    /// SELinux is enabled in the host kernel.
    pub selinux: bool,
    /// Problems met while gathering (shown as report notes).
    pub notes: Vec<String>,
}

/// The dockerd process: its command line and configuration file.
#[derive(Debug, Clone, Default)]
pub struct DaemonFacts {
    pub pid: Option<u32>,
    /// argv of dockerd (from /proc/<pid>/cmdline); `None` when no dockerd
    /// process was found (remote engine, or /proc not visible).
    pub cmdline: Option<Vec<String>>,
    /// The configuration file: `--config-file`, else /etc/docker/daemon.json.
    pub config_path: String,
    pub config: ConfigFile,
}

/// The state of daemon.json.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ConfigFile {
    /// The file does not exist (dockerd's defaults apply).
    #[default]
    Absent,
    /// A JSON object.
    Parsed(Map<String, Value>),
    /// Present but not a JSON object; the message says why.
    Malformed(String),
    /// Present but unreadable.
    Unreadable(String),
}

/// A file's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    Missing,
    Present(FileStat),
    /// Could not be stat'ed (permission denied, I/O error).
    Unreadable(String),
}

impl FileState {
    pub fn stat(&self) -> Option<&FileStat> {
        match self {
            FileState::Present(s) => Some(s),
            _ => None,
        }
    }
}

/// What kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Socket,
    Symlink,
    Other,
}

/// Owner and permission bits (the symlink's target, as `stat` reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    pub kind: FileKind,
    pub uid: u32,
    pub gid: u32,
    /// `st_mode & 0o7777`.
    pub mode: u32,
    /// User name from `<root>/etc/passwd`, when known.
    pub owner: Option<String>,
    /// Group name from `<root>/etc/group`, when known.
    pub group: Option<String>,
}

impl FileStat {
    /// `root:docker 0660`.
    pub fn describe(&self) -> String {
        let o = self.owner.clone().unwrap_or_else(|| self.uid.to_string());
        let g = self.group.clone().unwrap_or_else(|| self.gid.to_string());
        format!("{o}:{g} {:04o}", self.mode)
    }
}

/// Audit rules and where they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFacts {
    /// `auditctl -l`, or the rules files read (`/etc/audit/rules.d/*.rules`,
    /// `/etc/audit/audit.rules`); `None` when neither was available.
    pub source: Option<String>,
    /// Rule lines, comments removed.
    pub rules: Vec<String>,
}

/// The docker group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum GroupFact {
    /// /etc/group could not be read.
    #[default]
    Unknown,
    /// No `docker` group.
    Absent,
    Present {
        gid: u32,
        members: Vec<String>,
    },
}

/// One running container, as the engine reports it.
#[derive(Debug, Clone, Default)]
pub struct ContainerFacts {
    pub inspect: ContainerInspectResponse,
    /// `GET /containers/{id}/top`; `None` when it failed.
    pub top: Option<ContainerTopResponse>,
    /// The container's image (`GET /images/{id}/json`); `None` when it failed.
    pub image: Option<ImageInspect>,
    /// `GET /images/{id}/history`; `None` when not gathered.
    pub history: Option<Vec<ImageHistoryResponseItem>>,
    /// Set-uid/set-gid files of the image (path, mode); `None` when not
    /// gathered (4.8 is then a manual step).
    pub setuid_files: Option<Vec<(String, u32)>>,
}

impl ContainerFacts {
    /// Full id.
    pub fn id(&self) -> &str {
        self.inspect.id.as_deref().unwrap_or("")
    }

    /// Name without the leading `/`.
    pub fn name(&self) -> &str {
        let n = self.inspect.name.as_deref().unwrap_or("");
        n.strip_prefix('/').unwrap_or(n)
    }
}
