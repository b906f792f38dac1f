//! Just enough shell to read RUN lines: split a command line into simple
//! commands (at `&&`, `||`, `;`, `|`, newlines) and words (quotes removed).

/// One simple command's words, and whether it reads a pipe from the previous one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Simple {
    pub words: Vec<String>,
    pub piped: bool,
}

/// Splits `line` into simple commands.
pub fn commands(line: &str) -> Vec<Simple> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut piped = false;
    let mut chars = line.chars().peekable();
    let flush_word = |word: &mut String, words: &mut Vec<String>, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' && q == '"' {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            } else {
                word.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_word = true;
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    if n != '\n' {
                        word.push(n);
                        in_word = true;
                    }
                }
            }
            ' ' | '\t' => flush_word(&mut word, &mut words, &mut in_word),
            '&' | '|' | ';' | '\n' => {
                flush_word(&mut word, &mut words, &mut in_word);
                let next_piped = if c == '|' {
                    if chars.peek() == Some(&'|') {
                        chars.next();
                        false
                    } else {
                        true
                    }
                } else {
                    if c == '&' && chars.peek() == Some(&'&') {
                        chars.next();
                    }
                    false
                };
                if !words.is_empty() {
                    out.push(Simple {
                        words: std::mem::take(&mut words),
                        piped,
                    });
                }
                piped = next_piped;
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    flush_word(&mut word, &mut words, &mut in_word);
    if !words.is_empty() {
        out.push(Simple { words, piped });
    }
    out
}

impl Simple {
    /// The command name, skipping `sudo`, `env`, variable assignments.
    pub fn program(&self) -> Option<(&str, &[String])> {
        let mut i = 0;
        while let Some(w) = self.words.get(i) {
            let is_assign = w.contains('=')
                && w.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && w.split('=')
                    .next()
                    .is_some_and(|k| k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
            if w == "sudo" || w == "env" || w == "exec" || w == "nohup" || is_assign {
                i += 1;
                continue;
            }
            let name = w.rsplit('/').next().unwrap_or(w);
            return Some((name, self.words.get(i + 1..).unwrap_or_default()));
        }
        None
    }

    pub fn first(&self) -> Option<&str> {
        self.words.first().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_pipes() {
        let c =
            commands("apt-get update && apt-get install -y 'a b' | tee x; curl -s u |sh || true");
        let w: Vec<Vec<&str>> = c
            .iter()
            .map(|s| s.words.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(
            w,
            vec![
                vec!["apt-get", "update"],
                vec!["apt-get", "install", "-y", "a b"],
                vec!["tee", "x"],
                vec!["curl", "-s", "u"],
                vec!["sh"],
                vec!["true"],
            ]
        );
        assert!(c[2].piped && c[4].piped && !c[5].piped && !c[1].piped);
        assert_eq!(
            commands("sudo DEBIAN_FRONTEND=x /usr/bin/apt-get x")[0]
                .program()
                .map(|p| p.0),
            Some("apt-get")
        );
    }
}
