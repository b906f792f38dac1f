//! The host's untrusted text through every parser and the decisions that
//! read it: the first byte picks how the rest is used as dockerd's cmdline,
//! daemon.json, audit rules, mountinfo or /etc/group. No input may panic.
#![no_main]

use caisson_cis::config::{parse_flags, DaemonConfig};
use caisson_cis::{parse, run, DaemonFacts, GroupFact, HostFacts, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    // Split the rest in two: argv and daemon.json, or text and a path.
    let cut = rest.iter().position(|b| *b == 0xff).unwrap_or(rest.len());
    let (a, b) = rest.split_at(cut);
    let b = b.get(1..).unwrap_or_default();
    let text = String::from_utf8_lossy(a);
    let mut host = HostFacts::default();
    match sel % 5 {
        0 => {
            let argv = parse::cmdline(a);
            let _ = parse_flags(&argv);
            host.daemon = DaemonFacts {
                pid: Some(1),
                cmdline: Some(argv),
                config_path: "/etc/docker/daemon.json".into(),
                config: parse::daemon_json(b),
            };
            let cfg = DaemonConfig::new(&host.daemon);
            let _ = cfg.hosts();
            let _ = cfg.unix_sockets();
        }
        1 => {
            host.daemon.config = parse::daemon_json(a);
        }
        2 => {
            let rules = parse::audit_rules(&text);
            let path = String::from_utf8_lossy(b);
            for r in &rules {
                let _ = parse::rule_watches(r, &path);
            }
            host.audit.rules = rules;
            host.audit.source = Some("fuzz".into());
        }
        3 => {
            host.mounts = Some(parse::mountinfo(&text));
        }
        _ => {
            let groups = parse::id_file(&text);
            if let Some(g) = groups.iter().find(|g| g.name == "docker") {
                host.docker_group = GroupFact::Present {
                    gid: g.id,
                    members: g.members.clone(),
                };
            }
        }
    }
    let _ = run(&host, &[], &[], &Options::default());
});
