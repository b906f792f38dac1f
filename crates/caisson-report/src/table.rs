//! The human-readable table.
//!
//! ```text
//! source: oci:./debian:12 (oci)   os: Debian GNU/Linux 12 (bookworm)
//! NAME        VERSION            TYPE  SOURCE  LAYER
//! base-files  12.4+deb12u5       deb           0
//! ```
//!
//! Names and versions come from the image, so control characters are escaped
//! rather than sent to the terminal.

use std::fmt::Write as _;
use std::io;

use caisson_model::Sbom;
use unicode_width::UnicodeWidthStr;

use crate::{display_version, sorted_packages, RenderOptions};

const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";
const GAP: usize = 2;

pub(crate) fn write(sbom: &Sbom, opts: &RenderOptions, out: &mut dyn io::Write) -> io::Result<()> {
    let paint = |style: &str, s: &str| {
        if opts.color {
            format!("{style}{s}{RESET}")
        } else {
            s.to_string()
        }
    };

    let os = match &sbom.os {
        Some(os) => match (&os.pretty_name, &os.version_id) {
            (Some(pretty), _) => clean(pretty),
            (None, Some(v)) => format!("{} {}", clean(&os.id), clean(v)),
            (None, None) => clean(&os.id),
        },
        None => "unknown".to_string(),
    };
    let reference = match sbom.source.reference.as_str() {
        "" => "(unnamed)".to_string(),
        r => clean(r),
    };
    let mut header = format!(
        "{} {reference} ({})   {} {os}",
        paint(BOLD, "source:"),
        clean(&sbom.source.kind),
        paint(BOLD, "os:"),
    );
    if let Some(d) = &sbom.source.manifest_digest {
        let _ = write!(header, "   {} {}", paint(BOLD, "digest:"), clean(d));
    }
    writeln!(out, "{header}")?;

    let packages = sorted_packages(sbom);
    if packages.is_empty() {
        return writeln!(out, "No packages found.");
    }

    let with_source = packages.iter().any(|p| p.source_name.is_some());
    // ARCH appears only when it is needed to tell rows apart (multiarch installs).
    let with_arch = packages.windows(2).any(|w| match w {
        [a, b] => (&a.name, &a.version, a.package_type) == (&b.name, &b.version, b.package_type),
        _ => false,
    });
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(packages.len());
    for p in &packages {
        let mut row = vec![
            clean(&p.name),
            clean(&display_version(p)),
            p.package_type.to_string(),
        ];
        if with_arch {
            row.push(p.arch.as_deref().map_or(String::new(), clean));
        }
        if with_source {
            row.push(match (&p.source_name, &p.source_version) {
                (Some(n), Some(v)) => format!("{} ({})", clean(n), clean(v)),
                (Some(n), None) => clean(n),
                (None, _) => String::new(),
            });
        }
        row.push(
            p.layer
                .as_ref()
                .map_or("-".to_string(), |l| l.index.to_string()),
        );
        rows.push(row);
    }
    let mut titles = vec!["NAME", "VERSION", "TYPE"];
    if with_arch {
        titles.push("ARCH");
    }
    if with_source {
        titles.push("SOURCE");
    }
    titles.push("LAYER");

    let mut widths: Vec<usize> = titles.iter().map(|t| t.width()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }

    let titles: Vec<String> = titles.iter().map(|t| t.to_string()).collect();
    let line = format_row(&titles, &widths);
    writeln!(out, "{}", paint(BOLD, &line))?;
    for row in &rows {
        writeln!(out, "{}", format_row(row, &widths))?;
    }
    if !sbom.warnings.is_empty() {
        let n = sbom.warnings.len();
        let msg = format!(
            "{n} warning{} while cataloging (see the json output)",
            if n == 1 { "" } else { "s" }
        );
        writeln!(out, "{}", paint(DIM, &msg))?;
    }
    Ok(())
}

fn format_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    let last = cells.len().saturating_sub(1);
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        line.push_str(cell);
        if i < last {
            let pad = w.saturating_sub(cell.width()) + GAP;
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    line.truncate(line.trim_end().len());
    line
}

/// Escapes control characters (ESC, CR, newlines, C1 controls) as `\u{…}`.
fn clean(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_control_sequences() {
        assert_eq!(clean("evil\x1b[31mred\n"), "evil\\u{1b}[31mred\\u{a}");
        assert_eq!(clean("zürich-日本"), "zürich-日本");
    }

    #[test]
    fn pads_by_display_width() {
        let widths = [4, 3];
        let row = vec!["日本".to_string(), "x".to_string()];
        assert_eq!(format_row(&row, &widths), "日本  x");
    }
}
