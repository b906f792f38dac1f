//! Section 3: owner and permission bits of the daemon's files. A mode
//! complies when it has no permission bit outside the allowed mask (`0640`
//! passes "644 or more restrictive", `0660` does not): bits are compared,
//! not the octal digits as numbers.

use super::{Ctx, Outcome};
use crate::facts::{FileStat, FileState, GroupFact, HostFacts};
use crate::model::{Object, Status};
use crate::paths;

/// Who must own a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerRule {
    RootRoot,
    RootDocker,
}

/// Whether `mode` has no permission bits beyond `allowed`.
pub fn mode_ok(mode: u32, allowed: u32) -> bool {
    mode & 0o7777 & !allowed == 0
}

/// Whether `s` is owned as `rule` requires.
pub fn owner_ok(s: &FileStat, rule: OwnerRule, host: &HostFacts) -> bool {
    if s.uid != 0 {
        return false;
    }
    match rule {
        OwnerRule::RootRoot => s.gid == 0,
        OwnerRule::RootDocker => {
            s.group.as_deref() == Some("docker")
                || matches!(&host.docker_group, GroupFact::Present { gid, .. } if *gid == s.gid)
        }
    }
}

fn rule_text(rule: OwnerRule) -> &'static str {
    match rule {
        OwnerRule::RootRoot => "root:root",
        OwnerRule::RootDocker => "root:docker",
    }
}

/// The owner and mode outcomes for a set of files (all must comply).
/// `paths` empty: `none` explains why the check does not apply.
fn judge(
    host: &HostFacts,
    keys: (&'static str, &'static str),
    paths: &[String],
    rule: OwnerRule,
    allowed: u32,
    none: &str,
) -> [Outcome; 2] {
    let (owner_key, mode_key) = keys;
    let mut present: Vec<(&str, &FileStat)> = Vec::new();
    let mut problems: Vec<String> = Vec::new();
    let mut not_gathered = Vec::new();
    for p in paths {
        match host.files.get(p) {
            Some(FileState::Present(s)) => present.push((p, s)),
            Some(FileState::Unreadable(e)) => problems.push(format!("{p}: cannot stat: {e}")),
            Some(FileState::Missing) => {}
            None => not_gathered.push(p.as_str()),
        }
    }
    if present.is_empty() && problems.is_empty() {
        let (status, ev) = if !not_gathered.is_empty() {
            (
                Status::Manual,
                format!("{}: not gathered", not_gathered.join(", ")),
            )
        } else if paths.is_empty() {
            (Status::NotApplicable, none.to_string())
        } else {
            (
                Status::NotApplicable,
                format!("{}: not found", paths.join(", ")),
            )
        };
        return [
            Outcome::new(owner_key, status, ev.clone()),
            Outcome::new(mode_key, status, ev),
        ];
    }
    let verdict = |key: &'static str, ok: &dyn Fn(&FileStat) -> bool, want: String| {
        let mut bad: Vec<Object> = problems
            .iter()
            .map(|e| Object::File {
                path: e.split(": ").next().unwrap_or("").to_string(),
                evidence: e.clone(),
            })
            .collect();
        let mut good = Vec::new();
        for (p, s) in &present {
            let obj = Object::File {
                path: (*p).to_string(),
                evidence: s.describe(),
            };
            if ok(s) {
                good.push(obj)
            } else {
                bad.push(obj)
            }
        }
        if bad.is_empty() {
            Outcome::new(key, Status::Pass, super::summarize(&good))
        } else {
            let ev = format!("{} (want {want})", super::summarize(&bad));
            Outcome::new(key, Status::Warn, ev).with_objects(bad)
        }
    };
    [
        verdict(
            owner_key,
            &|s| owner_ok(s, rule, host),
            rule_text(rule).to_string(),
        ),
        verdict(
            mode_key,
            &|s| mode_ok(s.mode, allowed),
            format!("{allowed:04o} or more restrictive"),
        ),
    ]
}

/// The first existing candidate, or every candidate when none exists (so
/// the outcome says what was looked for).
fn located(host: &HostFacts, candidates: Vec<String>) -> Vec<String> {
    match paths::first_existing(host, &candidates) {
        Some(p) => vec![p.to_string()],
        None => candidates,
    }
}

pub fn checks(ctx: &Ctx<'_>) -> Vec<Outcome> {
    use OwnerRule::*;
    let h = ctx.host;
    let mut out = Vec::new();
    let mut push = |o: [Outcome; 2]| out.extend(o);
    push(judge(
        h,
        ("file-docker-service-owner", "file-docker-service-mode"),
        &located(h, paths::unit_candidates("docker.service")),
        RootRoot,
        0o644,
        "",
    ));
    push(judge(
        h,
        ("file-docker-socket-owner", "file-docker-socket-mode"),
        &located(h, paths::unit_candidates("docker.socket")),
        RootRoot,
        0o644,
        "",
    ));
    push(judge(
        h,
        ("file-etc-docker-owner", "file-etc-docker-mode"),
        &[paths::ETC_DOCKER.to_string()],
        RootRoot,
        0o755,
        "",
    ));
    out.extend(registry_certs(h));
    let tls = paths::tls_files(&ctx.cfg);
    let mut push = |o: [Outcome; 2]| out.extend(o);
    for ((name, path), keys, allowed) in tls
        .into_iter()
        .zip([
            (("file-tlscacert-owner", "file-tlscacert-mode"), 0o444),
            (("file-tlscert-owner", "file-tlscert-mode"), 0o444),
            (("file-tlskey-owner", "file-tlskey-mode"), 0o400),
        ])
        .map(|(t, (k, a))| (t, k, a))
    {
        let paths: Vec<String> = path.into_iter().collect();
        push(judge(
            h,
            keys,
            &paths,
            RootRoot,
            allowed,
            &format!("{name} not configured"),
        ));
    }
    push(judge(
        h,
        ("file-docker-sock-owner", "file-docker-sock-mode"),
        &ctx.cfg.unix_sockets(),
        RootDocker,
        0o660,
        "dockerd listens on no unix socket",
    ));
    push(judge(
        h,
        ("file-daemon-json-owner", "file-daemon-json-mode"),
        &[ctx.cfg.config_path().to_string()],
        RootRoot,
        0o644,
        "",
    ));
    push(judge(
        h,
        (
            "file-etc-default-docker-owner",
            "file-etc-default-docker-mode",
        ),
        &[paths::ETC_DEFAULT_DOCKER.to_string()],
        RootRoot,
        0o644,
        "",
    ));
    push(judge(
        h,
        (
            "file-etc-sysconfig-docker-owner",
            "file-etc-sysconfig-docker-mode",
        ),
        &[paths::ETC_SYSCONFIG_DOCKER.to_string()],
        RootRoot,
        0o644,
        "",
    ));
    push(judge(
        h,
        ("file-containerd-sock-owner", "file-containerd-sock-mode"),
        &[paths::containerd_socket(&ctx.cfg)],
        RootRoot,
        0o660,
        "",
    ));
    out
}

/// 3.7/3.8: every `*.crt` under /etc/docker/certs.d.
fn registry_certs(h: &HostFacts) -> [Outcome; 2] {
    let keys = ("file-registry-certs-owner", "file-registry-certs-mode");
    match &h.registry_certs {
        None => [
            Outcome::new(
                keys.0,
                Status::NotApplicable,
                format!("{}: not found", paths::CERTS_D),
            ),
            Outcome::new(
                keys.1,
                Status::NotApplicable,
                format!("{}: not found", paths::CERTS_D),
            ),
        ],
        Some(certs) if certs.is_empty() => [
            Outcome::new(
                keys.0,
                Status::Pass,
                format!("no certificates under {}", paths::CERTS_D),
            ),
            Outcome::new(
                keys.1,
                Status::Pass,
                format!("no certificates under {}", paths::CERTS_D),
            ),
        ],
        Some(certs) => {
            let mut view = h.clone();
            let mut list = Vec::new();
            for (p, s) in certs {
                view.files.insert(p.clone(), s.clone());
                list.push(p.clone());
            }
            judge(&view, keys, &list, OwnerRule::RootRoot, 0o444, "")
        }
    }
}
