//! Building a [`PolicySet`]: built-ins, user `.rego` files and Gatekeeper
//! templates/constraints are compiled into one regorus engine, once.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::config::{yaml_params_to_json, Config, Exemption};
use crate::engine::{Limits, Loaded, PolicyKind, PolicySet};
use crate::error::rego_err;
use crate::gatekeeper::{Constraint, Template};
use crate::library::{self, BUILTINS};
use crate::manifest;
use crate::model::{Mode, PolicyMeta, PolicySource, Severity};
use crate::PolicyError;

/// A policy before the config is applied.
struct Pending {
    meta: PolicyMeta,
    kind: PolicyKind,
    default_params: Json,
    builtin: Option<&'static library::Builtin>,
    origin: String,
}

/// Collects policies, then compiles them with [`PolicySetBuilder::build`].
pub struct PolicySetBuilder {
    engine: regorus::Engine,
    lib_loaded: bool,
    pending: Vec<Pending>,
    templates: BTreeMap<String, (Template, String, String)>,
    constraints: Vec<(Constraint, String)>,
    loaded_libs: Vec<String>,
    config: Config,
    config_path: String,
    limits: Limits,
    set_memory_ceiling: bool,
    notes: Vec<String>,
}

impl Default for PolicySetBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn add_module(engine: &mut regorus::Engine, path: &str, text: &str) -> Result<String, PolicyError> {
    // Rego v1 first (OPA 1.x syntax), then v0 (Gatekeeper libraries,
    // `deny[msg] { … }`): v1 is the stricter grammar, so a module it accepts is
    // not a v0 module in disguise, while v0 would misread v1's `if`/`contains`.
    engine.set_rego_v0(false);
    let v1 = engine.add_policy(path.to_string(), text.to_string());
    match v1 {
        Ok(pkg) => Ok(pkg),
        Err(e1) => {
            engine.set_rego_v0(true);
            engine
                .add_policy(path.to_string(), text.to_string())
                .map_err(|e0| rego_err(path, format!("{e0:#}\n(as Rego v1: {e1:#})")))
        }
    }
}

fn declares(engine: &regorus::Engine, path: &str, rule: &str) -> bool {
    engine
        .has_declared_rule_rooted_at(path, rule)
        .unwrap_or(false)
}

impl PolicySetBuilder {
    pub fn new() -> Self {
        let mut engine = regorus::Engine::new();
        // Registering fixed names on a fresh engine cannot collide.
        let _ = crate::compat::register(&mut engine);
        // As OPA (and so Gatekeeper) by default: a built-in given the wrong type is
        // undefined, not an evaluation error.
        engine.set_strict_builtin_errors(false);
        PolicySetBuilder {
            engine,
            lib_loaded: false,
            pending: Vec::new(),
            templates: BTreeMap::new(),
            constraints: Vec::new(),
            loaded_libs: Vec::new(),
            config: Config::default(),
            config_path: String::new(),
            limits: Limits::default(),
            set_memory_ceiling: true,
            notes: Vec::new(),
        }
    }

    /// Leaves the process-wide memory ceiling as it is: for small sets built
    /// while the process serves (a registry's pull policies), which must not
    /// replace the ceiling the main policy set installed.
    pub fn keep_memory_ceiling(&mut self) -> &mut Self {
        self.set_memory_ceiling = false;
        self
    }

    pub fn limits(&mut self, limits: Limits) -> &mut Self {
        self.limits = limits;
        self
    }

    pub fn config(&mut self, config: Config, path: impl Into<String>) -> &mut Self {
        self.config = config;
        self.config_path = path.into();
        self
    }

    /// Adds `spec`: a built-in id, a `.rego` / `.yaml` / `.json` file, or a directory
    /// of them (recursively, sorted).
    pub fn add(&mut self, spec: &str) -> Result<&mut Self, PolicyError> {
        if library::builtin(spec).is_some() {
            return self.builtin(spec);
        }
        let p = Path::new(spec);
        if p.is_dir() {
            self.dir(p)?;
            Ok(self)
        } else if p.is_file() {
            self.file(p)?;
            Ok(self)
        } else {
            Err(PolicyError::UnknownPolicy(spec.to_string()))
        }
    }

    /// The built-ins marked as the default set.
    pub fn default_builtins(&mut self) -> Result<&mut Self, PolicyError> {
        for b in BUILTINS.iter().filter(|b| b.in_default_set) {
            self.builtin(b.id)?;
        }
        Ok(self)
    }

    pub fn builtin(&mut self, id: &str) -> Result<&mut Self, PolicyError> {
        let b = library::builtin(id).ok_or_else(|| PolicyError::UnknownPolicy(id.to_string()))?;
        if self.pending.iter().any(|p| p.meta.id == id) {
            return Ok(self);
        }
        if !self.lib_loaded {
            for (path, text) in library::LIB_MODULES {
                add_module(&mut self.engine, path, text)?;
            }
            self.lib_loaded = true;
        }
        let path = format!("builtin:{}.rego", b.package);
        add_module(&mut self.engine, &path, b.rego)?;
        self.pending.push(Pending {
            meta: b.meta(),
            kind: PolicyKind::Caisson {
                package: b.package.to_string(),
                deny: true,
                warn: false,
            },
            default_params: b.default_params(),
            builtin: Some(b),
            origin: path,
        });
        Ok(self)
    }

    fn dir(&mut self, dir: &Path) -> Result<(), PolicyError> {
        let mut files = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let rd = fs_err::read_dir(&d).map_err(|source| PolicyError::Read {
                path: d.clone(),
                source,
            })?;
            for entry in rd {
                let entry = entry.map_err(|source| PolicyError::Read {
                    path: d.clone(),
                    source,
                })?;
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("rego" | "yaml" | "yml" | "json")
                ) && !p.to_string_lossy().ends_with("_test.rego")
                {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            self.file(&f)?;
        }
        Ok(())
    }

    fn file(&mut self, path: &Path) -> Result<(), PolicyError> {
        let text = fs_err::read_to_string(path).map_err(|source| PolicyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let label = path.display().to_string();
        if path.extension().and_then(|e| e.to_str()) == Some("rego") {
            self.rego_source(&label, &text)
        } else {
            self.gatekeeper_source(&label, &text)
        }
    }

    /// A user module. `package caisson.<name>` with `deny`/`warn` rules is a policy
    /// (id `<name>` with `_` → `-`, or `metadata.id`); any other package is a helper.
    pub fn rego_source(&mut self, path: &str, text: &str) -> Result<(), PolicyError> {
        let pkg = add_module(&mut self.engine, path, text)?;
        let Some(name) = pkg.strip_prefix("data.caisson.") else {
            return Ok(());
        };
        if name.starts_with("builtin.") || name.starts_with("lib.") {
            return Err(PolicyError::Contract {
                path: path.to_string(),
                message: format!("package {pkg} is reserved for Caisson's built-ins"),
            });
        }
        let deny = declares(&self.engine, path, "deny");
        let warn = declares(&self.engine, path, "warn");
        if !deny && !warn {
            return Ok(());
        }
        let package = pkg.trim_start_matches("data.").to_string();
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| matches!(&p.kind, PolicyKind::Caisson { package: q, .. } if *q == package))
        {
            // Another file of the same package: rules merge.
            if let PolicyKind::Caisson {
                deny: d, warn: w, ..
            } = &mut p.kind
            {
                *d |= deny;
                *w |= warn;
            }
            return Ok(());
        }
        self.pending.push(Pending {
            meta: PolicyMeta {
                id: name.replace('_', "-"),
                description: String::new(),
                severity: Severity::Medium,
                remediation: String::new(),
                default_mode: Mode::Enforce,
                source: PolicySource::Rego,
            },
            kind: PolicyKind::Caisson {
                package,
                deny,
                warn,
            },
            default_params: Json::Object(Default::default()),
            builtin: None,
            origin: path.to_string(),
        });
        Ok(())
    }

    /// YAML/JSON holding `ConstraintTemplate`s and constraints (any order, any files).
    pub fn gatekeeper_source(&mut self, path: &str, text: &str) -> Result<(), PolicyError> {
        let docs = manifest::parse_documents(text.as_bytes(), path, &Default::default())?;
        for (doc, origin) in docs {
            if doc.get("kind").and_then(Json::as_str) == Some("ConstraintTemplate") {
                let t = Template::from_json(&doc, &origin)?;
                if self.templates.contains_key(&t.kind) {
                    return Err(PolicyError::Gatekeeper {
                        what: "template",
                        path: origin,
                        message: format!("kind {} is defined twice", t.kind),
                    });
                }
                for (i, lib) in t.libs.iter().enumerate() {
                    if !self.loaded_libs.contains(lib) {
                        add_module(&mut self.engine, &format!("{origin}#lib{i}"), lib)?;
                        self.loaded_libs.push(lib.clone());
                    }
                }
                let pkg = add_module(&mut self.engine, &origin, &t.rego)?;
                if t.uses_inventory() {
                    self.notes.push(format!(
                        "template {} reads data.inventory, which is empty outside a Gatekeeper cluster",
                        t.name
                    ));
                }
                let package = pkg.trim_start_matches("data.").to_string();
                self.templates.insert(t.kind.clone(), (t, package, origin));
            } else if doc
                .pointer("/apiVersion")
                .and_then(Json::as_str)
                .is_some_and(|a| a.starts_with("constraints.gatekeeper.sh/"))
            {
                let c = Constraint::from_json(&doc, &origin)?;
                self.constraints.push((c, origin));
            } else {
                return Err(PolicyError::Gatekeeper {
                    what: "file",
                    path: origin,
                    message:
                        "expected a ConstraintTemplate or a constraints.gatekeeper.sh constraint"
                            .into(),
                });
            }
        }
        Ok(())
    }

    /// Binds constraints to templates, applies the config, compiles the engine.
    pub fn build(mut self) -> Result<PolicySet, PolicyError> {
        for (c, origin) in std::mem::take(&mut self.constraints) {
            let (t, package, _) =
                self.templates
                    .get(&c.kind)
                    .ok_or_else(|| PolicyError::Gatekeeper {
                        what: "constraint",
                        path: origin.clone(),
                        message: format!("no ConstraintTemplate defines kind {}", c.kind),
                    })?;
            let description = t
                .description
                .clone()
                .or_else(|| t.title.clone())
                .unwrap_or_else(|| format!("Gatekeeper {}", c.kind));
            self.pending.push(Pending {
                meta: PolicyMeta {
                    id: c.name.clone(),
                    description,
                    severity: Severity::Medium,
                    remediation: String::new(),
                    default_mode: c.mode,
                    source: PolicySource::Gatekeeper,
                },
                kind: PolicyKind::Gatekeeper {
                    package: package.clone(),
                    matcher: Box::new(c.matcher.clone()),
                },
                default_params: c.parameters.clone(),
                builtin: None,
                origin,
            });
        }
        if !self.templates.is_empty() {
            let data =
                regorus::Value::from_json_str(r#"{"inventory": {"cluster": {}, "namespace": {}}}"#)
                    .map_err(|e| rego_err("data.inventory", e))?;
            self.engine
                .add_data(data)
                .map_err(|e| rego_err("data.inventory", e))?;
        }
        // Before anything is evaluated (metadata included): regorus would
        // overflow the stack.
        crate::recursion::check(self.engine.get_modules().iter().map(|m| &**m))?;
        self.resolve_user_metadata()?;

        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for p in &self.pending {
            if let Some(first) = seen.insert(p.meta.id.clone(), p.origin.clone()) {
                return Err(PolicyError::DuplicateId {
                    id: p.meta.id.clone(),
                    first,
                    second: p.origin.clone(),
                });
            }
        }
        let ids: Vec<&str> = self.pending.iter().map(|p| p.meta.id.as_str()).collect();
        self.config.validate(&self.config_path, &ids)?;

        let mut loaded = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            loaded.push(self.apply_config(p)?);
        }
        if self.set_memory_ceiling {
            regorus::set_global_memory_limit(self.limits.memory_ceiling);
        }
        self.engine
            .set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
                limit: self.limits.policy_timeout,
                check_interval: std::num::NonZeroU32::MIN,
            });
        // Compile once here, so per-request clones start prepared.
        self.engine.set_input(regorus::Value::new_object());
        self.engine
            .eval_query("true".to_string(), false)
            .map_err(|e| rego_err("policy set", e))?;
        Ok(PolicySet::new(
            self.engine,
            Arc::new(loaded),
            self.limits,
            self.notes,
        ))
    }

    /// Reads `metadata := {...}` of user policies (id, description, severity,
    /// remediation, mode).
    fn resolve_user_metadata(&mut self) -> Result<(), PolicyError> {
        self.engine.set_input(regorus::Value::new_object());
        for p in self
            .pending
            .iter_mut()
            .filter(|p| p.meta.source == PolicySource::Rego)
        {
            let PolicyKind::Caisson { package, .. } = &p.kind else {
                continue;
            };
            if !declares(&self.engine, &p.origin, "metadata") {
                continue;
            }
            let v = self
                .engine
                .eval_rule(format!("data.{package}.metadata"))
                .map_err(|e| rego_err(&p.origin, e))?;
            let m: Json = serde_json::to_value(&v).unwrap_or(Json::Null);
            let contract = |message: String| PolicyError::Contract {
                path: p.origin.clone(),
                message,
            };
            let get = |k: &str| m.get(k).and_then(Json::as_str).map(str::to_string);
            if let Some(id) = get("id") {
                p.meta.id = id;
            }
            if let Some(d) = get("description") {
                p.meta.description = d;
            }
            if let Some(r) = get("remediation") {
                p.meta.remediation = r;
            }
            if let Some(s) = get("severity") {
                p.meta.severity = s
                    .parse()
                    .map_err(|e| contract(format!("metadata.severity: {e}")))?;
            }
            if let Some(s) = get("mode") {
                p.meta.default_mode = s
                    .parse()
                    .map_err(|e| contract(format!("metadata.mode: {e}")))?;
            }
        }
        Ok(())
    }

    fn apply_config(&self, p: Pending) -> Result<Loaded, PolicyError> {
        let cfg_err = |message: String| PolicyError::Config {
            path: self.config_path.clone(),
            message: format!("policies.{}: {message}", p.meta.id),
        };
        let pc = self.config.policies.get(&p.meta.id);
        let mut params = p.default_params.clone();
        if let Some(overrides) = pc.and_then(|c| c.parameters.as_ref()) {
            let o = yaml_params_to_json(overrides).map_err(&cfg_err)?;
            if let (Some(base), Some(o)) = (params.as_object_mut(), o.as_object()) {
                for (k, v) in o {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        if let Some(b) = p.builtin {
            b.validate_params(&params).map_err(&cfg_err)?;
        }
        let mut exemptions: Vec<Exemption> = pc.map(|c| c.exemptions.clone()).unwrap_or_default();
        exemptions.extend(
            self.config
                .exemptions
                .iter()
                .filter(|e| e.applies_to(&p.meta.id))
                .cloned(),
        );
        let mut meta = p.meta;
        if let Some(s) = pc.and_then(|c| c.severity) {
            meta.severity = s;
        }
        let mode = pc.and_then(|c| c.mode).unwrap_or(meta.default_mode);
        Ok(Loaded {
            meta,
            mode,
            params: regorus::Value::from(params.clone()),
            params_json: params,
            kind: p.kind,
            exemptions,
        })
    }
}
