//! Debian control-file stanzas (`Field: value`, continuation lines start with
//! a space or tab, stanzas separated by blank lines).

/// One stanza: fields in order, values with continuation lines joined by `\n`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stanza<'a> {
    pub fields: Vec<(&'a str, String)>,
    /// 1-based line where the stanza starts, for messages.
    pub line: usize,
}

impl<'a> Stanza<'a> {
    /// The value of a field, matched case-insensitively as dpkg does.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a control file into stanzas. Malformed lines (no colon, or a
/// continuation with no field) are reported by line number and skipped.
pub fn parse(text: &str) -> (Vec<Stanza<'_>>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut cur = Stanza::default();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            if !cur.fields.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if cur.fields.is_empty() {
            cur.line = lineno;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            match cur.fields.last_mut() {
                Some((_, v)) => {
                    v.push('\n');
                    v.push_str(line.trim());
                }
                None => errors.push(format!("line {lineno}: continuation line with no field")),
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((k, v)) if !k.is_empty() && !k.contains(' ') => {
                cur.fields.push((k, v.trim().to_string()));
            }
            _ => errors.push(format!("line {lineno}: expected `Field: value`")),
        }
    }
    if !cur.fields.is_empty() {
        out.push(cur);
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stanzas_with_continuations_and_reports_bad_lines() {
        let text =
            "Package: a\nDescription: x\n more\n\n\nPackage: b\nbogus line\n continuation ok\n";
        let (st, errs) = parse(text);
        assert_eq!(st.len(), 2);
        assert_eq!(st[0].get("description"), Some("x\nmore"));
        // A continuation after a rejected line joins the last good field.
        assert_eq!(st[1].get("Package"), Some("b\ncontinuation ok"));
        assert_eq!(st[1].line, 6);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("line 7"));
    }
}
