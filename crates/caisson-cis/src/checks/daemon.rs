//! Section 2: the daemon's configuration, from its command line merged with
//! daemon.json and, where the engine reports the running value, `/info`.
//! A check whose verdict depends on a malformed daemon.json warns with the
//! parse error; the command line alone still decides when it sets the option.

use super::{Ctx, Outcome};
use crate::config::Setting;
use crate::model::Status;
use bollard::models::{LocalNodeState, SystemInfo};

pub fn checks(ctx: &Ctx<'_>) -> Vec<Outcome> {
    vec![
        rootless(ctx),
        icc(ctx),
        log_level(ctx),
        iptables(ctx),
        insecure_registries(ctx),
        storage_driver(ctx, "daemon-aufs", "aufs"),
        storage_driver(ctx, "daemon-devicemapper", "devicemapper"),
        tls(ctx),
        default_ulimit(ctx),
        userns(ctx),
        cgroup_parent(ctx),
        base_device_size(ctx),
        authorization(ctx),
        remote_logging(ctx),
        no_new_privileges(ctx),
        live_restore(ctx),
        userland_proxy(ctx),
        seccomp(ctx),
        experimental(ctx),
    ]
}

fn info<'a>(ctx: &Ctx<'a>) -> Option<&'a SystemInfo> {
    ctx.host.info.as_ref()
}

fn security_options<'a>(ctx: &Ctx<'a>) -> &'a [String] {
    info(ctx)
        .and_then(|i| i.security_options.as_deref())
        .unwrap_or_default()
}

fn has_security_option(ctx: &Ctx<'_>, name: &str) -> bool {
    let needle = format!("name={name}");
    security_options(ctx)
        .iter()
        .any(|o| o.split(',').any(|p| p == needle))
}

/// Where a setting came from, for evidence.
fn source(ctx: &Ctx<'_>, flag: &str, key: &str) -> String {
    match ctx.cfg.setting(flag, key) {
        Setting::Flag(Some(v)) => format!("--{flag}={v}"),
        Setting::Flag(None) => format!("--{flag}"),
        Setting::File(v) => format!("\"{key}\": {v} in {}", ctx.cfg.config_path()),
        Setting::Unset => format!("--{flag} / \"{key}\" not set"),
        Setting::FileBroken(e) => e,
    }
}

fn broken(key: &'static str, e: String) -> Outcome {
    Outcome::new(key, Status::Warn, format!("cannot decide: {e}"))
}

/// 2.1: rootless mode is visible in `/info`.
fn rootless(ctx: &Ctx<'_>) -> Outcome {
    if has_security_option(ctx, "rootless") {
        Outcome::new(
            "daemon-rootless",
            Status::Pass,
            "dockerd runs rootless (SecurityOptions name=rootless)",
        )
    } else {
        Outcome::new(
            "daemon-rootless",
            Status::Note,
            "dockerd runs as root; consider rootless mode where the workload allows it",
        )
    }
}

/// 2.2: `--icc=false` / `"icc": false`.
fn icc(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-icc";
    match ctx.cfg.bool_setting("icc", "icc") {
        Ok(Some(false)) => Outcome::new(key, Status::Pass, source(ctx, "icc", "icc")),
        Ok(_) => Outcome::new(
            key,
            Status::Warn,
            format!(
                "inter-container communication on the default bridge is enabled ({})",
                source(ctx, "icc", "icc")
            ),
        ),
        Err(e) => broken(key, e),
    }
}

/// 2.3: the effective log level is `info` (the default); `--debug` or
/// `"debug": true` means `debug`.
fn log_level(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-log-level";
    let level = match ctx.cfg.str_setting("log-level", "log-level") {
        Ok(l) => l,
        Err(e) => return broken(key, e),
    };
    let debug = match ctx.cfg.bool_setting("debug", "debug") {
        Ok(d) => d.unwrap_or(false) || info(ctx).and_then(|i| i.debug).unwrap_or(false),
        Err(e) => return broken(key, e),
    };
    match (level.as_deref(), debug) {
        (_, true) => Outcome::new(
            key,
            Status::Warn,
            "debug mode is on (--debug / \"debug\": true / /info Debug)",
        ),
        (None, false) => Outcome::new(key, Status::Pass, "log level not set (default info)"),
        (Some(l), false) if l.eq_ignore_ascii_case("info") => {
            Outcome::new(key, Status::Pass, source(ctx, "log-level", "log-level"))
        }
        (Some(_), false) => Outcome::new(key, Status::Warn, source(ctx, "log-level", "log-level")),
    }
}

/// 2.4: iptables management not disabled.
fn iptables(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-iptables";
    match ctx.cfg.bool_setting("iptables", "iptables") {
        Ok(Some(false)) => Outcome::new(key, Status::Warn, source(ctx, "iptables", "iptables")),
        Ok(_) => Outcome::new(
            key,
            Status::Pass,
            format!(
                "iptables management enabled ({})",
                source(ctx, "iptables", "iptables")
            ),
        ),
        Err(e) => broken(key, e),
    }
}

/// 2.5: no insecure registry configured, and none reported by `/info`
/// beyond the built-in 127.0.0.0/8 (and ::1/128).
fn insecure_registries(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-insecure-registries";
    let mut found = match ctx
        .cfg
        .list_setting("insecure-registry", "insecure-registries")
    {
        Ok(v) => v,
        Err(e) => return broken(key, e),
    };
    if let Some(rc) = info(ctx).and_then(|i| i.registry_config.as_ref()) {
        for cidr in rc.insecure_registry_cidrs.iter().flatten() {
            if cidr != "127.0.0.0/8" && cidr != "::1/128" {
                found.push(cidr.clone());
            }
        }
        for (name, idx) in rc.index_configs.iter().flatten() {
            if idx.secure == Some(false) {
                found.push(name.clone());
            }
        }
    }
    found.sort();
    found.dedup();
    if found.is_empty() {
        Outcome::new(
            key,
            Status::Pass,
            "no insecure registries (only the built-in 127.0.0.0/8)",
        )
    } else {
        Outcome::new(
            key,
            Status::Warn,
            format!("insecure registries: {}", found.join(", ")),
        )
    }
}

/// 2.6 (aufs) and v1.8's 2.7 (devicemapper): the running storage driver.
fn storage_driver(ctx: &Ctx<'_>, key: &'static str, bad: &str) -> Outcome {
    let driver = info(ctx).and_then(|i| i.driver.clone()).or_else(|| {
        ctx.cfg
            .str_setting("storage-driver", "storage-driver")
            .ok()
            .flatten()
    });
    match driver {
        Some(d) if d == bad => Outcome::new(key, Status::Warn, format!("storage driver is {d}")),
        Some(d) => Outcome::new(key, Status::Pass, format!("storage driver is {d}")),
        None => Outcome::new(
            key,
            Status::Pass,
            "storage driver not reported (engine /info unavailable, none configured)",
        ),
    }
}

/// 2.7: a TCP listener needs `tlsverify`.
fn tls(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-tls";
    let hosts = match ctx.cfg.hosts() {
        Ok(h) => h,
        Err(e) => return broken(key, e),
    };
    let tcp: Vec<&String> = hosts.iter().filter(|h| h.starts_with("tcp://")).collect();
    if tcp.is_empty() {
        return Outcome::new(
            key,
            Status::Info,
            format!("dockerd does not listen on TCP ({})", hosts.join(", ")),
        );
    }
    let list = tcp
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let verify = ctx.cfg.bool_setting("tlsverify", "tlsverify");
    let tls = ctx.cfg.bool_setting("tls", "tls");
    match (verify, tls) {
        (Err(e), _) | (_, Err(e)) => broken(key, e),
        (Ok(Some(true)), _) => Outcome::new(
            key,
            Status::Pass,
            format!("listening on {list} with tlsverify"),
        ),
        (_, Ok(Some(true))) => Outcome::new(
            key,
            Status::Warn,
            format!("listening on {list} with TLS but without client verification (tlsverify)"),
        ),
        _ => Outcome::new(
            key,
            Status::Warn,
            format!("listening on {list} without TLS"),
        ),
    }
}

/// 2.8: default ulimits configured (not scored).
fn default_ulimit(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-default-ulimit";
    match ctx.cfg.list_setting("default-ulimit", "default-ulimits") {
        Ok(v) if !v.is_empty() => Outcome::new(
            key,
            Status::Pass,
            format!("default ulimits: {}", v.join(", ")),
        ),
        Ok(_) => Outcome::new(key, Status::Info, "default ulimits not set"),
        Err(e) => broken(key, e),
    }
}

/// 2.9: user namespace remapping (configured or reported by `/info`).
fn userns(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-userns";
    if has_security_option(ctx, "userns") {
        return Outcome::new(key, Status::Pass, "/info SecurityOptions has name=userns");
    }
    match ctx.cfg.str_setting("userns-remap", "userns-remap") {
        Ok(Some(v)) if !v.is_empty() => Outcome::new(
            key,
            Status::Pass,
            source(ctx, "userns-remap", "userns-remap"),
        ),
        Ok(_) => Outcome::new(key, Status::Warn, "user namespace remapping is not enabled"),
        Err(e) => broken(key, e),
    }
}

/// 2.10: a daemon-wide cgroup parent must be confirmed.
fn cgroup_parent(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-cgroup-parent";
    match ctx.cfg.str_setting("cgroup-parent", "cgroup-parent") {
        Ok(Some(v)) if !v.is_empty() => Outcome::new(
            key,
            Status::Warn,
            format!("cgroup parent is {v}: confirm it"),
        ),
        Ok(_) => Outcome::new(key, Status::Pass, "default cgroup parent"),
        Err(e) => broken(key, e),
    }
}

/// 2.11: no `dm.basesize` storage option.
fn base_device_size(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-base-device-size";
    match ctx.cfg.list_setting("storage-opt", "storage-opts") {
        Ok(v) => match v.iter().find(|o| o.contains("dm.basesize")) {
            Some(o) => Outcome::new(key, Status::Warn, format!("storage option {o}")),
            None => Outcome::new(key, Status::Pass, "base device size not changed"),
        },
        Err(e) => broken(key, e),
    }
}

/// 2.12: an authorization plugin (configured or listed by `/info`).
fn authorization(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-authorization";
    let from_info: Vec<String> = info(ctx)
        .and_then(|i| i.plugins.as_ref())
        .and_then(|p| p.authorization.clone())
        .unwrap_or_default();
    let configured = match ctx
        .cfg
        .list_setting("authorization-plugin", "authorization-plugins")
    {
        Ok(v) => v,
        Err(e) if from_info.is_empty() => return broken(key, e),
        Err(_) => Vec::new(),
    };
    let mut all = from_info;
    all.extend(configured);
    all.sort();
    all.dedup();
    if all.is_empty() {
        Outcome::new(key, Status::Warn, "no authorization plugin")
    } else {
        Outcome::new(
            key,
            Status::Pass,
            format!("authorization plugins: {}", all.join(", ")),
        )
    }
}

/// 2.13: the logging driver ships logs off the host. `json-file` (the
/// default), `local` and `none` keep them local or drop them.
fn remote_logging(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-remote-logging";
    let driver = match info(ctx).and_then(|i| i.logging_driver.clone()) {
        Some(d) => d,
        None => match ctx.cfg.str_setting("log-driver", "log-driver") {
            Ok(d) => d.unwrap_or_else(|| "json-file".into()),
            Err(e) => return broken(key, e),
        },
    };
    if matches!(driver.as_str(), "json-file" | "local" | "none") {
        Outcome::new(key, Status::Warn, format!("logging driver is {driver}"))
    } else {
        Outcome::new(key, Status::Pass, format!("logging driver is {driver}"))
    }
}

/// Whether the daemon sets no-new-privileges (2.14, and 5.26's shortcut).
pub fn daemon_no_new_privileges(ctx: &Ctx<'_>) -> Result<bool, String> {
    ctx.cfg
        .bool_setting("no-new-privileges", "no-new-privileges")
        .map(|b| b.unwrap_or(false))
}

/// 2.14.
fn no_new_privileges(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-no-new-privileges";
    match daemon_no_new_privileges(ctx) {
        Ok(true) => Outcome::new(
            key,
            Status::Pass,
            source(ctx, "no-new-privileges", "no-new-privileges"),
        ),
        Ok(false) => Outcome::new(
            key,
            Status::Warn,
            source(ctx, "no-new-privileges", "no-new-privileges"),
        ),
        Err(e) => broken(key, e),
    }
}

/// 2.15: `/info` LiveRestoreEnabled (incompatible with swarm mode, which
/// passes as docker-bench does).
fn live_restore(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-live-restore";
    let i = info(ctx);
    if i.and_then(|i| i.live_restore_enabled) == Some(true) {
        return Outcome::new(key, Status::Pass, "/info LiveRestoreEnabled: true");
    }
    let swarm = i
        .and_then(|i| i.swarm.as_ref())
        .and_then(|s| s.local_node_state);
    if swarm == Some(LocalNodeState::ACTIVE) {
        return Outcome::new(
            key,
            Status::Pass,
            "swarm mode is active (live restore is incompatible with it)",
        );
    }
    match ctx.cfg.bool_setting("live-restore", "live-restore") {
        Ok(Some(true)) if i.is_none() => Outcome::new(
            key,
            Status::Pass,
            source(ctx, "live-restore", "live-restore"),
        ),
        Ok(_) => Outcome::new(key, Status::Warn, "live restore is not enabled"),
        Err(e) => broken(key, e),
    }
}

/// 2.16: `--userland-proxy=false` / `"userland-proxy": false`.
fn userland_proxy(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-userland-proxy";
    match ctx.cfg.bool_setting("userland-proxy", "userland-proxy") {
        Ok(Some(false)) => Outcome::new(
            key,
            Status::Pass,
            source(ctx, "userland-proxy", "userland-proxy"),
        ),
        Ok(_) => Outcome::new(
            key,
            Status::Warn,
            format!(
                "userland proxy enabled ({})",
                source(ctx, "userland-proxy", "userland-proxy")
            ),
        ),
        Err(e) => broken(key, e),
    }
}

/// 2.17: the seccomp profile `/info` reports (not scored). The builtin
/// default or a custom profile passes; `unconfined` warns.
fn seccomp(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-seccomp";
    let opt = security_options(ctx)
        .iter()
        .find(|o| o.split(',').any(|p| p == "name=seccomp"));
    let profile = opt.and_then(|o| o.split(',').find_map(|p| p.strip_prefix("profile=")));
    let configured = ctx
        .cfg
        .str_setting("seccomp-profile", "seccomp-profile")
        .ok()
        .flatten();
    match (profile, configured.as_deref()) {
        (Some("unconfined"), _) | (_, Some("unconfined")) => Outcome::new(
            key,
            Status::Warn,
            "daemon-wide seccomp profile is unconfined",
        ),
        (Some("default") | Some("builtin"), _) => {
            Outcome::new(key, Status::Pass, "Docker's default seccomp profile")
        }
        (Some(p), _) => Outcome::new(key, Status::Pass, format!("custom seccomp profile {p}")),
        (None, Some(p)) => Outcome::new(key, Status::Pass, format!("seccomp-profile {p}")),
        (None, None) => Outcome::new(
            key,
            Status::Info,
            "seccomp not reported by the engine (kernel without seccomp?)",
        ),
    }
}

/// 2.18: experimental features off (`/info` ExperimentalBuild, else config).
fn experimental(ctx: &Ctx<'_>) -> Outcome {
    let key = "daemon-experimental";
    let on = match info(ctx).and_then(|i| i.experimental_build) {
        Some(b) => Ok(b),
        None => ctx
            .cfg
            .bool_setting("experimental", "experimental")
            .map(|b| b.unwrap_or(false)),
    };
    match on {
        Ok(true) => Outcome::new(key, Status::Warn, "experimental features are enabled"),
        Ok(false) => Outcome::new(key, Status::Pass, "experimental features are disabled"),
        Err(e) => broken(key, e),
    }
}
