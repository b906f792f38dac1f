//! The daemon's effective configuration: its command line merged with
//! daemon.json (dockerd refuses an option given in both, so at most one of
//! them sets it) and, where the engine reports the running value, `/info`.

use serde_json::Value;

use crate::facts::{ConfigFile, DaemonFacts};

/// dockerd flags that take no separate value (`--icc false` is not a value
/// for a boolean flag; it needs `--icc=false`).
const BOOL_FLAGS: &[&str] = &[
    "icc",
    "iptables",
    "ip6tables",
    "ip-forward",
    "ip-masq",
    "tls",
    "tlsverify",
    "live-restore",
    "userland-proxy",
    "no-new-privileges",
    "experimental",
    "debug",
    "selinux-enabled",
    "rootless",
    "raw-logs",
    "init",
    "validate",
    "help",
    "version",
];

/// Short flags and their long names.
const SHORT: &[(&str, &str)] = &[
    ("-H", "host"),
    ("-l", "log-level"),
    ("-D", "debug"),
    ("-G", "group"),
    ("-p", "pidfile"),
    ("-g", "graph"),
    ("-b", "bridge"),
    ("-v", "version"),
    ("-h", "help"),
];

/// One parsed option: long name and value (`None` for a bare boolean flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub name: String,
    pub value: Option<String>,
}

/// Parses dockerd's argv (argv\[0\] skipped) into flags.
pub fn parse_flags(argv: &[String]) -> Vec<Flag> {
    let mut out = Vec::new();
    let mut it = argv.iter().skip(1).peekable();
    while let Some(a) = it.next() {
        let (name, inline) = if let Some(long) = a.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            }
        } else if a.starts_with('-') && a.len() >= 2 {
            let key = a.get(..2).unwrap_or(a);
            let Some((_, long)) = SHORT.iter().find(|(s, _)| *s == key) else {
                continue;
            };
            let rest = a.get(2..).unwrap_or("");
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            (
                (*long).to_string(),
                (!rest.is_empty()).then(|| rest.to_string()),
            )
        } else {
            continue;
        };
        let value = match inline {
            Some(v) => Some(unquote(&v)),
            None if BOOL_FLAGS.contains(&name.as_str()) => None,
            None => match it.peek() {
                Some(next) if !next.starts_with('-') => it.next().map(|v| unquote(v)),
                _ => None,
            },
        };
        out.push(Flag { name, value });
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting<'a> {
    /// Not set on the command line nor in daemon.json.
    Unset,
    /// The command line's last occurrence (`None` value: bare boolean flag).
    Flag(Option<&'a str>),
    /// daemon.json's value.
    File(&'a Value),
    /// daemon.json is malformed or unreadable and the command line does not
    /// set the option: the verdict cannot be made. Holds the reason.
    FileBroken(String),
}

/// The merged view.
#[derive(Debug, Clone)]
pub struct DaemonConfig<'a> {
    pub flags: Vec<Flag>,
    facts: &'a DaemonFacts,
}

impl<'a> DaemonConfig<'a> {
    pub fn new(facts: &'a DaemonFacts) -> Self {
        let flags = facts
            .cmdline
            .as_deref()
            .map(parse_flags)
            .unwrap_or_default();
        DaemonConfig { flags, facts }
    }

    /// Whether dockerd's command line was read.
    pub fn have_cmdline(&self) -> bool {
        self.facts.cmdline.is_some()
    }

    /// dockerd's argv[0].
    pub fn argv0(&self) -> Option<&'a str> {
        self.facts
            .cmdline
            .as_ref()
            .and_then(|a| a.first())
            .map(String::as_str)
    }

    pub fn config_path(&self) -> &str {
        &self.facts.config_path
    }

    /// Every value of a repeatable flag (`--host`, `--insecure-registry`).
    pub fn flag_all(&self, name: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|f| f.name == name)
            .filter_map(|f| f.value.as_deref())
            .collect()
    }

    /// The last occurrence of a flag: `Some(None)` for a bare boolean flag.
    pub fn flag(&self, name: &str) -> Option<Option<&str>> {
        self.flags
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map(|f| f.value.as_deref())
    }

    /// A daemon.json key: `Ok(None)` when absent (or no file), `Err` with the
    /// reason when the file is broken.
    pub fn file(&self, key: &str) -> Result<Option<&'a Value>, String> {
        match &self.facts.config {
            ConfigFile::Absent => Ok(None),
            ConfigFile::Parsed(m) => Ok(m.get(key)),
            ConfigFile::Malformed(e) => {
                Err(format!("{} is not valid: {e}", self.facts.config_path))
            }
            ConfigFile::Unreadable(e) => {
                Err(format!("{} could not be read: {e}", self.facts.config_path))
            }
        }
    }

    /// The flag `flag` or daemon.json key `key`, flag first.
    pub fn setting(&self, flag: &str, key: &str) -> Setting<'_> {
        if let Some(v) = self.flag(flag) {
            return Setting::Flag(v);
        }
        match self.file(key) {
            Ok(Some(v)) => Setting::File(v),
            Ok(None) => Setting::Unset,
            Err(e) => Setting::FileBroken(e),
        }
    }

    /// A boolean setting: `Ok(Some(b))` when set, `Err` when it depends on a
    /// broken daemon.json.
    pub fn bool_setting(&self, flag: &str, key: &str) -> Result<Option<bool>, String> {
        match self.setting(flag, key) {
            Setting::Unset => Ok(None),
            Setting::Flag(None) => Ok(Some(true)),
            Setting::Flag(Some(v)) => Ok(Some(!matches!(
                v,
                "false" | "0" | "f" | "F" | "FALSE" | "False"
            ))),
            Setting::File(v) => Ok(Some(match v {
                Value::Bool(b) => *b,
                Value::String(s) => s == "true",
                _ => false,
            })),
            Setting::FileBroken(e) => Err(e),
        }
    }

    /// A list setting (repeatable flag, daemon.json array or string).
    pub fn list_setting(&self, flag: &str, key: &str) -> Result<Vec<String>, String> {
        let flags: Vec<String> = self
            .flag_all(flag)
            .into_iter()
            .map(str::to_string)
            .collect();
        if !flags.is_empty() {
            return Ok(flags);
        }
        match self.file(key)? {
            Some(Value::Array(a)) => Ok(a.iter().map(value_text).collect()),
            Some(Value::Object(o)) => Ok(o.keys().cloned().collect()),
            Some(Value::Null) | None => Ok(Vec::new()),
            Some(v) => Ok(vec![value_text(v)]),
        }
    }

    /// A string setting.
    pub fn str_setting(&self, flag: &str, key: &str) -> Result<Option<String>, String> {
        match self.setting(flag, key) {
            Setting::Unset | Setting::Flag(None) => Ok(None),
            Setting::Flag(Some(v)) => Ok(Some(v.to_string())),
            Setting::File(Value::Null) => Ok(None),
            Setting::File(v) => Ok(Some(value_text(v))),
            Setting::FileBroken(e) => Err(e),
        }
    }

    /// The addresses dockerd listens on (`-H`/`--host`, daemon.json `hosts`);
    /// `unix:///var/run/docker.sock` when none is set.
    pub fn hosts(&self) -> Result<Vec<String>, String> {
        let h = self.list_setting("host", "hosts")?;
        if h.is_empty() {
            Ok(vec!["unix:///var/run/docker.sock".to_string()])
        } else {
            Ok(h)
        }
    }

    /// The unix socket paths among [`Self::hosts`] (`fd://` is systemd's
    /// docker.socket, whose default path is /var/run/docker.sock).
    pub fn unix_sockets(&self) -> Vec<String> {
        let hosts = self
            .hosts()
            .unwrap_or_else(|_| vec!["unix:///var/run/docker.sock".to_string()]);
        let mut out: Vec<String> = hosts
            .iter()
            .filter_map(|h| {
                if let Some(p) = h.strip_prefix("unix://") {
                    Some(p.to_string())
                } else if h.starts_with("fd://") {
                    Some("/var/run/docker.sock".to_string())
                } else {
                    None
                }
            })
            .collect();
        out.dedup();
        out
    }
}

/// A JSON value as text: strings bare, others as JSON.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::parse;

    fn facts(argv: &[&str], json: Option<&str>) -> DaemonFacts {
        DaemonFacts {
            pid: Some(1),
            cmdline: Some(argv.iter().map(|s| s.to_string()).collect()),
            config_path: "/etc/docker/daemon.json".into(),
            config: json.map_or(ConfigFile::Absent, |j| parse::daemon_json(j.as_bytes())),
        }
    }

    #[test]
    fn flags_long_short_bool_and_values() {
        let f = parse_flags(
            &[
                "dockerd",
                "-H",
                "unix:///a.sock",
                "-Htcp://0.0.0.0:2376",
                "--icc=false",
                "--tlsverify",
                "--log-level",
                "debug",
                "-D",
                "--insecure-registry=r:5000",
                "stray",
            ]
            .map(String::from),
        );
        let names: Vec<_> = f
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("host", Some("unix:///a.sock")),
                ("host", Some("tcp://0.0.0.0:2376")),
                ("icc", Some("false")),
                ("tlsverify", None),
                ("log-level", Some("debug")),
                ("debug", None),
                ("insecure-registry", Some("r:5000")),
            ]
        );
    }

    #[test]
    fn flag_wins_and_broken_file_is_reported() {
        let d = facts(&["dockerd", "--icc=false"], Some("{not json"));
        let c = DaemonConfig::new(&d);
        assert_eq!(c.bool_setting("icc", "icc"), Ok(Some(false)));
        let err = c.bool_setting("live-restore", "live-restore").unwrap_err();
        assert!(
            err.contains("/etc/docker/daemon.json is not valid"),
            "{err}"
        );
    }

    #[test]
    fn hosts_default_and_sockets() {
        let d = facts(&["dockerd"], None);
        assert_eq!(
            DaemonConfig::new(&d).unix_sockets(),
            ["/var/run/docker.sock"]
        );
        let d = facts(
            &["dockerd"],
            Some(r#"{"hosts": ["unix:///run/d.sock", "tcp://0.0.0.0:2375"]}"#),
        );
        let c = DaemonConfig::new(&d);
        assert_eq!(c.unix_sockets(), ["/run/d.sock"]);
        assert_eq!(c.hosts().unwrap().len(), 2);
    }
}
