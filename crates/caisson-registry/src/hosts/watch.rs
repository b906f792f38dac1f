//! Host events: a re-scan that changed a digest running on reported hosts
//! becomes one `container.vulnerable` event per running container (host,
//! container, and the findings the re-scan added), and a benchmark result
//! with more warnings than the host's previous one (or a check turning from
//! pass to warn) is a regression ([`bench_regression`], pure).

use std::collections::BTreeMap;
use std::sync::Arc;

use caisson_registry_store::{BlobStore, MetaStore};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::events::RegistryEvent;
use crate::Registry;

/// How a benchmark result regressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regression {
    pub previous_warn: usize,
    pub warn: usize,
    /// Checks that passed before and warn now.
    pub newly_warn: Vec<String>,
}

fn statuses(doc: &Value) -> BTreeMap<String, String> {
    doc.get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            Some((
                c.get("id")?.as_str()?.to_string(),
                c.get("status")?.as_str()?.to_string(),
            ))
        })
        .collect()
}

/// `Some` when `new` has more warnings than `previous`, or a check that
/// passed in `previous` warns in `new`.
pub fn bench_regression(previous: &Value, new: &Value) -> Option<Regression> {
    let (old, now) = (statuses(previous), statuses(new));
    let count = |m: &BTreeMap<String, String>| m.values().filter(|s| *s == "warn").count();
    let newly_warn: Vec<String> = now
        .iter()
        .filter(|(id, s)| *s == "warn" && old.get(*id).is_some_and(|o| o == "pass"))
        .map(|(id, _)| id.clone())
        .collect();
    let (previous_warn, warn) = (count(&old), count(&now));
    (warn > previous_warn || !newly_warn.is_empty()).then_some(Regression {
        previous_warn,
        warn,
        newly_warn,
    })
}

/// Subscribes now (call before the scan workers start) and, until the
/// registry goes away, turns `FindingsChanged` events of digests that
/// reported containers run into `ContainerVulnerable` events.
pub fn watch<B: BlobStore, M: MetaStore>(reg: Arc<Registry<B, M>>) -> tokio::task::JoinHandle<()> {
    let mut rx = reg.subscribe();
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(RegistryEvent::FindingsChanged {
                    repo,
                    digest,
                    added,
                    ..
                }) if !added.is_empty() => {
                    if let Err(e) = container_events(&reg, &repo, &digest.to_string(), &added).await
                    {
                        tracing::error!(
                            "mapping re-scanned {repo}@{digest} to host containers: {}",
                            e.message
                        );
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "host container mapping fell behind; events skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    })
}

async fn container_events<B: BlobStore, M: MetaStore>(
    reg: &Registry<B, M>,
    repo: &str,
    digest: &str,
    added: &[String],
) -> Result<(), crate::error::ApiError> {
    let placed = reg.meta.containers_of_digest(repo, digest).await?;
    for p in placed {
        if p.container.state != "running" {
            continue;
        }
        let new_findings: Vec<_> = reg
            .container_findings(&p.container)
            .await?
            .into_iter()
            .filter(|f| added.contains(&f.id))
            .collect();
        if new_findings.is_empty() {
            continue;
        }
        reg.publish(RegistryEvent::ContainerVulnerable {
            host: p.host,
            hostname: p.hostname,
            container: crate::events::VulnerableContainer {
                id: p.container.id,
                name: p.container.name,
                image: p.container.image,
                image_id: p.container.image_id,
            },
            repo: repo.to_string(),
            digest: digest.to_string(),
            new_findings,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(checks: &[(&str, &str)]) -> Value {
        json!({"benchmark": "v1.7", "checks": checks.iter().map(|(id, s)| json!({"id": id, "title": "", "status": s})).collect::<Vec<_>>()})
    }

    #[test]
    fn more_warnings_or_pass_to_warn_is_a_regression() {
        let before = doc(&[("1.1", "pass"), ("2.1", "warn"), ("3.1", "info")]);
        assert_eq!(bench_regression(&before, &before), None);
        let more = doc(&[("1.1", "pass"), ("2.1", "warn"), ("3.1", "warn")]);
        let r = bench_regression(&before, &more).expect("regressed");
        assert_eq!((r.previous_warn, r.warn), (1, 2));
        assert!(r.newly_warn.is_empty(), "3.1 was info, not pass");
        // Same count, but a pass turned to warn.
        let swapped = doc(&[("1.1", "warn"), ("2.1", "pass"), ("3.1", "info")]);
        let r = bench_regression(&before, &swapped).expect("regressed");
        assert_eq!(r.newly_warn, vec!["1.1".to_string()]);
        // Fewer warnings is no regression.
        let better = doc(&[("1.1", "pass"), ("2.1", "pass"), ("3.1", "info")]);
        assert_eq!(bench_regression(&before, &better), None);
    }
}
