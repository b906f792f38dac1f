//! Sorting declared licence strings into SPDX identifiers, SPDX expressions and
//! free text, and rendering them the way each format wants.

use serde::Serialize;

/// Deprecated identifiers that the SPDX License List spells with a `+`; the
/// `spdx` crate strips the `+` when looking ids up, so they are listed here.
const DEPRECATED_PLUS_IDS: [&str; 6] = [
    "GPL-1.0+",
    "GPL-2.0+",
    "GPL-3.0+",
    "LGPL-2.0+",
    "LGPL-2.1+",
    "LGPL-3.0+",
];

/// One declared licence string, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Declared {
    /// Exactly a license identifier on the SPDX License List (`MIT`, `GPL-2.0-only`).
    Id(String),
    /// A valid SPDX expression that is not a bare listed identifier
    /// (`MIT OR Apache-2.0`, `GPL-2.0+`, `LicenseRef-foo`).
    Expression(String),
    /// Anything else (`GPLv2+`, `public-domain`, `MIT and BSD`).
    Text(String),
}

impl Declared {
    pub(crate) fn classify(raw: &str) -> Declared {
        let s = raw.trim();
        if spdx::license_id(s).is_some_and(|l| l.name == s) || DEPRECATED_PLUS_IDS.contains(&s) {
            return Declared::Id(s.to_string());
        }
        // Strict mode: no lower-case operators, no `/`, no imprecise names.
        if spdx::Expression::parse(s).is_ok() {
            return Declared::Expression(s.to_string());
        }
        // `<listed id>+` is valid SPDX syntax ("or later") even where the parser's
        // strict mode refuses it for GNU licences.
        match s.strip_suffix('+') {
            Some(base) if spdx::license_id(base).is_some_and(|l| l.name == base) => {
                Declared::Expression(s.to_string())
            }
            _ => Declared::Text(s.to_string()),
        }
    }

    fn as_expression_term(&self) -> Option<String> {
        match self {
            Declared::Id(s) => Some(s.clone()),
            Declared::Expression(s) if s.contains(' ') => Some(format!("({s})")),
            Declared::Expression(s) => Some(s.clone()),
            Declared::Text(_) => None,
        }
    }
}

fn classify_all(licenses: &[String]) -> Vec<Declared> {
    let mut out: Vec<Declared> = Vec::new();
    // `NOASSERTION` / `NONE` say nothing about a licence; the `spdx` crate lists them
    // as identifiers, but CycloneDX does not.
    let meaningful = |l: &&String| !matches!(l.trim(), "" | "NOASSERTION" | "NONE");
    for l in licenses.iter().filter(meaningful) {
        let d = Declared::classify(l);
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// The conjunction of all declared licences as one SPDX expression, when every one
/// of them is an identifier or a valid expression.
fn conjunction(classified: &[Declared]) -> Option<String> {
    match classified {
        [] => None,
        [Declared::Id(s)] | [Declared::Expression(s)] => Some(s.clone()),
        many => {
            let terms: Option<Vec<String>> =
                many.iter().map(Declared::as_expression_term).collect();
            terms.map(|t| t.join(" AND "))
        }
    }
}

/// A CycloneDX `licenses[]` entry (`licenseChoice`).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum CdxLicenseChoice {
    License { license: CdxLicense },
    Expression { expression: String },
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct CdxLicense {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The license ids CycloneDX 1.6 accepts in `license.id`: the enum of the
/// official `spdx.schema.json` it references (SPDX License List 3.x as of the
/// 1.6 release). Newer ids the `spdx` crate knows must go in `license.name`,
/// or the document fails validation.
fn cyclonedx_knows(id: &str) -> bool {
    static IDS: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    IDS.get_or_init(|| {
        let schema: serde_json::Value = serde_json::from_str(include_str!(
            "../../../schemas/cyclonedx-1.6/spdx.schema.json"
        ))
        .unwrap_or_default();
        schema
            .get("enum")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    })
    .contains(id)
}

/// CycloneDX allows either a list of licenses (each with a listed `id` or a free
/// `name`) or exactly one `expression`. Expressions win when every declared value
/// is valid SPDX; otherwise everything is listed, expressions as names.
pub(crate) fn cyclonedx(licenses: &[String]) -> Vec<CdxLicenseChoice> {
    let classified = classify_all(licenses);
    let has_expression = classified
        .iter()
        .any(|d| matches!(d, Declared::Expression(_)));
    if has_expression {
        if let Some(expression) = conjunction(&classified) {
            return vec![CdxLicenseChoice::Expression { expression }];
        }
    }
    classified
        .into_iter()
        .map(|d| {
            let license = match d {
                Declared::Id(id) if cyclonedx_knows(&id) => CdxLicense {
                    id: Some(id),
                    name: None,
                },
                Declared::Id(s) | Declared::Expression(s) | Declared::Text(s) => CdxLicense {
                    id: None,
                    name: Some(s),
                },
            };
            CdxLicenseChoice::License { license }
        })
        .collect()
}

/// SPDX `licenseDeclared`: the conjunction of the declared licences when all are
/// valid and need no `hasExtractedLicensingInfos` (no `LicenseRef-`/`DocumentRef-`),
/// otherwise `NOASSERTION`.
pub(crate) fn spdx_declared(licenses: &[String]) -> String {
    conjunction(&classify_all(licenses))
        .filter(|e| !e.contains("LicenseRef-") && !e.contains("DocumentRef-"))
        .unwrap_or_else(|| "NOASSERTION".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classification() {
        assert_eq!(Declared::classify("MIT"), Declared::Id("MIT".into()));
        assert_eq!(
            Declared::classify(" GPL-2.0-only "),
            Declared::Id("GPL-2.0-only".into())
        );
        assert_eq!(
            Declared::classify("GPL-2.0+"),
            Declared::Id("GPL-2.0+".into())
        );
        assert!(matches!(
            Declared::classify("MPL-1.1+"),
            Declared::Expression(_)
        ));
        assert!(matches!(
            Declared::classify("GPL-2.0-only+"),
            Declared::Expression(_)
        ));
        assert!(matches!(
            Declared::classify("NotAThing+"),
            Declared::Text(_)
        ));
        assert!(matches!(
            Declared::classify("MIT OR Apache-2.0"),
            Declared::Expression(_)
        ));
        assert!(matches!(Declared::classify("GPLv2+"), Declared::Text(_)));
        assert!(matches!(
            Declared::classify("MIT and BSD"),
            Declared::Text(_)
        ));
        assert!(matches!(Declared::classify("mit"), Declared::Text(_)));
        assert!(matches!(
            Declared::classify("public-domain"),
            Declared::Text(_)
        ));
    }

    #[test]
    fn spdx_conjunction_and_noassertion() {
        assert_eq!(spdx_declared(&[]), "NOASSERTION");
        assert_eq!(spdx_declared(&v(&["MIT"])), "MIT");
        assert_eq!(
            spdx_declared(&v(&["MIT", "GPL-2.0-or-later OR BSD-3-Clause"])),
            "MIT AND (GPL-2.0-or-later OR BSD-3-Clause)"
        );
        assert_eq!(spdx_declared(&v(&["MIT", "GPLv2"])), "NOASSERTION");
        assert_eq!(spdx_declared(&v(&["LicenseRef-foo"])), "NOASSERTION");
        assert_eq!(
            spdx_declared(&v(&["NOASSERTION", "NONE", " "])),
            "NOASSERTION"
        );
        assert!(cyclonedx(&v(&["NOASSERTION"])).is_empty());
    }

    #[test]
    fn cyclonedx_choices() {
        let j = |xs: &[&str]| serde_json::to_string(&cyclonedx(&v(xs))).unwrap_or_default();
        assert_eq!(j(&["MIT", "MIT"]), r#"[{"license":{"id":"MIT"}}]"#);
        assert_eq!(
            j(&["MIT", "Apache-2.0 WITH LLVM-exception"]),
            r#"[{"expression":"MIT AND (Apache-2.0 WITH LLVM-exception)"}]"#
        );
        assert_eq!(
            j(&["MIT OR X11", "Artistic"]),
            r#"[{"license":{"name":"MIT OR X11"}},{"license":{"name":"Artistic"}}]"#
        );
        // Regression: the Debian fixture's perl declares `Artistic-dist`, listed by
        // SPDX after CycloneDX 1.6 froze its enum; as an `id` it fails the schema.
        assert!(Declared::classify("Artistic-dist") == Declared::Id("Artistic-dist".into()));
        assert_eq!(
            j(&["Artistic-dist"]),
            r#"[{"license":{"name":"Artistic-dist"}}]"#
        );
    }
}
