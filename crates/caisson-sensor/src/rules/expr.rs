//! Typed conditions: fields, compiling an [`Ast`] against them (every field,
//! operator and literal checked once, named lists resolved), and evaluation
//! that borrows from the event and allocates nothing.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;

pub use super::fields::{Field, Ty, FIELDS};
use super::lang::{Ast, Op, Scalar, Value};
use crate::directory::ContainerInfo;
use crate::event::{Ancestor, ConnEvent, Event, EventKind, ExecEvent, FileEvent, ResourceEvent};

/// A type error in a condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at offset {pos}: {msg}")]
pub struct TypeError {
    pub pos: usize,
    pub msg: String,
}

/// An address or a network (`10.0.0.0/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<Self> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.parse().ok().filter(|p| *p <= max)?,
            None => max,
        };
        Some(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
enum Test {
    Bool,
    StrEq(Box<str>),
    StrIn(HashSet<Box<str>>),
    StrStarts(Box<[Box<str>]>),
    StrEnds(Box<[Box<str>]>),
    StrContains(Box<[Box<str>]>),
    IntCmp(Op, i64),
    IntIn(Box<[i64]>),
    IpIn(Box<[IpNet]>),
    /// `list contains "x"`: some element equals one of these.
    ListHas(HashSet<Box<str>>),
    /// `list startswith "x"`: some element starts with one of these.
    ListStarts(Box<[Box<str>]>),
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Expr(Node);

#[derive(Debug, Clone)]
enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Pred {
        field: Field,
        test: Test,
        /// `!=`: true when the field is present and not equal.
        negate: bool,
    },
}

/// Compiles `ast` for events of `kind`, resolving `$name` from `lists`.
pub fn compile(
    ast: &Ast,
    kind: EventKind,
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<Expr, TypeError> {
    node(ast, kind, lists).map(Expr)
}

fn node(
    ast: &Ast,
    kind: EventKind,
    lists: &BTreeMap<String, Vec<String>>,
) -> Result<Node, TypeError> {
    Ok(match ast {
        Ast::And(v) => Node::And(
            v.iter()
                .map(|a| node(a, kind, lists))
                .collect::<Result<_, _>>()?,
        ),
        Ast::Or(v) => Node::Or(
            v.iter()
                .map(|a| node(a, kind, lists))
                .collect::<Result<_, _>>()?,
        ),
        Ast::Not(a) => Node::Not(Box::new(node(a, kind, lists)?)),
        Ast::Pred { pos, field, cmp } => {
            let pos = *pos;
            let e = |msg: String| TypeError { pos, msg };
            let Some(&(name, f, ty, scope, _)) = FIELDS.iter().find(|(n, ..)| n == field) else {
                let known: Vec<&str> = FIELDS.iter().map(|f| f.0).collect();
                return Err(e(format!(
                    "unknown field `{field}` (fields: {})",
                    known.join(", ")
                )));
            };
            if !scope.is_empty() && !scope.contains(&kind) {
                return Err(e(format!("`{name}` does not exist on {kind:?} events")));
            }
            let Some((op, value)) = cmp else {
                return if ty == Ty::Bool {
                    Ok(Node::Pred {
                        field: f,
                        test: Test::Bool,
                        negate: false,
                    })
                } else {
                    Err(e(format!(
                        "`{name}` is not a boolean: compare it (e.g. `{name} = …`)"
                    )))
                };
            };
            let items: Vec<Scalar> = match value {
                Value::Scalar(s) => vec![s.clone()],
                Value::List(v) => v.clone(),
                Value::ListRef(r) => match lists.get(r) {
                    Some(v) => v.iter().map(|s| Scalar::Str(s.clone())).collect(),
                    None => return Err(e(format!("unknown list `${r}`"))),
                },
            };
            let single = matches!(value, Value::Scalar(_));
            let strs = || -> Result<Box<[Box<str>]>, TypeError> {
                items
                    .iter()
                    .map(|s| match s {
                        Scalar::Str(s) => Ok(Box::from(s.as_str())),
                        Scalar::Int(n) => Err(e(format!("`{name}` is a string: quote {n}"))),
                    })
                    .collect()
            };
            let set = || strs().map(|v| v.into_vec().into_iter().collect::<HashSet<_>>());
            let need_single = |what: &str| -> Result<(), TypeError> {
                if single {
                    Ok(())
                } else {
                    Err(e(format!(
                        "`{name} {}` takes one {what}, not a list (use `in`)",
                        op.as_str()
                    )))
                }
            };
            let bad_op = || {
                e(format!(
                    "`{}` does not apply to `{name}` ({ty:?})",
                    op.as_str()
                ))
            };
            let (test, negate) = match (ty, op) {
                (Ty::Bool, _) => return Err(bad_op()),
                (Ty::Str, Op::Eq | Op::Ne) => {
                    need_single("string")?;
                    let mut v = strs()?.into_vec();
                    (Test::StrEq(v.pop().unwrap_or_default()), *op == Op::Ne)
                }
                (Ty::Str, Op::In) => (Test::StrIn(set()?), false),
                (Ty::Str, Op::StartsWith) => (Test::StrStarts(strs()?), false),
                (Ty::Str, Op::EndsWith) => (Test::StrEnds(strs()?), false),
                (Ty::Str, Op::Contains) => (Test::StrContains(strs()?), false),
                (Ty::Int, Op::In) => (Test::IntIn(ints(&items, name).map_err(e)?), false),
                (Ty::Int, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge) => {
                    need_single("number")?;
                    let n = ints(&items, name).map_err(e)?.first().copied().unwrap_or(0);
                    (Test::IntCmp(*op, n), false)
                }
                (Ty::Ip, Op::Eq | Op::Ne) => {
                    need_single("address")?;
                    (
                        Test::IpIn(nets(&items, name, false).map_err(e)?),
                        *op == Op::Ne,
                    )
                }
                (Ty::Ip, Op::In) => (Test::IpIn(nets(&items, name, true).map_err(e)?), false),
                (Ty::List, Op::Contains | Op::Intersects) => (Test::ListHas(set()?), false),
                (Ty::List, Op::StartsWith) => (Test::ListStarts(strs()?), false),
                _ => return Err(bad_op()),
            };
            Node::Pred {
                field: f,
                test,
                negate,
            }
        }
    })
}

fn ints(items: &[Scalar], name: &str) -> Result<Box<[i64]>, String> {
    items
        .iter()
        .map(|s| match s {
            Scalar::Int(n) => Ok(*n),
            Scalar::Str(s) => s
                .parse()
                .map_err(|_| format!("`{name}` is a number, not {s:?}")),
        })
        .collect()
}

fn nets(items: &[Scalar], name: &str, allow_net: bool) -> Result<Box<[IpNet]>, String> {
    items
        .iter()
        .map(|s| {
            let Scalar::Str(s) = s else {
                return Err(format!("`{name}` is an address: quote it"));
            };
            if !allow_net && s.contains('/') {
                return Err(format!(
                    "`{name} =` takes an address; use `in` for the network {s:?}"
                ));
            }
            IpNet::parse(s).ok_or_else(|| format!("`{name}`: {s:?} is not an address or network"))
        })
        .collect()
}

/// A field's value for one event, borrowed.
enum Val<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    Args(&'a [String]),
    Ancestors(&'a [Ancestor]),
    Missing,
}

/// What a condition is evaluated against.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub event: &'a Event,
    /// Engine metadata, when the event belongs to a known container.
    pub container: Option<&'a ContainerInfo>,
    /// The container id, when known from the cgroup or addresses (also
    /// without engine metadata).
    pub container_id: Option<&'a str>,
}

impl Subject<'_> {
    fn get(&self, f: Field) -> Val<'_> {
        match (self.event, f) {
            (_, Field::Container) => Val::Bool(self.container_id.is_some()),
            (_, Field::ContainerId) => self.container_id.map_or(Val::Missing, Val::Str),
            (_, Field::ContainerName) => self.container.map_or(Val::Missing, |c| Val::Str(&c.name)),
            (_, Field::ContainerImage) => {
                self.container.map_or(Val::Missing, |c| Val::Str(&c.image))
            }
            (Event::Exec(x), f) => exec_field(x, f),
            (Event::Conn(c), f) => conn_field(c, f),
            (Event::File(x), f) => file_field(x, f),
            (Event::Resource(r), f) => resource_field(r, f),
        }
    }
}

fn exec_field(x: &ExecEvent, f: Field) -> Val<'_> {
    let parent = x.ancestors.first();
    match f {
        Field::ProcName if !x.name.is_empty() => Val::Str(&x.name),
        Field::ProcExe => x.exe.as_deref().map_or(Val::Missing, Val::Str),
        Field::ProcArgv0 => x.argv0.as_deref().map_or(Val::Missing, Val::Str),
        Field::ProcArgs => Val::Args(&x.args),
        Field::ProcCmdline if !x.cmdline.is_empty() => Val::Str(&x.cmdline),
        Field::ProcPid => Val::Int(i64::from(x.pid)),
        Field::ProcUid => x.uid.map_or(Val::Missing, |u| Val::Int(i64::from(u))),
        Field::ProcTty => x.tty.map_or(Val::Missing, |t| Val::Int(i64::from(t))),
        Field::ProcCwd => x.cwd.as_deref().map_or(Val::Missing, Val::Str),
        Field::ProcStdin => Val::Str(x.stdin.as_str()),
        Field::ProcStdout => Val::Str(x.stdout.as_str()),
        Field::ParentName => parent.map_or(Val::Missing, |p| Val::Str(&p.name)),
        Field::ParentExe => parent
            .and_then(|p| p.exe.as_deref())
            .map_or(Val::Missing, Val::Str),
        Field::Ancestors => Val::Ancestors(&x.ancestors),
        _ => Val::Missing,
    }
}

fn file_field(x: &FileEvent, f: Field) -> Val<'_> {
    match f {
        Field::ProcName if !x.name.is_empty() => Val::Str(&x.name),
        Field::ProcExe => x.exe.as_deref().map_or(Val::Missing, Val::Str),
        Field::ProcPid => Val::Int(i64::from(x.pid)),
        Field::FilePath => Val::Str(&x.path),
        Field::FileOp => x.op.map_or(Val::Missing, |o| Val::Str(o.as_str())),
        Field::FileUpperLayer => x.upper_layer.map_or(Val::Missing, Val::Bool),
        Field::FileProfile => Val::Bool(x.allowlisted.is_some()),
        Field::FileAllowlisted => x.allowlisted.map_or(Val::Missing, Val::Bool),
        _ => Val::Missing,
    }
}

fn resource_field(r: &ResourceEvent, f: Field) -> Val<'_> {
    match f {
        Field::MemoryPct => r
            .memory_pct
            .map_or(Val::Missing, |n| Val::Int(i64::from(n))),
        Field::PidsPct => r.pids_pct.map_or(Val::Missing, |n| Val::Int(i64::from(n))),
        _ => Val::Missing,
    }
}

fn conn_field(c: &ConnEvent, f: Field) -> Val<'_> {
    match f {
        Field::ConnProto => Val::Str(c.proto),
        Field::ConnPhase => Val::Str(match c.phase {
            crate::event::ConnPhase::New => "new",
            crate::event::ConnPhase::Destroy => "destroy",
            crate::event::ConnPhase::Dropped => "dropped",
            crate::event::ConnPhase::Audited => "audited",
        }),
        Field::ConnSrcIp => Val::Ip(c.src),
        Field::ConnDstIp => Val::Ip(c.dst),
        Field::ConnSrcPort => Val::Int(i64::from(c.src_port)),
        Field::ConnDstPort => Val::Int(i64::from(c.dst_port)),
        _ => Val::Missing,
    }
}

impl Expr {
    /// Evaluates the condition. A comparison on a field the event does not
    /// have (process gone, no container metadata) is false, `!=` included.
    pub fn eval(&self, s: &Subject<'_>) -> bool {
        self.0.eval(s)
    }
}

impl Node {
    fn eval(&self, s: &Subject<'_>) -> bool {
        match self {
            Node::And(v) => v.iter().all(|e| e.eval(s)),
            Node::Or(v) => v.iter().any(|e| e.eval(s)),
            Node::Not(e) => !e.eval(s),
            Node::Pred {
                field,
                test,
                negate,
            } => match test_value(test, s.get(*field)) {
                Some(b) => b != *negate,
                None => false,
            },
        }
    }
}

/// `None`: the value is missing.
fn test_value(t: &Test, v: Val<'_>) -> Option<bool> {
    Some(match (t, v) {
        (_, Val::Missing) => return None,
        (Test::Bool, Val::Bool(b)) => b,
        (Test::StrEq(x), Val::Str(s)) => **x == *s,
        (Test::StrIn(set), Val::Str(s)) => set.contains(s),
        (Test::StrStarts(v), Val::Str(s)) => v.iter().any(|p| s.starts_with(&**p)),
        (Test::StrEnds(v), Val::Str(s)) => v.iter().any(|p| s.ends_with(&**p)),
        (Test::StrContains(v), Val::Str(s)) => v.iter().any(|p| s.contains(&**p)),
        (Test::IntCmp(op, n), Val::Int(x)) => match op {
            Op::Eq => x == *n,
            Op::Ne => x != *n,
            Op::Lt => x < *n,
            Op::Le => x <= *n,
            Op::Gt => x > *n,
            _ => x >= *n,
        },
        (Test::IntIn(v), Val::Int(x)) => v.contains(&x),
        (Test::IpIn(v), Val::Ip(ip)) => v.iter().any(|n| n.contains(ip)),
        (Test::ListHas(set), Val::Args(a)) => a.iter().any(|x| set.contains(x.as_str())),
        (Test::ListHas(set), Val::Ancestors(a)) => a.iter().any(|x| set.contains(x.name.as_str())),
        (Test::ListStarts(v), Val::Args(a)) => {
            a.iter().any(|x| v.iter().any(|p| x.starts_with(&**p)))
        }
        (Test::ListStarts(v), Val::Ancestors(a)) => {
            a.iter().any(|x| v.iter().any(|p| x.name.starts_with(&**p)))
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::lang::parse;
    use super::*;
    use crate::event::FdKind;

    fn lists() -> BTreeMap<String, Vec<String>> {
        BTreeMap::from([(
            "shells".to_string(),
            vec!["sh".to_string(), "bash".to_string()],
        )])
    }

    fn c(src: &str, kind: EventKind) -> Result<Expr, String> {
        let ast = parse(src).map_err(|e| e.to_string())?;
        compile(&ast, kind, &lists()).map_err(|e| e.to_string())
    }

    fn exec() -> Event {
        Event::Exec(Box::new(ExecEvent {
            pid: 10,
            name: "sh".into(),
            args: vec!["-c".into(), "id".into()],
            tty: Some(34816),
            stdin: FdKind::Socket,
            ancestors: vec![Ancestor {
                pid: 9,
                name: "nginx".into(),
                exe: None,
            }],
            ..ExecEvent::default()
        }))
    }

    fn eval(src: &str, ev: &Event, container: Option<&str>) -> bool {
        let e = c(src, ev.kind()).unwrap();
        e.eval(&Subject {
            event: ev,
            container: None,
            container_id: container,
        })
    }

    #[test]
    fn exec_predicates() {
        let ev = exec();
        assert!(eval(
            "proc.name in $shells and proc.tty != 0 and container",
            &ev,
            Some("abc")
        ));
        assert!(!eval("container", &ev, None));
        assert!(eval(
            "proc.args contains \"-c\" and ancestors intersects (\"nginx\", \"httpd\")",
            &ev,
            None
        ));
        assert!(eval(
            "parent.name = \"nginx\" and proc.stdin = \"socket\"",
            &ev,
            None
        ));
        assert!(eval("not parent.name in $shells", &ev, None));
        assert!(eval("proc.args startswith \"-\"", &ev, None));
        // Missing fields are false for = and != alike.
        assert!(!eval("proc.exe = \"/bin/sh\"", &ev, None));
        assert!(!eval("proc.exe != \"/bin/sh\"", &ev, None));
        assert!(eval("not proc.exe = \"/bin/sh\"", &ev, None));
    }

    #[test]
    fn conn_predicates_with_networks() {
        let ev = Event::Conn(ConnEvent {
            time: None,
            phase: crate::event::ConnPhase::New,
            proto: "tcp",
            src: "172.17.0.2".parse().unwrap(),
            dst: "169.254.169.254".parse().unwrap(),
            src_port: 4000,
            dst_port: 80,
            bytes_orig: None,
            bytes_reply: None,
            reply_src: None,
            reply_src_port: None,
        });
        assert!(eval(
            "conn.dst_ip = \"169.254.169.254\" and conn.dst_port in (80, 443)",
            &ev,
            None
        ));
        assert!(eval("conn.src_ip in (\"172.16.0.0/12\")", &ev, None));
        assert!(!eval(
            "conn.src_ip in (\"10.0.0.0/8\", \"fd00::/8\")",
            &ev,
            None
        ));
        assert!(eval(
            "conn.dst_port >= 80 and conn.dst_port < 81 and conn.phase = \"new\"",
            &ev,
            None
        ));
    }

    #[test]
    fn type_errors() {
        for (src, kind, want) in [
            (
                "proc.nam = \"x\"",
                EventKind::Exec,
                "unknown field `proc.nam`",
            ),
            (
                "conn.dst_ip = \"1.2.3.4\"",
                EventKind::Exec,
                "does not exist on Exec",
            ),
            ("proc.tty", EventKind::Exec, "not a boolean"),
            ("proc.tty = \"x\"", EventKind::Exec, "is a number"),
            ("proc.name = 3", EventKind::Exec, "quote 3"),
            ("proc.name = (\"a\", \"b\")", EventKind::Exec, "use `in`"),
            (
                "proc.name in $nope",
                EventKind::Exec,
                "unknown list `$nope`",
            ),
            (
                "conn.dst_ip = \"10.0.0.0/8\"",
                EventKind::Connection,
                "use `in`",
            ),
            (
                "conn.dst_ip = \"nope\"",
                EventKind::Connection,
                "not an address",
            ),
            ("proc.args = \"x\"", EventKind::Exec, "does not apply"),
            (
                "container contains \"x\"",
                EventKind::Exec,
                "does not apply",
            ),
        ] {
            let e = c(src, kind).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
    }
}
