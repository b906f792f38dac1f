//! `WWW-Authenticate` challenge parsing (RFC 7235 §4.1), tolerant of what
//! registries actually send: several challenges in one header, quoted strings
//! holding commas and escaped quotes, odd spacing, unknown schemes.

/// One challenge: a scheme (lowercased) and its parameters (names lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The first parameter named `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos..).and_then(|r| r.chars().next())
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }
    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }
    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | ',')) {
            self.bump();
        }
    }
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.bump();
        }
        self.s.get(start..self.pos).unwrap_or("")
    }
    fn quoted(&mut self) -> String {
        // Opening quote already consumed. An unterminated string runs to the end.
        let mut out = String::new();
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(e) = self.bump() {
                        out.push(e);
                    }
                }
                c => out.push(c),
            }
        }
        out
    }
    /// Skips to the next top-level comma (used to recover from junk).
    fn skip_junk(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ',' => break,
                '"' => {
                    self.bump();
                    self.quoted();
                }
                _ => {
                    self.bump();
                }
            }
        }
    }
}

/// Parses one `WWW-Authenticate` header value into its challenges. Never fails:
/// unparseable parts are skipped.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut cur = Cursor { s: header, pos: 0 };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        cur.skip_ws_and_commas();
        if cur.peek().is_none() {
            break;
        }
        let scheme = cur.token();
        if scheme.is_empty() {
            // Not a token where a scheme should be: skip to the next comma.
            cur.bump();
            cur.skip_junk();
            continue;
        }
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        // Parameters until a token that is not followed by '=' (the next scheme).
        loop {
            let before = cur.pos;
            cur.skip_ws_and_commas();
            if cur.peek().is_none() {
                break;
            }
            let name = cur.token();
            if name.is_empty() {
                cur.bump();
                cur.skip_junk();
                continue;
            }
            cur.skip_ws();
            if cur.peek() != Some('=') {
                // A token not followed by '=' starts the next challenge (or is a
                // token68 blob, which registries do not send; it then reads as a
                // scheme of its own, harmlessly).
                cur.pos = before;
                break;
            }
            cur.bump(); // '='
            cur.skip_ws();
            let value = if cur.peek() == Some('"') {
                cur.bump();
                cur.quoted()
            } else {
                let start = cur.pos;
                while let Some(c) = cur.peek() {
                    if c == ',' || c == ' ' || c == '\t' {
                        break;
                    }
                    cur.bump();
                }
                cur.s.get(start..cur.pos).unwrap_or("").to_string()
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
        }
        out.push(challenge);
    }
    out
}

/// Parses every `WWW-Authenticate` header of a response.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Vec<Challenge> {
    values
        .into_iter()
        .flat_map(|v| parse_challenges(&String::from_utf8_lossy(v)))
        .collect()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn one(s: &str) -> Challenge {
        let mut v = parse_challenges(s);
        assert_eq!(v.len(), 1, "{s}: {v:?}");
        v.remove(0)
    }

    #[test]
    fn docker_bearer_challenge() {
        let c = one(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        );
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(c.param("service"), Some("registry.docker.io"));
        assert_eq!(c.param("scope"), Some("repository:library/alpine:pull"));
    }

    #[test]
    fn quoted_commas_escapes_and_spacing() {
        let c = one(
            r#"bearer  realm = "https://h/t?a=1,b=2" , scope="repository:a/b:pull,push", error="say \"hi\"",service=reg"#,
        );
        assert_eq!(c.param("realm"), Some("https://h/t?a=1,b=2"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull,push"));
        assert_eq!(c.param("error"), Some("say \"hi\""));
        assert_eq!(c.param("SERVICE"), Some("reg"));
    }

    #[test]
    fn several_challenges_in_one_header() {
        let v = parse_challenges(
            r#"Basic realm="Registry Realm", Bearer realm="https://t/x",service="s", Negotiate"#,
        );
        let schemes: Vec<&str> = v.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["basic", "bearer", "negotiate"]);
        assert_eq!(v[0].param("realm"), Some("Registry Realm"));
        assert_eq!(v[1].param("service"), Some("s"));
        let v = parse_challenges("Negotiate, Basic realm=x");
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].param("realm"), Some("x"));
    }

    #[test]
    fn junk_does_not_panic() {
        for s in [
            "",
            ",,,",
            "=",
            "\"",
            "Bearer realm=\"unterminated",
            "Bearer ===,=\"\",",
            "Bearer realm",
            "Basic abc==",
            "ü Bearer realm=x",
            "Bearer realm=\"\\",
        ] {
            let _ = parse_challenges(s);
        }
        assert_eq!(one("Basic").scheme, "basic");
        assert_eq!(
            one("Bearer realm=\"https://x").param("realm"),
            Some("https://x")
        );
    }
}
