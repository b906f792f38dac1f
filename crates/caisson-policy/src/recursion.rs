//! Rego forbids recursion. regorus 0.14 reports it between rules, but recursion
//! through user-defined *functions* is not detected and overflows the evaluating
//! thread's stack — an abort of the whole process, which no timeout or
//! `catch_unwind` can stop. So the call graph of every function is checked when a
//! [`crate::PolicySet`] is built, and a cycle is a compile error, as in OPA
//! (`rego_recursion_error`).
//!
//! Calls are found by lexing each function's bodies: a (dotted) name directly
//! followed by `(`. Names resolve like Rego does for functions: `data.…` is
//! absolute, a leading import alias expands to its import, anything else is
//! relative to the module's package. Only names that are user functions count,
//! so built-ins (`count(`, `startswith(`) never create edges.

use std::collections::{BTreeMap, BTreeSet};

use regorus::unstable::{Expr, Lexer, Module, Rule, RuleHead, Source, Span, TokenKind};

use crate::PolicyError;

/// Function path (`data.pkg.f`) → (defining file, called function paths).
type Graph = BTreeMap<String, (String, BTreeSet<String>)>;

/// (function path, file, package path, import aliases, names called).
type RawFunction = (
    String,
    String,
    String,
    BTreeMap<String, String>,
    Vec<String>,
);

fn package_path(m: &Module) -> String {
    format!("data.{}", m.package.refr.span().text())
}

fn imports(m: &Module) -> BTreeMap<String, String> {
    let mut aliases = BTreeMap::new();
    for i in &m.imports {
        let path = i.refr.span().text().to_string();
        if !path.starts_with("data.") {
            continue;
        }
        let alias = match &i.r#as {
            Some(a) => a.text().to_string(),
            None => path.rsplit('.').next().unwrap_or_default().to_string(),
        };
        aliases.insert(alias, path);
    }
    aliases
}

/// Dotted names immediately followed by `(` in `span`'s text.
fn called_names(span: &Span) -> Vec<String> {
    let Ok(source) = Source::from_contents("<fn>".into(), span.text().to_string()) else {
        return Vec::new();
    };
    let mut lexer = Lexer::new(&source);
    let mut tokens: Vec<(bool, String, u32, u32)> = Vec::new(); // (is_ident, text, start, end)
    let mut names = Vec::new();
    while let Ok(tok) = lexer.next_token() {
        let kind = tok.0;
        if matches!(kind, TokenKind::Eof) {
            break;
        }
        let text = tok.1.text().to_string();
        let (start, end) = (tok.1.start, tok.1.end);
        if matches!(kind, TokenKind::Symbol) && text == "(" {
            let mut parts: Vec<&str> = Vec::new();
            let mut expect_end = start;
            let mut i = tokens.len();
            while i > 0 {
                let Some((is_ident, t, s, e)) = tokens.get(i - 1) else {
                    break;
                };
                if *e != expect_end {
                    break;
                }
                let want_ident = parts.len() % 2 == 0;
                if want_ident != *is_ident || (!want_ident && t != ".") {
                    break;
                }
                parts.push(t);
                expect_end = *s;
                i -= 1;
            }
            if parts.len() % 2 == 0 && !parts.is_empty() {
                parts.pop(); // a trailing '.' without an identifier before it
            }
            if !parts.is_empty() {
                parts.reverse();
                names.push(parts.concat());
            }
        }
        tokens.push((matches!(kind, TokenKind::Ident), text, start, end));
    }
    names
}

fn spans_of(rule: &Rule) -> Option<(&Expr, Vec<&Span>)> {
    let Rule::Spec { head, bodies, .. } = rule else {
        return None;
    };
    let RuleHead::Func { refr, assign, .. } = head else {
        return None;
    };
    let mut spans = Vec::new();
    if let Some(a) = assign {
        spans.push(a.value.span());
    }
    for b in bodies {
        spans.push(&b.span);
        if let Some(a) = &b.assign {
            spans.push(a.value.span());
        }
    }
    Some((refr, spans))
}

fn graph<'a>(modules: impl IntoIterator<Item = &'a Module>) -> Graph {
    let modules: Vec<&Module> = modules.into_iter().collect();
    // First every function's path, so calls resolve only to user functions.
    let mut raw: Vec<RawFunction> = Vec::new();
    for m in &modules {
        let pkg = package_path(m);
        let aliases = imports(m);
        let file = m.package.span.source.file().clone();
        for rule in &m.policy {
            if let Some((refr, spans)) = spans_of(rule) {
                let name = format!("{pkg}.{}", refr.span().text());
                let calls = spans.into_iter().flat_map(called_names).collect();
                raw.push((name, file.clone(), pkg.clone(), aliases.clone(), calls));
            }
        }
    }
    let defined: BTreeSet<String> = raw.iter().map(|r| r.0.clone()).collect();
    let mut g = Graph::new();
    for (name, file, pkg, aliases, calls) in raw {
        let entry = g.entry(name).or_insert_with(|| (file, BTreeSet::new()));
        for call in calls {
            let (head, rest) = call.split_once('.').unwrap_or((call.as_str(), ""));
            let target = if call.starts_with("data.") {
                call.clone()
            } else if let Some(path) = aliases.get(head) {
                if rest.is_empty() {
                    path.clone()
                } else {
                    format!("{path}.{rest}")
                }
            } else {
                format!("{pkg}.{call}")
            };
            if defined.contains(&target) {
                entry.1.insert(target);
            }
        }
    }
    g
}

/// The first cycle found, as a path `f → g → f`.
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Grey,
        Black,
    }
    let mut color: BTreeMap<&str, Color> = g.keys().map(|k| (k.as_str(), Color::White)).collect();
    for root in g.keys() {
        if color.get(root.as_str()) != Some(&Color::White) {
            continue;
        }
        // Iterative DFS: (node, its callees not yet visited).
        let mut stack: Vec<(&str, Vec<&str>)> = Vec::new();
        let callees = |n: &str| -> Vec<&str> {
            g.get(n)
                .map(|(_, c)| c.iter().map(String::as_str).collect())
                .unwrap_or_default()
        };
        color.insert(root, Color::Grey);
        stack.push((root, callees(root)));
        while let Some((node, pending)) = stack.last_mut() {
            let node: &str = node;
            match pending.pop() {
                Some(next) => match color.get(next).copied().unwrap_or(Color::Black) {
                    Color::White => {
                        color.insert(next, Color::Grey);
                        let c = callees(next);
                        stack.push((next, c));
                    }
                    Color::Grey => {
                        let start = stack.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> = stack
                            .iter()
                            .skip(start)
                            .map(|(n, _)| n.to_string())
                            .collect();
                        cycle.push(next.to_string());
                        return Some(cycle);
                    }
                    Color::Black => {}
                },
                None => {
                    color.insert(node, Color::Black);
                    stack.pop();
                }
            }
        }
    }
    None
}

/// Rejects recursive user-defined functions.
pub(crate) fn check<'a>(modules: impl IntoIterator<Item = &'a Module>) -> Result<(), PolicyError> {
    let g = graph(modules);
    match find_cycle(&g) {
        None => Ok(()),
        Some(cycle) => {
            let file = cycle
                .first()
                .and_then(|f| g.get(f))
                .map(|(file, _)| file.clone())
                .unwrap_or_default();
            Err(PolicyError::Rego {
                path: file,
                message: format!(
                    "recursion through functions is not allowed in Rego: {}",
                    cycle.join(" -> ")
                ),
            })
        }
    }
}
