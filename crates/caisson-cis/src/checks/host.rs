//! Section 1 (host configuration: partition, docker group, audit rules) and
//! the informational sections 6 and 7.

use std::collections::BTreeSet;

use bollard::models::LocalNodeState;

use super::{Ctx, Outcome};
use crate::facts::{GroupFact, HostFacts};
use crate::model::Status;
use crate::parse::rule_watches;
use crate::paths;

pub fn checks(ctx: &Ctx<'_>) -> Vec<Outcome> {
    let mut out = vec![partition(ctx), docker_group(ctx)];
    out.extend(audit(ctx));
    out.push(Outcome::new(
        "host-hardened",
        Status::Note,
        "host hardening is reviewed against the OS's own benchmark; not automated",
    ));
    out.push(docker_version(ctx));
    out
}

/// 1.1.1: the Docker root (its parent with userns-remap) is a mount point.
fn partition(ctx: &Ctx<'_>) -> Outcome {
    let info = ctx.host.info.as_ref();
    let mut root = paths::docker_root(info);
    let userns = info
        .and_then(|i| i.security_options.as_ref())
        .is_some_and(|o| o.iter().any(|s| s.contains("name=userns")));
    if userns {
        if let Some((parent, _)) = root.rsplit_once('/') {
            root = if parent.is_empty() {
                "/".into()
            } else {
                parent.to_string()
            };
        }
    }
    let key = "host-partition";
    let Some(mounts) = &ctx.host.mounts else {
        return Outcome::new(
            key,
            Status::Warn,
            format!("{root}: mountinfo could not be read"),
        );
    };
    // The last mount at that point is the visible one. dockerd bind-mounts
    // its own root onto itself, so a mount point alone proves nothing: the
    // filesystem must differ from the one the parent directory is on.
    let Some(m) = mounts.iter().rev().find(|m| m.mount_point == root) else {
        return Outcome::new(
            key,
            Status::Warn,
            format!("{root} is not a separate mount point"),
        );
    };
    match mounts.iter().rev().find(|p| p.id == m.parent) {
        Some(p) if p.dev == m.dev => Outcome::new(
            key,
            Status::Warn,
            format!(
                "{root} is a bind mount of {} on the same filesystem as {} (device {})",
                m.root, p.mount_point, m.dev
            ),
        ),
        Some(p) => Outcome::new(
            key,
            Status::Pass,
            format!(
                "{root} is mounted from device {} ({} is on {})",
                m.dev, p.mount_point, p.dev
            ),
        ),
        None => Outcome::new(
            key,
            Status::Pass,
            format!("{root} is mounted from device {}", m.dev),
        ),
    }
}

/// 1.1.2: members of the docker group.
fn docker_group(ctx: &Ctx<'_>) -> Outcome {
    let key = "host-docker-group";
    match &ctx.host.docker_group {
        GroupFact::Unknown => Outcome::new(key, Status::Info, "/etc/group could not be read"),
        GroupFact::Absent => Outcome::new(key, Status::Pass, "no docker group"),
        GroupFact::Present { members, .. } if members.is_empty() => {
            Outcome::new(key, Status::Pass, "docker group has no members")
        }
        GroupFact::Present { members, .. } => {
            let list = members.join(", ");
            match ctx.trusted_users {
                None => Outcome::new(
                    key,
                    Status::Info,
                    format!("docker group members: {list} (review: membership is root-equivalent)"),
                ),
                Some(trusted) => {
                    let doubtful: Vec<&str> = members
                        .iter()
                        .filter(|m| !trusted.contains(m))
                        .map(String::as_str)
                        .collect();
                    if doubtful.is_empty() {
                        Outcome::new(
                            key,
                            Status::Pass,
                            format!("docker group members: {list} (all trusted)"),
                        )
                    } else {
                        Outcome::new(
                            key,
                            Status::Warn,
                            format!("untrusted docker group members: {}", doubtful.join(", ")),
                        )
                    }
                }
            }
        }
    }
}

/// The path each 1.1.x audit check is about; `always` checks are judged
/// even when the path is missing (CIS: "the Docker daemon"), the others are
/// not applicable then.
fn audit_targets(ctx: &Ctx<'_>) -> Vec<(&'static str, Vec<String>, bool)> {
    let argv0 = ctx.cfg.argv0();
    let bin = |n: &str| paths::binary_candidates(n, argv0);
    let one = |p: &str| vec![p.to_string()];
    vec![
        ("audit-dockerd", bin("dockerd"), true),
        ("audit-run-containerd", one(paths::RUN_CONTAINERD), true),
        (
            "audit-var-lib-docker",
            one(&paths::docker_root(ctx.host.info.as_ref())),
            false,
        ),
        ("audit-etc-docker", one(paths::ETC_DOCKER), false),
        (
            "audit-docker-service",
            paths::unit_candidates("docker.service"),
            false,
        ),
        (
            "audit-containerd-sock",
            one(&paths::containerd_socket(&ctx.cfg)),
            false,
        ),
        ("audit-docker-sock", ctx.cfg.unix_sockets(), false),
        (
            "audit-etc-default-docker",
            one(paths::ETC_DEFAULT_DOCKER),
            false,
        ),
        ("audit-daemon-json", one(ctx.cfg.config_path()), false),
        (
            "audit-containerd-config",
            one(paths::CONTAINERD_CONFIG),
            false,
        ),
        (
            "audit-etc-sysconfig-docker",
            one(paths::ETC_SYSCONFIG_DOCKER),
            false,
        ),
        ("audit-containerd-bin", bin("containerd"), false),
        ("audit-containerd-shim", bin("containerd-shim"), false),
        (
            "audit-containerd-shim-runc-v1",
            bin("containerd-shim-runc-v1"),
            false,
        ),
        (
            "audit-containerd-shim-runc-v2",
            bin("containerd-shim-runc-v2"),
            false,
        ),
        ("audit-runc", bin("runc"), false),
    ]
}

/// 1.1.3–1.1.18.
fn audit(ctx: &Ctx<'_>) -> Vec<Outcome> {
    audit_targets(ctx)
        .into_iter()
        .map(|(key, candidates, always)| audit_one(ctx.host, key, &candidates, always))
        .collect()
}

fn audit_one(host: &HostFacts, key: &'static str, candidates: &[String], always: bool) -> Outcome {
    let existing: Vec<&str> = candidates
        .iter()
        .filter(|c| paths::first_existing(host, std::slice::from_ref(c)).is_some())
        .map(String::as_str)
        .collect();
    let targets: Vec<&str> = if !existing.is_empty() {
        existing
    } else if always {
        candidates.first().map(String::as_str).into_iter().collect()
    } else {
        let what = candidates.join(", ");
        return Outcome::new(key, Status::NotApplicable, format!("{what}: not found"));
    };
    let Some(source) = &host.audit.source else {
        return Outcome::new(
            key,
            Status::Warn,
            format!(
                "{}: no audit rules found (auditctl unavailable, no /etc/audit rules)",
                targets.join(", ")
            ),
        );
    };
    let hits: Vec<&String> = host
        .audit
        .rules
        .iter()
        .filter(|r| targets.iter().any(|t| rule_watches(r, t)))
        .collect();
    match hits.first() {
        Some(rule) => Outcome::new(key, Status::Pass, format!("{rule} (from {source})")),
        None => Outcome::new(
            key,
            Status::Warn,
            format!("no audit rule for {} in {source}", targets.join(", ")),
        ),
    }
}

/// 1.2.2: the version is shown; whether it is current is for a person.
fn docker_version(ctx: &Ctx<'_>) -> Outcome {
    let v = ctx
        .host
        .info
        .as_ref()
        .and_then(|i| i.server_version.clone())
        .unwrap_or_else(|| "unknown".into());
    Outcome::new(
        "host-docker-version",
        Status::Info,
        format!("Docker Engine {v}; compare with the supported releases"),
    )
}

/// Sections 6 and 7.
pub fn operations(ctx: &Ctx<'_>) -> Vec<Outcome> {
    let info = ctx.host.info.as_ref();
    let mut out = Vec::new();
    match info {
        Some(i) => {
            let used: BTreeSet<&str> = ctx
                .containers
                .iter()
                .filter_map(|c| c.inspect.image.as_deref())
                .collect();
            out.push(Outcome::new(
                "ops-image-sprawl",
                Status::Info,
                format!(
                    "{} images, {} used by running containers",
                    i.images.unwrap_or(0),
                    used.len()
                ),
            ));
            out.push(Outcome::new(
                "ops-container-sprawl",
                Status::Info,
                format!(
                    "{} containers: {} running, {} paused, {} stopped",
                    i.containers.unwrap_or(0),
                    i.containers_running.unwrap_or(0),
                    i.containers_paused.unwrap_or(0),
                    i.containers_stopped.unwrap_or(0)
                ),
            ));
        }
        None => {
            for k in ["ops-image-sprawl", "ops-container-sprawl"] {
                out.push(Outcome::new(
                    k,
                    Status::Manual,
                    "engine /info not available",
                ));
            }
        }
    }
    let state = info
        .and_then(|i| i.swarm.as_ref())
        .and_then(|s| s.local_node_state);
    let swarm_active = matches!(
        state,
        Some(LocalNodeState::ACTIVE | LocalNodeState::LOCKED | LocalNodeState::PENDING)
    );
    for key in [
        "swarm-managers",
        "swarm-bind-interface",
        "swarm-overlay-encryption",
        "swarm-secrets",
        "swarm-autolock",
        "swarm-autolock-rotation",
        "swarm-node-cert-rotation",
        "swarm-ca-rotation",
        "swarm-plane-separation",
    ] {
        out.push(if swarm_active {
            Outcome::new(
                key,
                Status::Manual,
                "swarm mode is active; review the swarm configuration",
            )
        } else {
            Outcome::new(
                key,
                Status::NotApplicable,
                format!(
                    "swarm mode is {}",
                    state.map_or("unknown".to_string(), |s| s.to_string())
                ),
            )
        });
    }
    out
}
