//! The fuzz target's invariant run deterministically: truncations and byte
//! flips of real daemon.json, cmdline, audit rules, mountinfo and
//! /etc/group text never panic a parser or the run that reads them.
#![allow(clippy::unwrap_used)]

mod support;

use caisson_cis::config::parse_flags;
use caisson_cis::parse;
use support::*;

const DAEMON_JSON: &[u8] = br#"{"icc": false, "hosts": ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"], "tlsverify": true, "log-level": "info", "default-ulimits": {"nofile": {"Name": "nofile", "Hard": 64000, "Soft": 64000}}, "storage-opts": ["dm.basesize=20G"], "insecure-registries": ["r:5000"]}"#;
const CMDLINE: &[u8] = b"/usr/bin/dockerd\0-H\0fd://\0--containerd=/run/containerd/containerd.sock\0--config-file\0/etc/docker/daemon.json\0-l\0debug\0--icc=false\0";
const RULES: &[u8] = b"-w /usr/bin/dockerd -k docker\n-a exit,always -F path=/run/containerd -F perm=war -k docker\n# c\n-W /etc/docker\n";
const MOUNTINFO: &[u8] = b"22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n30 22 8:2 / /var/lib/docker rw - xfs /dev/sdb1 rw\n31 22 0:5 / /a\\040b rw - tmpfs tmpfs rw\n";
const GROUP: &[u8] = b"root:x:0:\ndocker:x:998:alice,bob\n";

fn variants(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for cut in 0..=seed.len() {
        out.push(seed[..cut].to_vec());
    }
    for i in 0..seed.len() {
        for b in [0u8, 0xff, b'"', b'\n'] {
            let mut v = seed.to_vec();
            v[i] = b;
            out.push(v);
        }
    }
    out
}

#[test]
fn hostile_host_text_never_panics() {
    let base = good_host();
    for v in variants(DAEMON_JSON) {
        let mut h = base.clone();
        h.daemon.config = parse::daemon_json(&v);
        run(&h, &[container(hardened_inspect("x"))]);
    }
    for v in variants(CMDLINE) {
        let mut h = base.clone();
        let argv = parse::cmdline(&v);
        parse_flags(&argv);
        h.daemon.cmdline = Some(argv);
        run(&h, &[]);
    }
    for v in variants(RULES) {
        let mut h = base.clone();
        h.audit.rules = parse::audit_rules(&String::from_utf8_lossy(&v));
        run(&h, &[]);
    }
    for v in variants(MOUNTINFO) {
        let mut h = base.clone();
        h.mounts = Some(parse::mountinfo(&String::from_utf8_lossy(&v)));
        run(&h, &[]);
    }
    for v in variants(GROUP) {
        parse::id_file(&String::from_utf8_lossy(&v));
    }
}
