//! The rule file format (TOML, `docs/secrets.md`) and compiling it into a
//! [`RuleSet`].

use std::collections::BTreeSet;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use caisson_model::Severity;
use regex::bytes::Regex;
use serde::Deserialize;

use crate::RuleError;

/// The built-in rules, embedded at build time.
pub const BUILTIN_RULES: &str = include_str!("rules.toml");

/// Default largest file scanned (bytes); larger files are skipped.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 << 20;

/// A rule file as written: the built-in one or a user's.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleFile {
    /// Built-in rule ids to turn off (user files only).
    #[serde(default)]
    pub disable: Vec<String>,
    /// Largest file to scan, in bytes.
    #[serde(default)]
    pub max_file_size: Option<u64>,
    #[serde(default)]
    pub allow: AllowSpec,
    #[serde(default)]
    pub rule: Vec<RuleSpec>,
}

/// Global allow rules: paths never scanned and secrets never reported.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSpec {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RuleSpec {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub regex: String,
    /// Minimum Shannon entropy (bits per byte) of the secret.
    #[serde(default)]
    pub entropy: Option<f64>,
    /// When set, the rule only applies to paths matching one of these.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Secrets (regexes) this rule does not report.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Ignore matches on comment lines (`#`, `//`, `/*`, `*`, `--`, `;`).
    #[serde(default)]
    pub skip_comments: bool,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub keywords: Vec<String>,
    pub entropy: Option<f64>,
    pub skip_comments: bool,
    pub(crate) regex: Regex,
    pub(crate) paths: Vec<Regex>,
    pub(crate) allow: Vec<Regex>,
}

impl Rule {
    /// The rule's regex as written.
    pub fn pattern(&self) -> &str {
        self.regex.as_str()
    }

    pub(crate) fn applies_to(&self, path: &str) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| p.is_match(path.as_bytes()))
    }
}

/// The compiled rules, prefilter and allow-lists.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<Rule>,
    pub(crate) prefilter: AhoCorasick,
    /// For each prefilter pattern, the rules it selects.
    pub(crate) pattern_rules: Vec<Vec<usize>>,
    /// Rules without keywords (path-limited): always run when the path applies.
    pub(crate) unfiltered: Vec<usize>,
    pub(crate) allow_paths: Vec<Regex>,
    pub(crate) allow_secrets: Vec<Regex>,
    pub max_file_size: u64,
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
}

fn compile(origin: &str, what: &str, pattern: &str) -> Result<Regex, RuleError> {
    regex::bytes::RegexBuilder::new(pattern)
        .size_limit(16 << 20)
        .build()
        .map_err(|source| RuleError::Regex {
            origin: origin.to_string(),
            what: what.to_string(),
            source,
        })
}

fn parse(origin: &str, text: &str) -> Result<RuleFile, RuleError> {
    toml::from_str(text).map_err(|source| RuleError::Parse {
        origin: origin.to_string(),
        source: Box::new(source),
    })
}

impl RuleSet {
    /// The built-in rules only.
    pub fn builtin() -> RuleSet {
        // The embedded file is checked by the `builtin_rules_compile` test.
        #[allow(clippy::expect_used)]
        Self::with_user(None).expect("the built-in rules compile")
    }

    /// The built-in rules combined with a user rule file (`origin` names it in
    /// errors): its `disable` list turns built-in rules off, its rules are
    /// added (an id that already exists replaces the built-in rule), its
    /// allow-lists extend the built-in ones.
    pub fn with_user(user: Option<(&str, &str)>) -> Result<RuleSet, RuleError> {
        let builtin = parse("built-in rules", BUILTIN_RULES)?;
        let user = match user {
            Some((origin, text)) => Some((origin, parse(origin, text)?)),
            None => None,
        };
        Self::build(builtin, user)
    }

    fn build(builtin: RuleFile, user: Option<(&str, RuleFile)>) -> Result<RuleSet, RuleError> {
        let mut specs: Vec<(String, RuleSpec)> = builtin
            .rule
            .into_iter()
            .map(|r| ("built-in rules".to_string(), r))
            .collect();
        let mut allow = builtin.allow;
        let mut max_file_size = builtin.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE);
        if let Some((origin, file)) = user {
            let known: BTreeSet<&str> = specs.iter().map(|(_, r)| r.id.as_str()).collect();
            for id in &file.disable {
                if !known.contains(id.as_str()) {
                    return Err(RuleError::UnknownRule {
                        origin: origin.to_string(),
                        id: id.clone(),
                    });
                }
            }
            specs.retain(|(_, r)| !file.disable.contains(&r.id));
            for r in file.rule {
                specs.retain(|(_, s)| s.id != r.id);
                specs.push((origin.to_string(), r));
            }
            allow.paths.extend(file.allow.paths);
            allow.secrets.extend(file.allow.secrets);
            if let Some(m) = file.max_file_size {
                max_file_size = m;
            }
        }
        let mut rules = Vec::with_capacity(specs.len());
        let mut seen = BTreeSet::new();
        for (origin, s) in specs {
            if !is_kebab(&s.id) {
                return Err(RuleError::Invalid {
                    origin,
                    id: s.id,
                    reason: "ids are kebab-case (a-z, 0-9, -)".into(),
                });
            }
            if !seen.insert(s.id.clone()) {
                return Err(RuleError::Invalid {
                    origin,
                    id: s.id,
                    reason: "the id is used twice".into(),
                });
            }
            if s.keywords.is_empty() && s.paths.is_empty() {
                return Err(RuleError::Invalid {
                    origin,
                    id: s.id,
                    reason: "a rule needs keywords, or paths that limit it".into(),
                });
            }
            if s.keywords.iter().any(String::is_empty) {
                return Err(RuleError::Invalid {
                    origin,
                    id: s.id,
                    reason: "a keyword is empty".into(),
                });
            }
            let what = |w: &str| format!("{} of rule {}", w, s.id);
            let regex = compile(&origin, &what("regex"), &s.regex)?;
            let paths = s
                .paths
                .iter()
                .map(|p| compile(&origin, &what("paths"), p))
                .collect::<Result<_, _>>()?;
            let allow_rx = s
                .allow
                .iter()
                .map(|p| compile(&origin, &what("allow"), p))
                .collect::<Result<_, _>>()?;
            rules.push(Rule {
                id: s.id,
                title: s.title,
                severity: s.severity,
                keywords: s.keywords,
                entropy: s.entropy,
                skip_comments: s.skip_comments,
                regex,
                paths,
                allow: allow_rx,
            });
        }
        let mut patterns: Vec<String> = Vec::new();
        let mut pattern_rules: Vec<Vec<usize>> = Vec::new();
        let mut unfiltered = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if r.keywords.is_empty() {
                unfiltered.push(i);
            }
            for k in &r.keywords {
                let k = k.to_ascii_lowercase();
                match patterns.iter().position(|p| *p == k) {
                    Some(p) => {
                        if let Some(v) = pattern_rules.get_mut(p) {
                            v.push(i);
                        }
                    }
                    None => {
                        patterns.push(k);
                        pattern_rules.push(vec![i]);
                    }
                }
            }
        }
        let prefilter = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .map_err(|e| RuleError::Invalid {
                origin: "rules".into(),
                id: "*".into(),
                reason: format!("the keyword prefilter cannot be built: {e}"),
            })?;
        let global = |w: &str, v: &[String]| -> Result<Vec<Regex>, RuleError> {
            v.iter()
                .map(|p| compile("allow-list", w, p))
                .collect::<Result<_, _>>()
        };
        Ok(RuleSet {
            rules,
            prefilter,
            pattern_rules,
            unfiltered,
            allow_paths: global("allow.paths", &allow.paths)?,
            allow_secrets: global("allow.secrets", &allow.secrets)?,
            max_file_size,
        })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Whether `path` is on the allow-list (never scanned).
    pub fn path_allowed(&self, path: &str) -> bool {
        self.allow_paths.iter().any(|r| r.is_match(path.as_bytes()))
    }
}
