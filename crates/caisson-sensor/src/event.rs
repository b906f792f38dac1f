//! What the sources report: process execs and connections, as enriched as the
//! sources could make them. Fields a source could not learn are `None`
//! (docs/runtime.md says which source feeds which field and what it can miss).

use std::net::IpAddr;
use std::time::SystemTime;

/// What a file descriptor points at (from `/proc/<pid>/fd/<n>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FdKind {
    Socket,
    Pipe,
    Tty,
    Null,
    File,
    Other,
    /// Not known: the process was gone, or the descriptor is closed.
    #[default]
    Unknown,
}

impl FdKind {
    /// Classifies a `readlink /proc/<pid>/fd/<n>` target.
    pub fn from_link(target: &str) -> Self {
        if target.starts_with("socket:[") {
            Self::Socket
        } else if target.starts_with("pipe:[") {
            Self::Pipe
        } else if target.starts_with("/dev/pts/")
            || target.starts_with("/dev/tty")
            || target == "/dev/console"
            || target == "/dev/ptmx"
        {
            Self::Tty
        } else if target == "/dev/null" {
            Self::Null
        } else if target.starts_with('/') {
            Self::File
        } else {
            Self::Other
        }
    }

    /// The name the rule language compares (`proc.stdin = "socket"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Socket => "socket",
            Self::Pipe => "pipe",
            Self::Tty => "tty",
            Self::Null => "null",
            Self::File => "file",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }
}

/// One ancestor of an exec'd process, parent first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ancestor {
    pub pid: u32,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
}

/// A process exec (`PROC_EVENT_EXEC`), enriched from `/proc/<pid>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecEvent {
    pub time: Option<SystemTime>,
    /// Process id (tgid) in the host pid namespace.
    pub pid: u32,
    pub ppid: Option<u32>,
    /// `/proc/<pid>/comm` (the kernel's name after exec: the basename of the
    /// executed path, at most 15 bytes); empty when the process was gone.
    pub name: String,
    /// `/proc/<pid>/exe` (the binary; an interpreter for scripts).
    pub exe: Option<String>,
    /// `argv[0]`.
    pub argv0: Option<String>,
    /// `argv[1..]`.
    pub args: Vec<String>,
    /// The whole command line, arguments joined by spaces.
    pub cmdline: String,
    /// Real uid (from `/proc/<pid>/status`).
    pub uid: Option<u32>,
    pub cwd: Option<String>,
    /// Controlling terminal (`tty_nr` from `/proc/<pid>/stat`); 0 = none.
    pub tty: Option<u32>,
    pub stdin: FdKind,
    pub stdout: FdKind,
    /// Container id from `/proc/<pid>/cgroup`, when the process is in one.
    pub container_id: Option<String>,
    /// Parent first, up to the configured depth.
    pub ancestors: Vec<Ancestor>,
    /// False when the process exited before it could be read completely:
    /// the event is still reported with what was learned.
    pub complete: bool,
}

/// New or destroyed connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnPhase {
    New,
    Destroy,
    /// A packet the applied `caisson netpol` ruleset dropped (its NFLOG
    /// group): conntrack never reports these connections.
    Dropped,
    /// A packet the audited ruleset would have dropped (accepted, logged).
    Audited,
}

/// A connection tracked by conntrack, original direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnEvent {
    pub time: Option<SystemTime>,
    pub phase: ConnPhase,
    /// `tcp`, `udp`, `icmp`, … (see `wire::conntrack::proto_name`).
    pub proto: &'static str,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub bytes_orig: Option<u64>,
    pub bytes_reply: Option<u64>,
    /// Source of conntrack's reply tuple: the real destination after DNAT
    /// (`None`: not known, as for logged packets).
    pub reply_src: Option<IpAddr>,
    pub reply_src_port: Option<u16>,
}

impl ConnEvent {
    /// The destination address and port after DNAT.
    pub fn real_dst(&self) -> (IpAddr, u16) {
        match (self.reply_src, self.reply_src_port) {
            (Some(a), Some(p)) => (a, p),
            _ => (self.dst, self.dst_port),
        }
    }
}

/// What a file event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileOp {
    /// Opened (`FAN_OPEN`, `FAN_OPEN_PERM`); the open mode is not reported.
    Open,
    /// Written (`FAN_MODIFY`) or closed after being opened for writing
    /// (`FAN_CLOSE_WRITE`).
    Write,
    /// Opened for execution (`FAN_OPEN_EXEC`, `FAN_OPEN_EXEC_PERM`): the
    /// program of an `execve` and its ELF interpreter.
    Exec,
}

impl FileOp {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Write => "write",
            Self::Exec => "exec",
        }
    }
}

/// A file event from fanotify on a container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileEvent {
    pub time: Option<SystemTime>,
    pub op: Option<FileOp>,
    /// The path inside the container (the event fd's `/proc/self/fd` link).
    pub path: String,
    /// The process that opened the file (host pid namespace).
    pub pid: u32,
    /// `/proc/<pid>/comm`; empty when the process was gone.
    pub name: String,
    /// `/proc/<pid>/exe`.
    pub exe: Option<String>,
    pub container_id: Option<String>,
    /// The file lives on the container's overlay upper layer: it was written
    /// (created, or copied up by a modification) after the container
    /// started. `None` when the upper layer is not known.
    pub upper_layer: Option<bool>,
    /// The executable is in the image's allowlist (exec events of a
    /// container whose image has a profile; `None` otherwise).
    pub allowlisted: Option<bool>,
    /// Protect mode denied the exec (the process got `EPERM`).
    pub denied: bool,
}

/// Resource use of one container, sampled from its cgroups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceEvent {
    pub time: Option<SystemTime>,
    pub container_id: String,
    /// Memory in use as a percentage of the limit (`None`: no limit).
    pub memory_pct: Option<u32>,
    /// Processes as a percentage of the pids limit (`None`: no limit).
    pub pids_pct: Option<u32>,
    pub memory_bytes: Option<u64>,
    pub memory_limit: Option<u64>,
    pub pids: Option<u64>,
    pub pids_limit: Option<u64>,
}

/// Anything a source sends to the rule engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Exec(Box<ExecEvent>),
    Conn(ConnEvent),
    File(Box<FileEvent>),
    Resource(Box<ResourceEvent>),
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Exec(_) => EventKind::Exec,
            Self::Conn(_) => EventKind::Connection,
            Self::File(_) => EventKind::File,
            Self::Resource(_) => EventKind::Resource,
        }
    }

    /// The container id the source attributed the event to (connections
    /// are attributed by the engine from addresses).
    pub fn container_id(&self) -> Option<&str> {
        match self {
            Self::Exec(x) => x.container_id.as_deref(),
            Self::Conn(_) => None,
            Self::File(f) => f.container_id.as_deref(),
            Self::Resource(r) => Some(&r.container_id),
        }
    }

    pub fn time(&self) -> Option<SystemTime> {
        match self {
            Self::Exec(x) => x.time,
            Self::Conn(c) => c.time,
            Self::File(f) => f.time,
            Self::Resource(r) => r.time,
        }
    }
}

/// Which events a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Exec,
    Connection,
    File,
    Resource,
}
