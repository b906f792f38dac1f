//! The human-readable table: findings grouped by package, a severity summary,
//! and what was suppressed or hidden, and why.
//!
//! ```text
//! source: oci:./app (oci)   os: Debian GNU/Linux 12 (bookworm)
//! 3 vulnerabilities: CRITICAL 1, HIGH 1, MEDIUM 1
//!
//! openssl 3.0.11-1~deb12u2 (deb)
//!   CVE-2024-0727  MEDIUM  3.0.13-1~deb12u1  PKCS12 NULL dereference
//! ```
//!
//! Names, versions and titles come from the image and the advisories, so
//! control characters are escaped rather than sent to the terminal.

use std::fmt::Write as _;
use std::io;

use caisson_match::ScanResults;
use caisson_model::{Finding, Sbom, Severity};
use unicode_width::UnicodeWidthStr;

use crate::{packages_by_id, severity_name, RenderOptions};

pub(crate) const BOLD: &str = "\x1b[1m";
pub(crate) const RESET: &str = "\x1b[0m";
const TITLE_MAX: usize = 80;

pub(crate) fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;31m",
        Severity::High => "\x1b[31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
        Severity::Negligible | Severity::Unknown => "\x1b[2m",
    }
}

/// Escapes control characters.
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn pad(s: &str, width: usize) -> String {
    let w = UnicodeWidthStr::width(s);
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}

const ORDER: [Severity; 6] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Negligible,
    Severity::Unknown,
];

fn summary(findings: &[Finding]) -> String {
    let parts: Vec<String> = ORDER
        .iter()
        .filter_map(|s| {
            let n = findings.iter().filter(|f| f.severity == *s).count();
            (n > 0).then(|| format!("{} {n}", severity_name(*s)))
        })
        .collect();
    let noun = if findings.len() == 1 {
        "vulnerability"
    } else {
        "vulnerabilities"
    };
    if parts.is_empty() {
        format!("0 {noun}")
    } else {
        format!("{} {noun}: {}", findings.len(), parts.join(", "))
    }
}

pub(crate) fn write(
    sbom: &Sbom,
    results: &ScanResults,
    opts: &RenderOptions,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let paint = |style: &str, s: &str| {
        if opts.color {
            format!("{style}{s}{RESET}")
        } else {
            s.to_string()
        }
    };
    let os = sbom.os.as_ref().map_or("unknown".to_string(), |os| {
        clean(os.pretty_name.as_deref().unwrap_or(&os.id))
    });
    let reference = match sbom.source.reference.as_str() {
        "" => "(unnamed)".to_string(),
        r => clean(r),
    };
    writeln!(
        out,
        "{} {reference} ({})   {} {os}",
        paint(BOLD, "source:"),
        clean(&sbom.source.kind),
        paint(BOLD, "os:")
    )?;
    writeln!(out, "{}", summary(&results.findings))?;

    let rows: Vec<[String; 4]> = results
        .findings
        .iter()
        .map(|f| {
            [
                clean(&id_with_records(f)),
                severity_name(f.severity).to_string(),
                if f.fixed_versions.is_empty() {
                    "(no fix)".to_string()
                } else {
                    clean(&f.fixed_versions.join(", "))
                },
                truncate(&clean(f.title.as_deref().unwrap_or("")), TITLE_MAX),
            ]
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .filter_map(|r| r.get(i))
            .map(|c| UnicodeWidthStr::width(c.as_str()))
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];

    let by_id = packages_by_id(sbom);
    let mut current: Option<&str> = None;
    for (f, row) in results.findings.iter().zip(&rows) {
        if current != Some(f.package_id.as_str()) {
            current = Some(f.package_id.as_str());
            let ty = by_id
                .get(f.package_id.as_str())
                .map(|p| format!(" ({})", p.package_type))
                .unwrap_or_default();
            writeln!(out)?;
            writeln!(
                out,
                "{}",
                paint(
                    BOLD,
                    &format!(
                        "{} {}{ty}",
                        clean(&f.package_name),
                        clean(&f.installed_version)
                    )
                )
            )?;
        }
        let [id, sev, fixed, title] = row;
        let mut line = format!("  {}  ", pad(id, widths[0]));
        let _ = write!(
            line,
            "{}  {}  {title}",
            paint(colour(f.severity), &pad(sev, widths[1])),
            pad(fixed, widths[2])
        );
        writeln!(out, "{}", line.trim_end())?;
    }

    if !results.suppressed.is_empty() {
        let count = |k: &str| {
            results
                .suppressed
                .iter()
                .filter(|s| s.suppression.kind == k)
                .count()
        };
        writeln!(out)?;
        writeln!(
            out,
            "Suppressed: {} (ignore file: {}, VEX: {})",
            results.suppressed.len(),
            count("ignore-file"),
            count("vex")
        )?;
        for s in &results.suppressed {
            let status = s
                .suppression
                .status
                .as_deref()
                .map(|st| format!(" {st}"))
                .unwrap_or_default();
            writeln!(
                out,
                "  {} in {} {}: {}{status}: {} ({})",
                clean(&id_with_records(&s.finding)),
                clean(&s.finding.package_name),
                clean(&s.finding.installed_version),
                s.suppression.kind,
                truncate(&clean(&s.suppression.justification), TITLE_MAX),
                clean(&s.suppression.origin)
            )?;
        }
    }
    if results.os_owned_packages > 0 {
        writeln!(out)?;
        let how = match results.os_owned {
            caisson_match::OsOwnedMatching::OsAdvisoriesOnly => {
                "matched through their OS packages' advisories only \
                 (--match-os-owned-language-packages adds their language advisories)"
            }
            caisson_match::OsOwnedMatching::OsAndLanguageAdvisories => {
                "matched against their OS packages' and their language advisories \
                 (--match-os-owned-language-packages)"
            }
        };
        writeln!(
            out,
            "Note: {} language packages installed by OS packages, {how}",
            results.os_owned_packages
        )?;
    }
    if results.hidden_by_severity > 0 || results.hidden_unfixed > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "Hidden: {} outside the --severity filter, {} with no fix (--ignore-unfixed)",
            results.hidden_by_severity, results.hidden_unfixed
        )?;
    }
    Ok(())
}

/// The finding's id, followed by the ids of the records that matched when
/// the id is not one of them: `CVE-2020-15190 (PYSEC-2020-270)`.
fn id_with_records(f: &caisson_model::Finding) -> String {
    let others: Vec<&str> = f
        .records
        .iter()
        .map(String::as_str)
        .filter(|r| *r != f.id)
        .collect();
    if others.is_empty() || f.records.contains(&f.id) {
        f.id.clone()
    } else {
        format!("{} ({})", f.id, others.join(", "))
    }
}
