//! Open-loop load generator for the admission webhook (bench/admission/run.sh).
//!
//! Sends AdmissionReviews at a fixed rate regardless of how fast answers come
//! back (open loop), so a slow server cannot slow the load down; latency is
//! measured from each request's *scheduled* send time to the end of its
//! response body, which keeps queueing delay in the figures (no coordinated
//! omission).
//!
//! ```text
//! admission_load --url https://HOST:PORT/admission/validate --ca ca.crt \
//!     --resolve HOST=127.0.0.1:PORT --rate 500 --seconds 30 --warmup 5 \
//!     --review allowed.json --review denied.json
//! ```
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

struct Args {
    url: String,
    ca: String,
    resolve: Option<(String, SocketAddr)>,
    rate: u64,
    seconds: u64,
    warmup: u64,
    reviews: Vec<String>,
}

fn args() -> Args {
    let mut a = Args {
        url: String::new(),
        ca: String::new(),
        resolve: None,
        rate: 500,
        seconds: 30,
        warmup: 5,
        reviews: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => a.url = value(),
            "--ca" => a.ca = value(),
            "--resolve" => {
                let v = value();
                let (host, addr) = v.split_once('=').expect("--resolve HOST=IP:PORT");
                a.resolve = Some((host.to_string(), addr.parse().expect("IP:PORT")));
            }
            "--rate" => a.rate = value().parse().expect("--rate N"),
            "--seconds" => a.seconds = value().parse().expect("--seconds N"),
            "--warmup" => a.warmup = value().parse().expect("--warmup N"),
            "--review" => a.reviews.push(value()),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !a.url.is_empty() && !a.ca.is_empty() && !a.reviews.is_empty(),
        "--url, --ca and --review are required"
    );
    a
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

#[derive(Default)]
struct Phase {
    latencies: Vec<Duration>,
    errors: u64,
    allowed: u64,
    denied: u64,
}

async fn run_phase(
    client: &reqwest::Client,
    a: &Args,
    bodies: &[Json],
    seconds: u64,
    tag: &str,
) -> (Phase, Duration) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Result<(Duration, bool), String>>();
    let period = Duration::from_nanos(1_000_000_000 / a.rate.max(1));
    let total = a.rate * seconds;
    let start = tokio::time::Instant::now();
    for i in 0..total {
        let scheduled = start + period * i as u32;
        tokio::time::sleep_until(scheduled).await;
        let mut body = bodies[i as usize % bodies.len()].clone();
        body["request"]["uid"] = Json::from(format!("{tag}-{i}"));
        let client = client.clone();
        let url = a.url.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let result = async {
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&body).map_err(|e| e.to_string())?)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = resp.status();
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                let took = scheduled.elapsed();
                if !status.is_success() {
                    return Err(format!("HTTP {status}"));
                }
                let v: Json = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                let allowed = v["response"]["allowed"]
                    .as_bool()
                    .ok_or("no response.allowed")?;
                Ok((took, allowed))
            }
            .await;
            let _ = tx.send(result);
        });
    }
    drop(tx);
    let mut phase = Phase::default();
    let mut first_error = None;
    while let Some(r) = rx.recv().await {
        match r {
            Ok((took, allowed)) => {
                phase.latencies.push(took);
                if allowed {
                    phase.allowed += 1;
                } else {
                    phase.denied += 1;
                }
            }
            Err(e) => {
                phase.errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("{tag}: first error: {e}");
    }
    (phase, start.elapsed())
}

#[tokio::main]
async fn main() {
    let a = args();
    let ca = std::fs::read(&a.ca).expect("reading --ca");
    let bodies: Vec<Json> = a
        .reviews
        .iter()
        .map(|p| {
            serde_json::from_slice(&std::fs::read(p).expect("reading --review"))
                .expect("review JSON")
        })
        .collect();
    let mut builder = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("CA PEM"))
        .tls_built_in_root_certs(false)
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(10));
    if let Some((host, addr)) = &a.resolve {
        builder = builder.resolve(host, *addr);
    }
    let client = builder.build().expect("client");
    if a.warmup > 0 {
        let (w, _) = run_phase(&client, &a, &bodies, a.warmup, "warmup").await;
        eprintln!(
            "warmup: {} requests, {} errors",
            w.latencies.len(),
            w.errors
        );
    }
    let wall = Instant::now();
    let (mut phase, elapsed) = run_phase(&client, &a, &bodies, a.seconds, "run").await;
    let _ = wall;
    phase.latencies.sort();
    let n = phase.latencies.len() as f64;
    let mean = phase
        .latencies
        .iter()
        .map(Duration::as_secs_f64)
        .sum::<f64>()
        / n
        * 1000.0;
    let result = serde_json::json!({
        "target_rps": a.rate,
        "seconds": a.seconds,
        "requests": phase.latencies.len() as u64 + phase.errors,
        "errors": phase.errors,
        "allowed": phase.allowed,
        "denied": phase.denied,
        "achieved_rps": (phase.latencies.len() as f64 / elapsed.as_secs_f64() * 10.0).round() / 10.0,
        "latency_ms": {
            "mean": (mean * 1000.0).round() / 1000.0,
            "p50": (percentile(&phase.latencies, 50.0) * 1000.0).round() / 1000.0,
            "p90": (percentile(&phase.latencies, 90.0) * 1000.0).round() / 1000.0,
            "p99": (percentile(&phase.latencies, 99.0) * 1000.0).round() / 1000.0,
            "p99.9": (percentile(&phase.latencies, 99.9) * 1000.0).round() / 1000.0,
            "max": (percentile(&phase.latencies, 100.0) * 1000.0).round() / 1000.0,
        },
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
}
