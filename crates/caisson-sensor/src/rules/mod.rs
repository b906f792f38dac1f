//! Rules: the file format (YAML, `rules/default.yaml` built in, a user file
//! on top), merging, validation and the compiled [`RuleSet`].
//!
//! Precedence, documented in docs/runtime.md and tested below: the user
//! file's `lists` extend the built-in lists (new names are new lists); a
//! user rule with a built-in id replaces that rule whole, a new id adds a
//! rule; `allow` adds allow conditions to a rule (built-in or the user's);
//! `disable` removes rules last, whatever else the file says about them.

pub mod expr;
pub mod fields;
pub mod lang;

use std::collections::BTreeMap;
use std::path::Path;

use caisson_model::Severity;
use serde::Deserialize;

use crate::error::RuleError;
use crate::event::EventKind;
pub use expr::{Expr, Subject};

/// The built-in rules, embedded at build time.
pub const BUILTIN_RULES: &str = include_str!("../../rules/default.yaml");

/// Largest rule file read (bytes).
pub const MAX_RULE_FILE: u64 = 1 << 20;

/// A rule file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Rule ids to turn off (user files).
    #[serde(default)]
    pub disable: Vec<String>,
    /// Named lists, `$name` in conditions.
    #[serde(default)]
    pub lists: BTreeMap<String, Vec<String>>,
    /// More allow conditions for existing rules, by rule id (user files).
    #[serde(default)]
    pub allow: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub rules: Vec<RuleSpec>,
}

/// One rule as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    /// MITRE ATT&CK technique ids (`T1059.004`).
    #[serde(default)]
    pub mitre: Vec<String>,
    pub event: EventKind,
    pub condition: String,
    /// The rule does not fire when any of these is true.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// Where a rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Builtin,
    User,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    pub mitre: Vec<String>,
    pub event: EventKind,
    pub origin: Origin,
    pub condition_text: String,
    condition: Expr,
    allow: Vec<Expr>,
}

impl Rule {
    /// Whether the rule fires for this event.
    pub fn matches(&self, s: &Subject<'_>) -> bool {
        self.event == s.event.kind()
            && self.condition.eval(s)
            && !self.allow.iter().any(|a| a.eval(s))
    }
}

/// The compiled rules, in file order (built-in first).
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    lists: BTreeMap<String, Vec<String>>,
}

impl RuleSet {
    /// The built-in rules alone.
    pub fn builtin() -> Result<Self, RuleError> {
        Self::from_texts(BUILTIN_RULES, None)
    }

    /// The built-in rules with the user file at `user` on top.
    pub fn load(user: Option<&Path>) -> Result<Self, RuleError> {
        let text = match user {
            None => None,
            Some(p) => {
                use std::io::Read;
                let mut s = String::new();
                fs_err::File::open(p)
                    .and_then(|f| f.take(MAX_RULE_FILE).read_to_string(&mut s).map(|_| ()))
                    .map_err(|source| RuleError::Read {
                        path: p.to_path_buf(),
                        source,
                    })?;
                Some((p.display().to_string(), s))
            }
        };
        Self::from_texts(
            BUILTIN_RULES,
            text.as_ref().map(|(o, t)| (o.as_str(), t.as_str())),
        )
    }

    /// Merges and compiles: `builtin` and an optional `(origin, text)` user file.
    pub fn from_texts(builtin: &str, user: Option<(&str, &str)>) -> Result<Self, RuleError> {
        let base = parse_file("built-in rules", builtin)?;
        let user_name = user.map(|(o, _)| o);
        let user = user
            .map(|(o, t)| parse_file(o, t).map(|f| (o, f)))
            .transpose()?;
        let mut lists = base.lists;
        let mut specs: Vec<(Origin, RuleSpec)> = base
            .rules
            .into_iter()
            .map(|r| (Origin::Builtin, r))
            .collect();
        if let Some((origin, file)) = user {
            for (name, items) in file.lists {
                let list = lists.entry(name).or_default();
                for i in items {
                    if !list.contains(&i) {
                        list.push(i);
                    }
                }
            }
            for r in file.rules {
                match specs.iter_mut().find(|(_, s)| s.id == r.id) {
                    Some(slot) => *slot = (Origin::User, r),
                    None => specs.push((Origin::User, r)),
                }
            }
            for (id, conds) in file.allow {
                let Some((_, spec)) = specs.iter_mut().find(|(_, s)| s.id == id) else {
                    return Err(RuleError::Invalid {
                        origin: origin.to_string(),
                        message: format!("`allow` names rule `{id}`, which does not exist"),
                    });
                };
                spec.allow.extend(conds);
            }
            for id in &file.disable {
                if !specs.iter().any(|(_, s)| &s.id == id) {
                    return Err(RuleError::Invalid {
                        origin: origin.to_string(),
                        message: format!("`disable` names rule `{id}`, which does not exist"),
                    });
                }
            }
            specs.retain(|(_, s)| !file.disable.contains(&s.id));
        }
        let user_origin = user_name.unwrap_or("user rules");
        let rules = specs
            .into_iter()
            .map(|(origin, s)| {
                let name = match origin {
                    Origin::Builtin => "built-in rules",
                    Origin::User => user_origin,
                };
                compile_rule(origin, name, s, &lists)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { rules, lists })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn lists(&self) -> &BTreeMap<String, Vec<String>> {
        &self.lists
    }

    /// The rules that fire for this event.
    pub fn matching<'a>(&'a self, s: &'a Subject<'a>) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.matches(s))
    }
}

fn parse_file(origin: &str, text: &str) -> Result<RuleFile, RuleError> {
    if text.len() as u64 > MAX_RULE_FILE {
        return Err(RuleError::Parse {
            origin: origin.to_string(),
            message: format!("larger than {MAX_RULE_FILE} bytes"),
        });
    }
    let file: RuleFile = if text.trim().is_empty() {
        RuleFile::default()
    } else {
        serde_norway::from_str(text).map_err(|e| RuleError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?
    };
    let invalid = |message: String| RuleError::Invalid {
        origin: origin.to_string(),
        message,
    };
    let mut seen = std::collections::BTreeSet::new();
    for r in &file.rules {
        if !is_kebab(&r.id) {
            return Err(invalid(format!(
                "rule id `{}` is not kebab-case (a-z, 0-9, -)",
                r.id
            )));
        }
        if !seen.insert(r.id.as_str()) {
            return Err(invalid(format!("rule `{}` is defined twice", r.id)));
        }
        if let Some(m) = r.mitre.iter().find(|m| !is_technique(m)) {
            return Err(invalid(format!(
                "rule `{}`: `{m}` is not a MITRE ATT&CK technique id (T1234 or T1234.001)",
                r.id
            )));
        }
        if r.description.trim().is_empty() {
            return Err(invalid(format!("rule `{}` has no description", r.id)));
        }
    }
    for name in file.lists.keys() {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(invalid(format!(
                "list name `{name}` may hold only letters, digits, `_`, `-` and `.`"
            )));
        }
    }
    Ok(file)
}

fn compile_rule(
    origin: Origin,
    origin_name: &str,
    s: RuleSpec,
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<Rule, RuleError> {
    let compile_one = |what: &str, text: &str| -> Result<Expr, RuleError> {
        let fail = |pos: usize, message: String| {
            RuleError::Condition(Box::new(crate::error::ConditionError {
                origin: origin_name.to_string(),
                rule: s.id.clone(),
                what: what.to_string(),
                condition: text.trim_end().to_string(),
                pos,
                message,
            }))
        };
        let ast = lang::parse(text).map_err(|e| fail(e.pos, e.msg))?;
        expr::compile(&ast, s.event, lists).map_err(|e| fail(e.pos, e.msg))
    };
    let condition = compile_one("condition", &s.condition)?;
    let allow = s
        .allow
        .iter()
        .enumerate()
        .map(|(i, a)| compile_one(&format!("allow[{i}]"), a))
        .collect::<Result<_, _>>()?;
    Ok(Rule {
        id: s.id,
        description: s.description.trim().to_string(),
        severity: s.severity,
        mitre: s.mitre,
        event: s.event,
        origin,
        condition_text: s.condition.trim().to_string(),
        condition,
        allow,
    })
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_technique(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    match b {
        [b'T', rest @ ..] if rest.len() == 4 => digits(rest),
        [b'T', rest @ ..] if rest.len() == 8 => {
            let (a, c) = rest.split_at(4);
            digits(a) && c.first() == Some(&b'.') && digits(c.get(1..).unwrap_or_default())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
