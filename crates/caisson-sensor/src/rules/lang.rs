//! The condition language's syntax: a lexer and a recursive-descent parser
//! into an untyped [`Ast`]. Typing (which field takes which operator and
//! literal) is `compile`'s job. Untrusted input (user rule files): bounded
//! length, token count and nesting, no panics.
//!
//! ```text
//! expr      := or
//! or        := and ("or" and)*
//! and       := unary ("and" unary)*
//! unary     := "not" unary | "(" expr ")" | predicate
//! predicate := FIELD                       (a boolean field)
//!            | FIELD op value
//! op        := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
//!            | "in" | "startswith" | "endswith" | "contains" | "intersects"
//! value     := STRING | INT | "(" scalar ("," scalar)* ")" | "$" LIST-NAME
//! ```
#![deny(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

/// Longest condition accepted (bytes).
pub const MAX_CONDITION_LEN: usize = 16 * 1024;
/// Deepest nesting of parentheses and `not`.
pub const MAX_DEPTH: usize = 32;
/// Most tokens in one condition.
pub const MAX_TOKENS: usize = 4096;

/// A syntax error at a byte offset of the condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at offset {pos}: {msg}")]
pub struct SyntaxError {
    pub pos: usize,
    pub msg: String,
}

fn err<T>(pos: usize, msg: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        pos,
        msg: msg.into(),
    })
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    StartsWith,
    EndsWith,
    Contains,
    Intersects,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::In => "in",
            Op::StartsWith => "startswith",
            Op::EndsWith => "endswith",
            Op::Contains => "contains",
            Op::Intersects => "intersects",
        }
    }
}

/// A literal in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Str(String),
    Int(i64),
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Scalar(Scalar),
    List(Vec<Scalar>),
    /// `$name`: a named list from the rule file.
    ListRef(String),
}

/// The parsed, untyped condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ast {
    And(Vec<Ast>),
    Or(Vec<Ast>),
    Not(Box<Ast>),
    /// `field` alone (boolean) or `field op value`.
    Pred {
        pos: usize,
        field: String,
        cmp: Option<(Op, Value)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    ListRef(String),
    LParen,
    RParen,
    Comma,
    Sym(Op),
}

fn lex(src: &str) -> Result<Vec<(usize, Tok)>, SyntaxError> {
    if src.len() > MAX_CONDITION_LEN {
        return err(
            0,
            format!("condition longer than {MAX_CONDITION_LEN} bytes"),
        );
    }
    let mut out = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some(&(pos, c)) = it.peek() {
        if out.len() > MAX_TOKENS {
            return err(pos, format!("more than {MAX_TOKENS} tokens"));
        }
        let ident_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' | ')' | ',' => {
                it.next();
                out.push((
                    pos,
                    match c {
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        _ => Tok::Comma,
                    },
                ));
            }
            '=' | '!' | '<' | '>' => {
                it.next();
                let eq = it.next_if(|&(_, n)| n == '=').is_some();
                let op = match (c, eq) {
                    ('=', _) => Op::Eq,
                    ('!', true) => Op::Ne,
                    ('<', false) => Op::Lt,
                    ('<', true) => Op::Le,
                    ('>', false) => Op::Gt,
                    ('>', true) => Op::Ge,
                    _ => return err(pos, "`!` must be followed by `=` (use `not` to negate)"),
                };
                out.push((pos, Tok::Sym(op)));
            }
            '"' | '\'' => {
                it.next();
                let mut s = String::new();
                loop {
                    match it.next() {
                        None => return err(pos, "unterminated string"),
                        Some((_, q)) if q == c => break,
                        Some((p, '\\')) => match it.next() {
                            Some((_, e @ ('\\' | '"' | '\''))) => s.push(e),
                            _ => return err(p, "unknown escape (only \\\\, \\\" and \\')"),
                        },
                        Some((_, ch)) => s.push(ch),
                    }
                }
                out.push((pos, Tok::Str(s)));
            }
            '$' => {
                it.next();
                let mut s = String::new();
                while let Some((_, ch)) = it.next_if(|&(_, ch)| ident_char(ch)) {
                    s.push(ch);
                }
                if s.is_empty() {
                    return err(pos, "`$` must be followed by a list name");
                }
                out.push((pos, Tok::ListRef(s)));
            }
            c if c.is_ascii_digit() => {
                let mut s = String::new();
                while let Some((_, ch)) = it.next_if(|&(_, ch)| ch.is_ascii_digit()) {
                    s.push(ch);
                }
                match s.parse() {
                    Ok(n) => out.push((pos, Tok::Int(n))),
                    Err(_) => return err(pos, "integer out of range"),
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut s = String::new();
                while let Some((_, ch)) = it.next_if(|&(_, ch)| ident_char(ch)) {
                    s.push(ch);
                }
                out.push((pos, Tok::Ident(s)));
            }
            other => return err(pos, format!("unexpected character {other:?}")),
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
}

/// Parses a condition.
pub fn parse(src: &str) -> Result<Ast, SyntaxError> {
    let toks = lex(src)?;
    let mut p = Parser {
        toks,
        at: 0,
        end: src.len(),
    };
    let ast = p.or(0)?;
    if let Some((pos, t)) = p.toks.get(p.at) {
        return err(
            *pos,
            format!("unexpected {} after the end of the condition", describe(t)),
        );
    }
    Ok(ast)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Int(n) => format!("number {n}"),
        Tok::ListRef(s) => format!("`${s}`"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Sym(op) => format!("`{}`", op.as_str()),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn bump(&mut self) -> Option<(usize, Tok)> {
        let t = self.toks.get(self.at).cloned();
        if t.is_some() {
            self.at += 1;
        }
        t
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(s)) if s == kw) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self, depth: usize) -> Result<Ast, SyntaxError> {
        let mut items = vec![self.and(depth)?];
        while self.keyword("or") {
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Ast::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Ast, SyntaxError> {
        let mut items = vec![self.unary(depth)?];
        while self.keyword("and") {
            items.push(self.unary(depth)?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            Ast::And(items)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Ast, SyntaxError> {
        if depth >= MAX_DEPTH {
            return err(self.pos(), format!("nested deeper than {MAX_DEPTH}"));
        }
        if self.keyword("not") {
            return Ok(Ast::Not(Box::new(self.unary(depth + 1)?)));
        }
        let pos = self.pos();
        match self.bump() {
            Some((_, Tok::LParen)) => {
                let inner = self.or(depth + 1)?;
                match self.bump() {
                    Some((_, Tok::RParen)) => Ok(inner),
                    _ => err(pos, "`(` without a matching `)`"),
                }
            }
            Some((_, Tok::Ident(field))) if !is_keyword(&field) => self.predicate(pos, field),
            Some((p, t)) => err(
                p,
                format!("expected a field, `not` or `(`, found {}", describe(&t)),
            ),
            None => err(pos, "expected a field, `not` or `(`, found the end"),
        }
    }

    fn predicate(&mut self, pos: usize, field: String) -> Result<Ast, SyntaxError> {
        let op = match self.peek() {
            Some(Tok::Sym(op)) => Some(*op),
            Some(Tok::Ident(s)) => match s.as_str() {
                "in" => Some(Op::In),
                "startswith" => Some(Op::StartsWith),
                "endswith" => Some(Op::EndsWith),
                "contains" => Some(Op::Contains),
                "intersects" => Some(Op::Intersects),
                _ => None,
            },
            _ => None,
        };
        let Some(op) = op else {
            return Ok(Ast::Pred {
                pos,
                field,
                cmp: None,
            });
        };
        self.at += 1;
        let value = self.value()?;
        Ok(Ast::Pred {
            pos,
            field,
            cmp: Some((op, value)),
        })
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        let pos = self.pos();
        match self.bump() {
            Some((_, Tok::Str(s))) => Ok(Value::Scalar(Scalar::Str(s))),
            Some((_, Tok::Int(n))) => Ok(Value::Scalar(Scalar::Int(n))),
            Some((_, Tok::ListRef(s))) => Ok(Value::ListRef(s)),
            Some((_, Tok::LParen)) => {
                let mut items = Vec::new();
                loop {
                    match self.bump() {
                        Some((_, Tok::Str(s))) => items.push(Scalar::Str(s)),
                        Some((_, Tok::Int(n))) => items.push(Scalar::Int(n)),
                        Some((p, t)) => {
                            return err(
                                p,
                                format!(
                                    "expected a string or number in the list, found {}",
                                    describe(&t)
                                ),
                            )
                        }
                        None => return err(pos, "unterminated list"),
                    }
                    match self.bump() {
                        Some((_, Tok::Comma)) => continue,
                        Some((_, Tok::RParen)) => break,
                        Some((p, t)) => {
                            return err(
                                p,
                                format!("expected `,` or `)` in the list, found {}", describe(&t)),
                            )
                        }
                        None => return err(pos, "unterminated list"),
                    }
                }
                Ok(Value::List(items))
            }
            Some((p, Tok::Ident(s))) => err(
                p,
                format!("expected a value, found `{s}` (quote strings: \"{s}\")"),
            ),
            Some((p, t)) => err(p, format!("expected a value, found {}", describe(&t))),
            None => err(pos, "expected a value, found the end"),
        }
    }
}

fn is_keyword(s: &str) -> bool {
    matches!(
        s,
        "and" | "or" | "not" | "in" | "startswith" | "endswith" | "contains" | "intersects"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let a = parse(r#"container and proc.name = "sh" or not proc.tty != 0"#).unwrap();
        let Ast::Or(items) = a else { panic!("{a:?}") };
        assert!(matches!(&items[0], Ast::And(v) if v.len() == 2));
        assert!(matches!(&items[1], Ast::Not(_)));
    }

    #[test]
    fn lists_and_refs() {
        let a = parse(r#"proc.name in ("apt", 'apk') and proc.args intersects $install_verbs"#)
            .unwrap();
        let Ast::And(items) = a else { panic!() };
        assert_eq!(
            items[0],
            Ast::Pred {
                pos: 0,
                field: "proc.name".into(),
                cmp: Some((
                    Op::In,
                    Value::List(vec![Scalar::Str("apt".into()), Scalar::Str("apk".into())])
                ))
            }
        );
    }

    #[test]
    fn errors_name_the_offset() {
        for (src, pos) in [
            ("proc.name = sh", 12),
            ("(proc.name = \"a\"", 0),
            ("proc.name = \"a\" proc.exe", 16),
            ("proc.name !~ \"x\"", 10),
            ("", 0),
            ("and", 0),
            ("proc.name in (\"a\" \"b\")", 18),
        ] {
            let e = parse(src).unwrap_err();
            assert_eq!(e.pos, pos, "{src}: {e}");
        }
    }

    #[test]
    fn bounded_depth_and_length() {
        let deep = format!("{}container{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).unwrap_err().msg.contains("nested deeper"));
        let nots = format!("{} container", "not ".repeat(100));
        assert!(parse(&nots).is_err());
        let long = "container or ".repeat(2000) + "container";
        assert!(parse(&long).is_err());
    }
}
