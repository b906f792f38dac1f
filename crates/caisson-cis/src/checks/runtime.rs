//! Section 5: every running container's inspect document (and its `top`
//! process list for sshd; nothing is ever executed in a container).

use bollard::models::{
    ContainerInspectResponse, HealthStatusEnum, HostConfig, LocalNodeState, RestartPolicyNameEnum,
};

use super::{per_container, Ctx, Outcome, Verdict};
use crate::facts::ContainerFacts;
use crate::model::Status;

/// Docker's default capability set (added capabilities inside it are not
/// reported by 5.4).
pub const DEFAULT_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Host directories 5.6 treats as sensitive (and paths below them, except
/// below `/` and `/dev`, which match only exactly).
pub const SENSITIVE_DIRS: &[&str] = &[
    "/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr",
];

pub fn checks(ctx: &Ctx<'_>) -> Vec<Outcome> {
    let cs = ctx.containers;
    let w = Status::Warn;
    vec![
        swarm(ctx),
        apparmor(ctx),
        selinux(ctx),
        per_container("runtime-capabilities", cs, w, capabilities),
        per_container("runtime-privileged", cs, w, |c| {
            let p = hc(c).and_then(|h| h.privileged).unwrap_or(false);
            if p { Err("Privileged=true".into()) } else { Ok("Privileged=false".into()) }
        }),
        per_container("runtime-sensitive-mounts", cs, w, sensitive_mounts),
        per_container("runtime-sshd", cs, w, sshd),
        per_container("runtime-privileged-ports", cs, w, privileged_ports),
        per_container("runtime-open-ports", cs, Status::Info, open_ports),
        per_container("runtime-host-network", cs, w, |c| {
            mode("NetworkMode", hc(c).and_then(|h| h.network_mode.as_deref()), |m| m == "host")
        }),
        per_container("runtime-memory", cs, w, |c| {
            limit("Memory", hc(c).and_then(|h| h.memory))
        }),
        per_container("runtime-cpu", cs, w, cpu),
        per_container("runtime-readonly-rootfs", cs, w, |c| {
            let ro = hc(c).and_then(|h| h.readonly_rootfs).unwrap_or(false);
            if ro { Ok("ReadonlyRootfs=true".into()) } else { Err("ReadonlyRootfs=false".into()) }
        }),
        per_container("runtime-bind-interface", cs, w, bind_interface),
        per_container("runtime-restart-policy", cs, w, restart_policy),
        per_container("runtime-host-pid", cs, w, |c| {
            mode("PidMode", hc(c).and_then(|h| h.pid_mode.as_deref()), |m| m == "host")
        }),
        per_container("runtime-host-ipc", cs, w, |c| {
            mode("IpcMode", hc(c).and_then(|h| h.ipc_mode.as_deref()), |m| m == "host")
        }),
        per_container("runtime-devices", cs, Status::Info, devices),
        per_container("runtime-ulimits", cs, Status::Info, ulimits),
        per_container("runtime-mount-propagation", cs, w, propagation),
        per_container("runtime-host-uts", cs, w, |c| {
            mode("UTSMode", hc(c).and_then(|h| h.uts_mode.as_deref()), |m| m == "host")
        }),
        per_container("runtime-seccomp", cs, w, seccomp),
        Outcome::new("runtime-exec-privileged", Status::Note, "`docker exec --privileged` leaves no trace in inspect; review the daemon's audit log"),
        Outcome::new("runtime-exec-root", Status::Note, "`docker exec --user root` leaves no trace in inspect; review the daemon's audit log"),
        per_container("runtime-cgroup-parent", cs, w, |c| {
            match hc(c).and_then(|h| h.cgroup_parent.as_deref()).filter(|p| !p.is_empty()) {
                Some(p) => Err(format!("CgroupParent={p}")),
                None => Ok("CgroupParent= (default)".into()),
            }
        }),
        no_new_privileges(ctx),
        per_container("runtime-health", cs, w, health),
        Outcome::new("runtime-latest-image", Status::Info, "whether each container runs the intended image version is for a person to confirm (compare image ids with `caisson host inventory`)"),
        per_container("runtime-pids-limit", cs, w, |c| {
            limit("PidsLimit", hc(c).and_then(|h| h.pids_limit))
        }),
        per_container("runtime-default-bridge", cs, Status::Info, default_bridge),
        per_container("runtime-host-userns", cs, w, |c| {
            mode("UsernsMode", hc(c).and_then(|h| h.userns_mode.as_deref()), |m| m.eq_ignore_ascii_case("host"))
        }),
        per_container("runtime-docker-sock", cs, w, |c| docker_sock(c, &ctx.cfg.unix_sockets())),
    ]
}

fn hc(c: &ContainerFacts) -> Option<&HostConfig> {
    c.inspect.host_config.as_ref()
}

fn security_opts(c: &ContainerFacts) -> &[String] {
    hc(c)
        .and_then(|h| h.security_opt.as_deref())
        .unwrap_or_default()
}

/// A namespace mode: `bad(mode)` fails.
fn mode(field: &str, value: Option<&str>, bad: impl Fn(&str) -> bool) -> Verdict {
    let v = value.unwrap_or("");
    let ev = format!("{field}={v}");
    if bad(v) {
        Err(ev)
    } else {
        Ok(ev)
    }
}

/// A resource limit: unset, 0 or -1 (unlimited) fails.
fn limit(field: &str, v: Option<i64>) -> Verdict {
    match v {
        Some(n) if n > 0 => Ok(format!("{field}={n}")),
        Some(n) => Err(format!("{field}={n} (unlimited)")),
        None => Err(format!("{field} not set (unlimited)")),
    }
}

/// 5.1: `/info` Swarm.LocalNodeState.
fn swarm(ctx: &Ctx<'_>) -> Outcome {
    let state = ctx
        .host
        .info
        .as_ref()
        .and_then(|i| i.swarm.as_ref())
        .and_then(|s| s.local_node_state);
    match state {
        Some(LocalNodeState::INACTIVE) => {
            Outcome::new("runtime-swarm", Status::Pass, "swarm mode is inactive")
        }
        Some(s) => Outcome::new("runtime-swarm", Status::Warn, format!("swarm mode is {s}")),
        None => Outcome::new(
            "runtime-swarm",
            Status::Warn,
            "swarm state not reported by the engine",
        ),
    }
}

fn daemon_has(ctx: &Ctx<'_>, name: &str) -> bool {
    let needle = format!("name={name}");
    ctx.host
        .info
        .as_ref()
        .and_then(|i| i.security_options.as_ref())
        .is_some_and(|o| o.iter().any(|s| s.split(',').any(|p| p == needle)))
}

/// 5.2: only where the host (or the daemon) has AppArmor.
fn apparmor(ctx: &Ctx<'_>) -> Outcome {
    if !ctx.host.apparmor && !daemon_has(ctx, "apparmor") {
        return Outcome::new(
            "runtime-apparmor",
            Status::NotApplicable,
            "AppArmor is not enabled on this host",
        );
    }
    per_container("runtime-apparmor", ctx.containers, Status::Warn, |c| {
        let p = c.inspect.app_armor_profile.as_deref().unwrap_or("");
        let opt_unconfined = security_opts(c)
            .iter()
            .any(|o| o == "apparmor=unconfined" || o == "apparmor:unconfined");
        if p.is_empty() || p == "unconfined" || opt_unconfined {
            Err(format!(
                "AppArmorProfile={}",
                if p.is_empty() { "(none)" } else { p }
            ))
        } else {
            Ok(format!("AppArmorProfile={p}"))
        }
    })
}

/// 5.3: only where the host (or the daemon) has SELinux. A container needs
/// a process label and must not have `label=disable`.
fn selinux(ctx: &Ctx<'_>) -> Outcome {
    if !ctx.host.selinux && !daemon_has(ctx, "selinux") {
        return Outcome::new(
            "runtime-selinux",
            Status::NotApplicable,
            "SELinux is not enabled on this host",
        );
    }
    per_container("runtime-selinux", ctx.containers, Status::Warn, |c| {
        let disabled = security_opts(c)
            .iter()
            .any(|o| o == "label=disable" || o == "label:disable");
        let label = c.inspect.process_label.as_deref().unwrap_or("");
        if disabled {
            Err("SecurityOpt has label=disable".into())
        } else if label.is_empty() {
            Err("no SELinux process label".into())
        } else {
            Ok(format!("ProcessLabel={label}"))
        }
    })
}

fn cap_name(c: &str) -> String {
    let u = c.trim().to_ascii_uppercase();
    u.strip_prefix("CAP_").map(str::to_string).unwrap_or(u)
}

/// 5.4: capabilities added beyond Docker's default set.
fn capabilities(c: &ContainerFacts) -> Verdict {
    let add: Vec<String> = hc(c).and_then(|h| h.cap_add.clone()).unwrap_or_default();
    let drop: Vec<String> = hc(c).and_then(|h| h.cap_drop.clone()).unwrap_or_default();
    let extra: Vec<String> = add
        .iter()
        .map(|a| cap_name(a))
        .filter(|a| !DEFAULT_CAPS.contains(&a.as_str()))
        .collect();
    let ev = format!("CapAdd=[{}] CapDrop=[{}]", add.join(", "), drop.join(", "));
    if extra.is_empty() {
        Ok(ev)
    } else {
        Err(format!(
            "added beyond the default set: {} ({ev})",
            extra.join(", ")
        ))
    }
}

/// 5.6: read-write bind mounts of sensitive host directories.
fn sensitive_mounts(c: &ContainerFacts) -> Verdict {
    let mut rw = Vec::new();
    let mut ro = Vec::new();
    for m in c.inspect.mounts.iter().flatten() {
        if m.typ.as_deref().is_some_and(|t| t != "bind") {
            continue;
        }
        let src = m.source.as_deref().unwrap_or("");
        let hit = SENSITIVE_DIRS.iter().any(|d| {
            src == *d
                || (*d != "/"
                    && *d != "/dev"
                    && src.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
        });
        if hit {
            let dst = m.destination.as_deref().unwrap_or("");
            if m.rw.unwrap_or(true) {
                rw.push(format!("{src}:{dst} (rw)"));
            } else {
                ro.push(format!("{src}:{dst} (ro)"));
            }
        }
    }
    if !rw.is_empty() {
        rw.extend(ro);
        Err(rw.join(", "))
    } else if !ro.is_empty() {
        Ok(format!("only read-only: {}", ro.join(", ")))
    } else {
        Ok("no sensitive host directory mounted".into())
    }
}

/// 5.7: a process named sshd in the container's `top` list.
fn sshd(c: &ContainerFacts) -> Verdict {
    let Some(top) = &c.top else {
        return Err("process list unavailable (GET /containers/{id}/top failed)".into());
    };
    let titles = top.titles.as_deref().unwrap_or_default();
    let col = titles
        .iter()
        .position(|t| t == "CMD" || t == "COMMAND")
        .unwrap_or(titles.len().saturating_sub(1));
    let procs = top.processes.as_deref().unwrap_or_default();
    let hits: Vec<&str> = procs
        .iter()
        .filter_map(|p| p.get(col).map(String::as_str))
        .filter(|cmd| is_sshd(cmd))
        .collect();
    if hits.is_empty() {
        Ok(format!("{} processes, no sshd", procs.len()))
    } else {
        Err(format!("sshd running: {}", hits.join(" | ")))
    }
}

/// `/usr/sbin/sshd -D`, `sshd: user@pts/0`, `sshd`.
pub fn is_sshd(cmd: &str) -> bool {
    let first = cmd.split_whitespace().next().unwrap_or("");
    let base = first.rsplit('/').next().unwrap_or(first);
    base == "sshd" || base == "sshd:"
}

/// Published ports: `(container port, host ip, host port)`.
fn published(c: &ContainerFacts) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let ports = c
        .inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref());
    for (cport, binds) in ports.into_iter().flatten() {
        for b in binds.iter().flatten() {
            out.push((
                cport.clone(),
                b.host_ip.clone().unwrap_or_default(),
                b.host_port.clone().unwrap_or_default(),
            ));
        }
    }
    out.sort();
    out
}

fn port_text(p: &[(String, String, String)]) -> String {
    p.iter()
        .map(|(c, ip, hp)| {
            let ip = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                ip.clone()
            };
            format!("{ip}:{hp}->{c}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// 5.8: host ports below 1024.
fn privileged_ports(c: &ContainerFacts) -> Verdict {
    let p = published(c);
    let bad: Vec<_> = p
        .iter()
        .filter(|(_, _, hp)| hp.parse::<u16>().is_ok_and(|n| n > 0 && n < 1024))
        .cloned()
        .collect();
    if bad.is_empty() {
        Ok(if p.is_empty() {
            "no published ports".into()
        } else {
            port_text(&p)
        })
    } else {
        Err(format!("privileged host ports: {}", port_text(&bad)))
    }
}

/// 5.9: the published ports, for review (info, not scored).
fn open_ports(c: &ContainerFacts) -> Verdict {
    let p = published(c);
    if p.is_empty() {
        Ok("no published ports".into())
    } else {
        Err(port_text(&p))
    }
}

/// 5.12: CPU shares (other than the default 1024), NanoCpus or a CFS quota.
fn cpu(c: &ContainerFacts) -> Verdict {
    let h = hc(c);
    let shares = h.and_then(|h| h.cpu_shares).unwrap_or(0);
    let nano = h.and_then(|h| h.nano_cpus).unwrap_or(0);
    let quota = h.and_then(|h| h.cpu_quota).unwrap_or(0);
    let ev = format!("CpuShares={shares} NanoCpus={nano} CpuQuota={quota}");
    if (shares > 0 && shares != 1024) || nano > 0 || quota > 0 {
        Ok(ev)
    } else {
        Err(ev)
    }
}

/// 5.14: published ports bound to every interface.
fn bind_interface(c: &ContainerFacts) -> Verdict {
    let p = published(c);
    let bad: Vec<_> = p
        .iter()
        .filter(|(_, ip, _)| ip.is_empty() || ip == "0.0.0.0" || ip == "::")
        .cloned()
        .collect();
    if bad.is_empty() {
        Ok(if p.is_empty() {
            "no published ports".into()
        } else {
            port_text(&p)
        })
    } else {
        Err(format!("bound to all interfaces: {}", port_text(&bad)))
    }
}

/// 5.15: `always` and `unless-stopped` restart forever; `on-failure` must
/// retry at most 5 times.
fn restart_policy(c: &ContainerFacts) -> Verdict {
    let rp = hc(c).and_then(|h| h.restart_policy.as_ref());
    let name = rp
        .and_then(|r| r.name)
        .unwrap_or(RestartPolicyNameEnum::EMPTY);
    let max = rp.and_then(|r| r.maximum_retry_count).unwrap_or(0);
    let ev = format!("RestartPolicy={name} MaximumRetryCount={max}");
    match name {
        RestartPolicyNameEnum::ALWAYS | RestartPolicyNameEnum::UNLESS_STOPPED => Err(ev),
        RestartPolicyNameEnum::ON_FAILURE if max > 5 || max == 0 => Err(ev),
        _ => Ok(ev),
    }
}

/// 5.18: host devices mapped in (info, not scored).
fn devices(c: &ContainerFacts) -> Verdict {
    let d: Vec<String> = hc(c)
        .and_then(|h| h.devices.as_ref())
        .into_iter()
        .flatten()
        .map(|d| {
            format!(
                "{}:{}:{}",
                d.path_on_host.as_deref().unwrap_or(""),
                d.path_in_container.as_deref().unwrap_or(""),
                d.cgroup_permissions.as_deref().unwrap_or("")
            )
        })
        .collect();
    if d.is_empty() {
        Ok("no host devices".into())
    } else {
        Err(format!("Devices: {}", d.join(", ")))
    }
}

/// 5.19: containers that override the daemon's default ulimits (info: CIS
/// asks that overrides exist only where needed).
fn ulimits(c: &ContainerFacts) -> Verdict {
    let u: Vec<String> = hc(c)
        .and_then(|h| h.ulimits.as_ref())
        .into_iter()
        .flatten()
        .map(|u| {
            format!(
                "{}={}:{}",
                u.name.as_deref().unwrap_or(""),
                u.soft.unwrap_or(0),
                u.hard.unwrap_or(0)
            )
        })
        .collect();
    if u.is_empty() {
        Ok("default ulimits".into())
    } else {
        Err(format!("Ulimits override: {}", u.join(", ")))
    }
}

/// 5.20: `shared`/`rshared` mount propagation.
fn propagation(c: &ContainerFacts) -> Verdict {
    let bad: Vec<String> = c
        .inspect
        .mounts
        .iter()
        .flatten()
        .filter(|m| matches!(m.propagation.as_deref(), Some("shared" | "rshared")))
        .map(|m| {
            format!(
                "{} ({})",
                m.destination.as_deref().unwrap_or(""),
                m.propagation.as_deref().unwrap_or("")
            )
        })
        .collect();
    if bad.is_empty() {
        Ok("no shared propagation".into())
    } else {
        Err(format!("shared propagation: {}", bad.join(", ")))
    }
}

/// 5.22: seccomp disabled (`seccomp=unconfined`, or `--privileged`, which
/// runs without seccomp).
fn seccomp(c: &ContainerFacts) -> Verdict {
    let opts = security_opts(c);
    if opts
        .iter()
        .any(|o| o == "seccomp=unconfined" || o == "seccomp:unconfined")
    {
        return Err("SecurityOpt has seccomp=unconfined".into());
    }
    if hc(c).and_then(|h| h.privileged).unwrap_or(false) {
        return Err("Privileged=true (runs without seccomp)".into());
    }
    match opts.iter().find(|o| o.starts_with("seccomp")) {
        Some(o) => Ok(format!("SecurityOpt {o}")),
        None => Ok("default seccomp profile".into()),
    }
}

/// 5.26: `no-new-privileges` on the container, or daemon-wide.
fn no_new_privileges(ctx: &Ctx<'_>) -> Outcome {
    let key = "runtime-no-new-privileges";
    if let Ok(true) = super::daemon::daemon_no_new_privileges(ctx) {
        if !ctx.containers.is_empty() {
            return Outcome::new(
                key,
                Status::Pass,
                "the daemon sets no-new-privileges for every container",
            );
        }
    }
    per_container(key, ctx.containers, Status::Warn, |c| {
        let set = security_opts(c)
            .iter()
            .find(|o| o.starts_with("no-new-privileges"));
        match set.map(String::as_str) {
            Some("no-new-privileges" | "no-new-privileges=true" | "no-new-privileges:true") => {
                Ok("SecurityOpt has no-new-privileges".into())
            }
            Some(o) => Err(format!("SecurityOpt {o}")),
            None => Err("no-new-privileges not set".into()),
        }
    })
}

/// 5.27: a health check is configured (State.Health exists).
fn health(c: &ContainerFacts) -> Verdict {
    let h = c.inspect.state.as_ref().and_then(|s| s.health.as_ref());
    match h.and_then(|h| h.status) {
        Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY) | None => {
            Err("no health check".into())
        }
        Some(s) => Ok(format!("Health.Status={s}")),
    }
}

/// 5.30: attached to the default bridge network (info, not scored).
fn default_bridge(c: &ContainerFacts) -> Verdict {
    let nets: Vec<&String> = c
        .inspect
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|n| n.keys().collect())
        .unwrap_or_default();
    let mut names: Vec<&str> = nets.iter().map(|s| s.as_str()).collect();
    names.sort_unstable();
    let ev = format!("networks: {}", names.join(", "));
    if names.contains(&"bridge") {
        Err(ev)
    } else {
        Ok(ev)
    }
}

/// 5.32: a mount of a docker.sock (by name, or the daemon's own socket).
fn docker_sock(c: &ContainerFacts, sockets: &[String]) -> Verdict {
    let hits: Vec<String> = c
        .inspect
        .mounts
        .iter()
        .flatten()
        .filter(|m| {
            let s = m.source.as_deref().unwrap_or("");
            let d = m.destination.as_deref().unwrap_or("");
            s.ends_with("docker.sock")
                || d.ends_with("docker.sock")
                || sockets.iter().any(|k| k == s)
        })
        .map(|m| {
            format!(
                "{}:{}",
                m.source.as_deref().unwrap_or(""),
                m.destination.as_deref().unwrap_or("")
            )
        })
        .collect();
    if hits.is_empty() {
        Ok("Docker socket not mounted".into())
    } else {
        Err(format!("Docker socket mounted: {}", hits.join(", ")))
    }
}

/// The container as the checks see it (for callers building facts).
pub fn is_running(i: &ContainerInspectResponse) -> bool {
    i.state.as_ref().and_then(|s| s.running).unwrap_or(false)
}
