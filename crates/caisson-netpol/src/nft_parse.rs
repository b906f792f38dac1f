//! Reads back the subset of nft syntax that `learn` writes (and hand edits
//! in the same form): `table`/`delete table` lines, one `table inet …`
//! block with named counters, address sets and chains whose rules match
//! `ip`/`ip6` `saddr`/`daddr` (set, address, network or `{ list }`),
//! `tcp`/`udp`/`sctp dport` (port, range or list), `ip protocol`,
//! `ip6 nexthdr`, `meta l4proto`, `ct state`, with `counter`, `log`,
//! `comment` and an `accept`/`drop`/`reject` verdict. Anything else is an
//! error naming its line: `check` must not guess what a rule does.

use std::str::FromStr;

use ipnet::IpNet;

use crate::error::Error;
use crate::nft::{AddrMatch, AddrSet, Rule, RuleVerdict, Ruleset};

/// Largest ruleset read.
pub const MAX_TEXT: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Comma,
    End,
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, (usize, String)> {
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                out.push((Tok::End, line));
                line += 1;
            }
            ';' => out.push((Tok::End, line)),
            '{' => out.push((Tok::Open, line)),
            '}' => out.push((Tok::Close, line)),
            ',' => out.push((Tok::Comma, line)),
            '#' => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '"' => {
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\n') | None => return Err((line, "unterminated string".into())),
                        Some(c) => s.push(c),
                    }
                }
                out.push((Tok::Str(s), line));
            }
            c if c.is_whitespace() => {}
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, ';' | '{' | '}' | ',' | '"' | '#') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                out.push((Tok::Word(s), line));
            }
        }
    }
    out.push((Tok::End, line));
    Ok(out)
}

struct P<'a> {
    toks: &'a [(Tok, usize)],
    at: usize,
}

type R<T> = Result<T, (usize, String)>;

impl P<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.at).map_or(&Tok::End, |t| &t.0)
    }
    fn line(&self) -> usize {
        self.toks
            .get(self.at)
            .or(self.toks.last())
            .map_or(0, |t| t.1)
    }
    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.at += 1;
        t
    }
    fn done(&self) -> bool {
        self.at >= self.toks.len()
    }
    fn fail<T>(&self, msg: impl Into<String>) -> R<T> {
        Err((self.line(), msg.into()))
    }
    fn word(&mut self) -> R<String> {
        match self.next() {
            Tok::Word(w) => Ok(w),
            t => Err((self.line(), format!("expected a word, found {t:?}"))),
        }
    }
    fn text(&mut self) -> R<String> {
        match self.next() {
            Tok::Word(w) | Tok::Str(w) => Ok(w),
            t => Err((
                self.line(),
                format!("expected a name or string, found {t:?}"),
            )),
        }
    }
    fn expect(&mut self, t: Tok) -> R<()> {
        let line = self.line();
        let got = self.next();
        if got == t {
            Ok(())
        } else {
            Err((line, format!("expected {t:?}, found {got:?}")))
        }
    }
    fn skip_ends(&mut self) {
        while !self.done() && *self.peek() == Tok::End {
            self.at += 1;
        }
    }
    /// `{ a, b, … }` or one item.
    fn list(&mut self) -> R<Vec<String>> {
        if *self.peek() != Tok::Open {
            return Ok(vec![self.word()?]);
        }
        self.at += 1;
        let mut v = Vec::new();
        loop {
            match self.next() {
                Tok::Close => return Ok(v),
                Tok::Comma | Tok::End => {}
                Tok::Word(w) => v.push(w),
                t => return Err((self.line(), format!("unexpected {t:?} in a list"))),
            }
        }
    }
}

fn net(s: &str, line: usize) -> R<IpNet> {
    IpNet::from_str(s)
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| (line, format!("{s:?} is not an address or network")))
}

fn port_range(s: &str, line: usize) -> R<(u16, u16)> {
    let bad = || (line, format!("{s:?} is not a port or port range"));
    match s.split_once('-') {
        Some((a, b)) => Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)),
        None => {
            let p = s.parse().map_err(|_| bad())?;
            Ok((p, p))
        }
    }
}

/// Parses a ruleset (see the module documentation for the syntax read).
pub fn parse(text: &str, source_name: &str) -> Result<Ruleset, Error> {
    let err = |(line, reason): (usize, String)| Error::Nft {
        source_name: source_name.to_string(),
        line,
        reason,
    };
    if text.len() > MAX_TEXT {
        return Err(err((0, format!("larger than {MAX_TEXT} bytes"))));
    }
    let toks = lex(text).map_err(err)?;
    let mut p = P { toks: &toks, at: 0 };
    let mut rs = Ruleset::default();
    top(&mut p, &mut rs).map_err(err)?;
    Ok(rs)
}

fn top(p: &mut P, rs: &mut Ruleset) -> R<()> {
    loop {
        p.skip_ends();
        if p.done() {
            return Ok(());
        }
        match p.word()?.as_str() {
            "delete" | "flush" => {
                // `delete table inet caisson`, `flush ruleset`: no effect on the decision.
                while !matches!(p.peek(), Tok::End) {
                    p.next();
                }
            }
            "table" | "add" => {
                let mut words = 0;
                while let Tok::Word(_) = p.peek() {
                    p.next();
                    words += 1;
                    if words > 3 {
                        return p.fail("table: expected `table FAMILY NAME`");
                    }
                }
                if *p.peek() == Tok::Open {
                    p.next();
                    table_body(p, rs)?;
                }
            }
            other => return p.fail(format!("unknown statement {other:?}")),
        }
    }
}

fn table_body(p: &mut P, rs: &mut Ruleset) -> R<()> {
    loop {
        p.skip_ends();
        match p.next() {
            Tok::Close => return Ok(()),
            Tok::Word(w) if w == "counter" => {
                p.text()?;
                p.expect(Tok::Open)?;
                loop {
                    match p.next() {
                        Tok::Close => break,
                        Tok::End if p.done() => return p.fail("unterminated counter"),
                        _ => {}
                    }
                }
            }
            Tok::Word(w) if w == "set" => {
                let name = p.text()?;
                p.expect(Tok::Open)?;
                let set = set_body(p)?;
                rs.sets.insert(name, set);
            }
            Tok::Word(w) if w == "chain" => {
                p.text()?;
                p.expect(Tok::Open)?;
                chain_body(p, rs)?;
            }
            Tok::End => return p.fail("unterminated table"),
            t => return p.fail(format!("unexpected {t:?} in a table")),
        }
    }
}

fn set_body(p: &mut P) -> R<AddrSet> {
    let mut set = AddrSet::default();
    loop {
        p.skip_ends();
        match p.next() {
            Tok::Close => return Ok(set),
            Tok::Word(w) => match w.as_str() {
                "type" => {
                    let ty = p.word()?;
                    if ty != "ipv4_addr" && ty != "ipv6_addr" {
                        return p.fail(format!("set type {ty:?}: only address sets are read"));
                    }
                }
                "flags" => {
                    while matches!(p.peek(), Tok::Word(_) | Tok::Comma) {
                        p.next();
                    }
                }
                "comment" => set.comment = Some(p.text()?),
                "elements" => {
                    if p.word()? != "=" {
                        return p.fail("expected `elements = { … }`");
                    }
                    let line = p.line();
                    for e in p.list()? {
                        set.elements.push(net(&e, line)?);
                    }
                }
                other => return p.fail(format!("unknown set property {other:?}")),
            },
            t => return p.fail(format!("unexpected {t:?} in a set")),
        }
    }
}

fn chain_body(p: &mut P, rs: &mut Ruleset) -> R<()> {
    loop {
        p.skip_ends();
        if p.done() {
            return p.fail("unterminated chain");
        }
        match p.peek().clone() {
            Tok::Close => {
                p.next();
                return Ok(());
            }
            Tok::Word(w) if w == "type" || w == "policy" => {
                // The chain's hook and policy. Only `policy accept` matches
                // what the decision assumes for unmatched connections.
                p.next();
                let mut words = Vec::new();
                while let Tok::Word(x) = p.peek().clone() {
                    words.push(x);
                    p.next();
                }
                if w == "policy" && words.first().map(String::as_str) != Some("accept") {
                    return p.fail("only `policy accept` chains are read");
                }
            }
            _ => rs.rules.push(rule(p)?),
        }
    }
}

fn rule(p: &mut P) -> R<Rule> {
    let mut r = Rule {
        line: p.line(),
        family: None,
        src: None,
        dst: None,
        proto: None,
        dports: None,
        ct_state: false,
        verdict: None,
        log_prefix: None,
        comment: None,
    };
    loop {
        let line = p.line();
        match p.next() {
            Tok::End => return Ok(r),
            Tok::Close => {
                p.at -= 1;
                return Ok(r);
            }
            Tok::Word(w) => match w.as_str() {
                "ip" | "ip6" => {
                    r.family = Some(if w == "ip" { 4 } else { 6 });
                    match p.word()?.as_str() {
                        "saddr" => r.src = Some(addr_match(p)?),
                        "daddr" => r.dst = Some(addr_match(p)?),
                        "protocol" | "nexthdr" => r.proto = Some(p.word()?),
                        other => return p.fail(format!("unknown match `{w} {other}`")),
                    }
                }
                "meta" => {
                    if p.word()? != "l4proto" {
                        return p.fail("only `meta l4proto` is read");
                    }
                    r.proto = Some(p.word()?);
                }
                "tcp" | "udp" | "sctp" => {
                    if p.word()? != "dport" {
                        return p.fail(format!("only `{w} dport` is read"));
                    }
                    r.proto = Some(w.clone());
                    let mut v = Vec::new();
                    for s in p.list()? {
                        v.push(port_range(&s, line)?);
                    }
                    r.dports = Some(v);
                }
                "ct" => {
                    if p.word()? != "state" {
                        return p.fail("only `ct state` is read");
                    }
                    let mut states = Vec::new();
                    while matches!(p.peek(), Tok::Word(_) | Tok::Comma) {
                        if let Tok::Word(s) = p.next() {
                            states.push(s);
                        }
                    }
                    if states
                        .iter()
                        .any(|s| s == "new" || s == "invalid" || s == "untracked")
                    {
                        return p.fail("only `ct state established,related` is read");
                    }
                    r.ct_state = true;
                }
                "counter" => {
                    if *p.peek() == Tok::Word("name".into()) {
                        p.next();
                        p.text()?;
                    }
                    while let Tok::Word(x) = p.peek().clone() {
                        if x != "packets" && x != "bytes" {
                            break;
                        }
                        p.next();
                        p.word()?;
                    }
                }
                "log" => {
                    while let Tok::Word(x) = p.peek().clone() {
                        match x.as_str() {
                            "prefix" => {
                                p.next();
                                r.log_prefix = Some(p.text()?);
                            }
                            "group" | "level" | "snaplen" | "queue-threshold" => {
                                p.next();
                                p.word()?;
                            }
                            _ => break,
                        }
                    }
                }
                "accept" => r.verdict = Some(RuleVerdict::Accept),
                "drop" | "reject" => r.verdict = Some(RuleVerdict::Drop),
                "comment" => r.comment = Some(p.text()?),
                other => return p.fail(format!("unknown rule statement {other:?}")),
            },
            t => return p.fail(format!("unexpected {t:?} in a rule")),
        }
    }
}

fn addr_match(p: &mut P) -> R<AddrMatch> {
    let line = p.line();
    if let Tok::Word(w) = p.peek().clone() {
        if let Some(set) = w.strip_prefix('@') {
            p.next();
            return Ok(AddrMatch::Set(set.to_string()));
        }
    }
    let mut v = Vec::new();
    for s in p.list()? {
        v.push(net(&s, line)?);
    }
    Ok(AddrMatch::Nets(v))
}
