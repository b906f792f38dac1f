//! Sections 1 and 3 on fixture host roots: files at known owners and modes,
//! daemon.json variants, audit rules, mountinfo, /etc/group; all read by
//! the real gathering code under `--root`.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;

use caisson_cis::{gather_host, GatherOptions, Status};
use serde_json::json;
use support::*;

fn write(root: &Path, p: &str, body: &str, mode: u32) {
    let f = root.join(p.trim_start_matches('/'));
    std::fs::create_dir_all(f.parent().unwrap()).unwrap();
    std::fs::write(&f, body).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(root: &Path, p: &str, mode: u32) {
    std::fs::set_permissions(
        root.join(p.trim_start_matches('/')),
        std::fs::Permissions::from_mode(mode),
    )
    .unwrap();
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// A host root: dockerd's cmdline under proc/, unit files, /etc/docker, a
/// socket stand-in, audit rules, group file, mountinfo.
fn fixture(root: &Path, daemon_json: &str) {
    write(
        root,
        "/proc/4242/cmdline",
        "/usr/bin/dockerd\0-H\0fd://\0--config-file\0/etc/docker/custom.json\0",
        0o444,
    );
    write(root, "/proc/77/cmdline", "/usr/bin/containerd\0", 0o444);
    write(root, "/proc/self/mountinfo", &format!(
        "22 1 8:1 / {r} rw - ext4 /dev/sda1 rw\n30 22 8:2 / {r}/var/lib/docker rw - xfs /dev/sdb1 rw\n40 1 0:5 / /elsewhere rw - tmpfs t rw\n",
        r = root.display()
    ), 0o444);
    write(
        root,
        "/etc/group",
        "root:x:0:\ndocker:x:998:alice,bob\n",
        0o644,
    );
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        0o644,
    );
    write(
        root,
        "/lib/systemd/system/docker.service",
        "[Service]\n",
        0o644,
    );
    write(
        root,
        "/lib/systemd/system/docker.socket",
        "[Socket]\n",
        0o664,
    );
    write(root, "/etc/docker/custom.json", daemon_json, 0o640);
    mode(root, "/etc/docker", 0o755);
    write(
        root,
        "/etc/docker/certs.d/reg.example:5000/ca.crt",
        "x",
        0o444,
    );
    write(
        root,
        "/etc/docker/certs.d/reg.example:5000/client.crt",
        "x",
        0o644,
    );
    write(root, "/etc/docker/server-key.pem", "k", 0o440);
    write(root, "/etc/docker/server.pem", "c", 0o444);
    write(root, "/var/run/docker.sock", "", 0o660);
    write(root, "/usr/bin/dockerd", "", 0o755);
    write(root, "/usr/bin/runc", "", 0o755);
    write(root, "/etc/audit/rules.d/docker.rules", "## docker\n-w /usr/bin/dockerd -k docker\n-w /etc/docker -k docker\n-a exit,never -F dir=/usr/bin/runc\n", 0o640);
    write(
        root,
        "/etc/audit/audit.rules",
        "-w /lib/systemd/system/docker.service -k docker\n",
        0o640,
    );
}

fn gather(root: &Path, info_patch: serde_json::Value) -> caisson_cis::HostFacts {
    let opts = GatherOptions {
        root: root.to_path_buf(),
        run_auditctl: false,
        ..Default::default()
    };
    gather_host(&opts, Some(info(info_patch)))
}

#[test]
fn fixture_root_files_audit_partition_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fixture(
        root,
        r#"{"icc": false, "tlscacert": "/etc/docker/ca.pem", "tlscert": "/etc/docker/server.pem", "tlskey": "/etc/docker/server-key.pem"}"#,
    );
    let h = gather(
        root,
        json!({"SecurityOptions": ["name=seccomp,profile=builtin"]}),
    );
    assert_eq!(h.daemon.pid, Some(4242));
    assert_eq!(
        h.daemon.config_path, "/etc/docker/custom.json",
        "--config-file is followed"
    );
    let r = run(&h, &[]);
    let status = |id: &str| result(&r, id).status;
    // 1.1.1: /var/lib/docker is a mount point under the root.
    assert_eq!(
        status("1.1.1"),
        Status::Pass,
        "{}",
        result(&r, "1.1.1").evidence
    );
    // 1.1.2: members listed for review.
    assert_eq!(status("1.1.2"), Status::Info);
    assert!(result(&r, "1.1.2").evidence.contains("alice, bob"));
    // Audit rules from rules.d + audit.rules.
    assert_eq!(status("1.1.3"), Status::Pass);
    assert!(result(&r, "1.1.3")
        .evidence
        .contains("-w /usr/bin/dockerd -k docker"));
    assert_eq!(
        status("1.1.4"),
        Status::Warn,
        "/run/containerd is always judged"
    );
    assert_eq!(status("1.1.6"), Status::Pass);
    assert_eq!(
        status("1.1.7"),
        Status::Pass,
        "{}",
        result(&r, "1.1.7").evidence
    );
    assert_eq!(status("1.1.9"), Status::Warn, "docker.sock exists, no rule");
    assert_eq!(
        status("1.1.11"),
        Status::Warn,
        "custom.json exists, no rule"
    );
    assert_eq!(
        status("1.1.10"),
        Status::NotApplicable,
        "/etc/default/docker absent"
    );
    assert_eq!(
        status("1.1.18"),
        Status::Warn,
        "a never rule does not audit runc"
    );
    // Section 3: modes compared as bits.
    assert_eq!(status("3.2"), Status::Pass, "0644");
    assert_eq!(status("3.4"), Status::Warn, "0664 has group write");
    assert!(
        result(&r, "3.4").evidence.contains("0664"),
        "{}",
        result(&r, "3.4").evidence
    );
    assert_eq!(status("3.6"), Status::Pass);
    assert_eq!(status("3.8"), Status::Warn, "client.crt is 0644");
    assert_eq!(result(&r, "3.8").objects.len(), 1);
    assert_eq!(
        status("3.9"),
        Status::NotApplicable,
        "ca.pem configured but absent: {}",
        result(&r, "3.9").evidence
    );
    assert_eq!(status("3.12"), Status::Pass);
    assert_eq!(
        status("3.14"),
        Status::Warn,
        "0440 has a group read bit beyond 0400"
    );
    assert_eq!(status("3.16"), Status::Pass);
    assert_eq!(
        status("3.18"),
        Status::Pass,
        "0640 is more restrictive than 0644"
    );
    assert_eq!(status("3.19"), Status::NotApplicable);
    assert_eq!(
        status("3.24"),
        Status::NotApplicable,
        "no containerd socket in the fixture"
    );
    if is_root() {
        // Files written as root are root:root; docker.sock needs group docker.
        assert_eq!(status("3.1"), Status::Pass);
        assert_eq!(
            status("3.15"),
            Status::Warn,
            "{}",
            result(&r, "3.15").evidence
        );
        assert!(result(&r, "3.15").evidence.contains("root:root"));
    }
}

#[test]
fn ownership_by_uid_and_group_name() {
    if !is_root() {
        caisson_testsupport::skip("chown needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fixture(root, "{}");
    chown(root.join("var/run/docker.sock"), Some(0), Some(998)).unwrap();
    chown(
        root.join("lib/systemd/system/docker.service"),
        Some(1000),
        Some(0),
    )
    .unwrap();
    chown(root.join("etc/docker/server.pem"), Some(0), Some(998)).unwrap();
    let h = gather(root, json!({}));
    let r = run(&h, &[]);
    let c = result(&r, "3.15");
    assert_eq!(c.status, Status::Pass, "{}", c.evidence);
    assert!(c.evidence.contains("root:docker 0660"), "{}", c.evidence);
    let c = result(&r, "3.1");
    assert_eq!(c.status, Status::Warn);
    assert!(c.evidence.contains("alice:root"), "{}", c.evidence);
}

#[test]
fn malformed_daemon_json_in_a_fixture_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fixture(root, "{\"icc\": false\n\"log-level\": \"debug\"}");
    let h = gather(root, json!({}));
    assert!(
        h.notes
            .iter()
            .any(|n| n.contains("custom.json is malformed")),
        "{:?}",
        h.notes
    );
    let r = run(&h, &[]);
    let c = result(&r, "2.2");
    assert_eq!(c.status, Status::Warn);
    assert!(
        c.evidence.contains("/etc/docker/custom.json is not valid")
            && c.evidence.contains("line 2"),
        "{}",
        c.evidence
    );
    assert_eq!(
        result(&r, "3.18").status,
        Status::Pass,
        "the file's mode is still checked"
    );
    assert_eq!(result(&r, "1.1.3").status, Status::Pass);
}

#[test]
fn missing_everything_is_not_applicable_or_warn_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let h = gather(dir.path(), json!({}));
    let r = run(&h, &[]);
    let status = |id: &str| result(&r, id).status;
    for id in [
        "3.1", "3.3", "3.5", "3.7", "3.9", "3.15", "3.17", "3.19", "3.23", "1.1.6", "1.1.7",
    ] {
        assert_eq!(
            status(id),
            Status::NotApplicable,
            "{id}: {}",
            result(&r, id).evidence
        );
    }
    // Always judged: the daemon binary and /run/containerd, without rules.
    assert_eq!(status("1.1.3"), Status::Warn);
    assert!(result(&r, "1.1.3")
        .evidence
        .contains("no audit rules found"));
    assert_eq!(status("1.1.2"), Status::Info, "/etc/group unreadable");
    assert!(
        h.notes
            .iter()
            .any(|n| n.contains("no dockerd process") || n.contains("command line not read")),
        "{:?}",
        h.notes
    );
    // mountinfo fell back to this process's: the fixture root is no mount point.
    assert_eq!(status("1.1.1"), Status::Warn);
}

/// dockerd bind-mounts its data root onto itself: a mount point on the same
/// device as its parent is not a separate partition.
#[test]
fn self_bind_mount_of_the_docker_root_is_not_a_partition() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "/proc/self/mountinfo", &format!(
        "27 1 254:0 / {r} rw - ext4 /dev/vda rw\n45 27 254:0 /var/lib/docker {r}/var/lib/docker rw shared:1 - ext4 /dev/vda rw\n",
        r = root.display()
    ), 0o444);
    let h = gather(root, json!({"SecurityOptions": []}));
    let c = run(&h, &[]);
    let c = result(&c, "1.1.1");
    assert_eq!(c.status, Status::Warn);
    assert!(
        c.evidence
            .contains("bind mount of /var/lib/docker on the same filesystem"),
        "{}",
        c.evidence
    );
}

#[test]
fn several_dockerds_pick_the_one_at_the_docker_host() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "/proc/10/cmdline",
        "dockerd\0-H\0unix:///run/test.sock\0--icc=false\0",
        0o444,
    );
    write(
        root,
        "/proc/20/cmdline",
        "/usr/sbin/dockerd\0-H\0fd://\0",
        0o444,
    );
    let opts = GatherOptions {
        root: root.to_path_buf(),
        run_auditctl: false,
        docker_host: Some("unix:///run/test.sock".into()),
        ..Default::default()
    };
    let h = gather_host(&opts, None);
    assert_eq!(h.daemon.pid, Some(10));
    let h = gather_host(
        &GatherOptions {
            docker_host: None,
            ..opts
        },
        None,
    );
    assert_eq!(h.daemon.pid, Some(20), "newest otherwise");
}

#[test]
fn mode_bits_not_numbers() {
    use caisson_cis::checks::files::mode_ok;
    #[rustfmt::skip]
    let cases = [
        (0o644, 0o644, true), (0o640, 0o644, true), (0o600, 0o644, true), (0o444, 0o644, true),
        (0o660, 0o644, false), (0o700, 0o644, false), (0o4644, 0o644, false), (0o655, 0o644, false),
        (0o400, 0o400, true), (0o000, 0o400, true), (0o440, 0o400, false), (0o600, 0o400, false),
        (0o750, 0o755, true), (0o775, 0o755, false), (0o660, 0o660, true), (0o606, 0o660, false),
        // Numerically below the limit, yet with an execute bit it does not allow.
        (0o555, 0o644, false), (0o411, 0o444, false),
    ];
    for (m, allowed, ok) in cases {
        assert_eq!(mode_ok(m, allowed), ok, "{m:04o} vs {allowed:04o}");
    }
}
