//! The fields conditions read: name, type, the event kinds each exists on,
//! and its documentation (docs/runtime.md repeats this table).

use crate::event::EventKind;

const ALL: &[EventKind] = &[];
const EXEC: &[EventKind] = &[EventKind::Exec];
const EXEC_FILE: &[EventKind] = &[EventKind::Exec, EventKind::File];
const CONN: &[EventKind] = &[EventKind::Connection];
const FILE: &[EventKind] = &[EventKind::File];
const RESOURCE: &[EventKind] = &[EventKind::Resource];

/// A field a condition can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    ProcName,
    ProcExe,
    ProcArgv0,
    ProcArgs,
    ProcCmdline,
    ProcPid,
    ProcUid,
    ProcTty,
    ProcCwd,
    ProcStdin,
    ProcStdout,
    ParentName,
    ParentExe,
    Ancestors,
    Container,
    ContainerId,
    ContainerName,
    ContainerImage,
    ConnProto,
    ConnPhase,
    ConnSrcIp,
    ConnDstIp,
    ConnSrcPort,
    ConnDstPort,
    FilePath,
    FileOp,
    FileUpperLayer,
    FileProfile,
    FileAllowlisted,
    MemoryPct,
    PidsPct,
}

/// A field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Str,
    Int,
    Bool,
    Ip,
    /// A list of strings (`proc.args`, `ancestors`).
    List,
}

/// Every field: name, type, the event kinds it exists on (empty: all), and
/// its documentation (docs/runtime.md repeats this table).
pub const FIELDS: &[(&str, Field, Ty, &[EventKind], &str)] = &[
    (
        "proc.name",
        Field::ProcName,
        Ty::Str,
        EXEC_FILE,
        "process name (comm): basename of the executed file, at most 15 bytes",
    ),
    (
        "proc.exe",
        Field::ProcExe,
        Ty::Str,
        EXEC_FILE,
        "path of the executable (/proc/<pid>/exe; the interpreter for scripts)",
    ),
    (
        "proc.argv0",
        Field::ProcArgv0,
        Ty::Str,
        EXEC,
        "argv[0]",
    ),
    (
        "proc.args",
        Field::ProcArgs,
        Ty::List,
        EXEC,
        "argv[1..]",
    ),
    (
        "proc.cmdline",
        Field::ProcCmdline,
        Ty::Str,
        EXEC,
        "the whole command line, arguments joined by spaces",
    ),
    (
        "proc.pid",
        Field::ProcPid,
        Ty::Int,
        EXEC_FILE,
        "process id in the host pid namespace",
    ),
    (
        "proc.uid",
        Field::ProcUid,
        Ty::Int,
        EXEC,
        "real uid",
    ),
    (
        "proc.tty",
        Field::ProcTty,
        Ty::Int,
        EXEC,
        "controlling terminal (tty_nr); 0 = none",
    ),
    (
        "proc.cwd",
        Field::ProcCwd,
        Ty::Str,
        EXEC,
        "working directory",
    ),
    (
        "proc.stdin",
        Field::ProcStdin,
        Ty::Str,
        EXEC,
        "what fd 0 is: socket, pipe, tty, null, file, other, unknown",
    ),
    (
        "proc.stdout",
        Field::ProcStdout,
        Ty::Str,
        EXEC,
        "what fd 1 is (same values)",
    ),
    (
        "parent.name",
        Field::ParentName,
        Ty::Str,
        EXEC,
        "the parent's name",
    ),
    (
        "parent.exe",
        Field::ParentExe,
        Ty::Str,
        EXEC,
        "the parent's executable",
    ),
    (
        "ancestors",
        Field::Ancestors,
        Ty::List,
        EXEC,
        "names of the ancestors, parent first",
    ),
    (
        "container",
        Field::Container,
        Ty::Bool,
        ALL,
        "true when the event belongs to a container",
    ),
    (
        "container.id",
        Field::ContainerId,
        Ty::Str,
        ALL,
        "full container id",
    ),
    (
        "container.name",
        Field::ContainerName,
        Ty::Str,
        ALL,
        "container name (from the engine)",
    ),
    (
        "container.image",
        Field::ContainerImage,
        Ty::Str,
        ALL,
        "image reference the container was created from (from the engine)",
    ),
    (
        "conn.proto",
        Field::ConnProto,
        Ty::Str,
        CONN,
        "tcp, udp, icmp, icmpv6, sctp, …",
    ),
    (
        "conn.phase",
        Field::ConnPhase,
        Ty::Str,
        CONN,
        "new or destroy",
    ),
    (
        "conn.src_ip",
        Field::ConnSrcIp,
        Ty::Ip,
        CONN,
        "originator address",
    ),
    (
        "conn.dst_ip",
        Field::ConnDstIp,
        Ty::Ip,
        CONN,
        "responder address",
    ),
    (
        "conn.src_port",
        Field::ConnSrcPort,
        Ty::Int,
        CONN,
        "originator port (0 for portless protocols)",
    ),
    (
        "conn.dst_port",
        Field::ConnDstPort,
        Ty::Int,
        CONN,
        "responder port",
    ),
    (
        "file.path",
        Field::FilePath,
        Ty::Str,
        FILE,
        "path of the file inside the container",
    ),
    (
        "file.op",
        Field::FileOp,
        Ty::Str,
        FILE,
        "open, write (modified or closed after writing) or exec (opened to run)",
    ),
    (
        "file.upper_layer",
        Field::FileUpperLayer,
        Ty::Bool,
        FILE,
        "the file is on the container's overlay upper layer: written after the container started, not from the image",
    ),
    (
        "file.profile",
        Field::FileProfile,
        Ty::Bool,
        FILE,
        "the container's image has an executable allowlist (profile) in force",
    ),
    (
        "file.allowlisted",
        Field::FileAllowlisted,
        Ty::Bool,
        FILE,
        "the executed file is in the image's allowlist (path, size, mtime)",
    ),
    (
        "resource.memory_pct",
        Field::MemoryPct,
        Ty::Int,
        RESOURCE,
        "memory in use, percent of the container's memory limit (missing: no limit)",
    ),
    (
        "resource.pids_pct",
        Field::PidsPct,
        Ty::Int,
        RESOURCE,
        "processes, percent of the container's pids limit (missing: no limit)",
    ),
];
