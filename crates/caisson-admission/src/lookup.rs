//! Live facts (tag resolution, signature verification, stored scan results)
//! looked up before a request reaches the evaluation pool, on their own
//! bounded stage: at most `ServerLimits::lookups` lookups at once, each
//! given `ServerLimits::lookup_timeout`. The evaluation threads only
//! evaluate, so a registry that stalls cannot take them all: requests that
//! need it get facts saying the lookup did not finish (a policy requiring a
//! signature then denies), every other request is decided as usual.

use std::sync::Arc;
use std::time::Duration;

use caisson_policy::SupplyChainFacts;
use serde_json::Value as Json;
use tokio::sync::Semaphore;

use crate::resolve::FactsSource;

/// What the lookup stage hands the evaluation.
pub(crate) enum Looked {
    /// Facts to decide with (looked up, or saying why they could not be).
    Facts(Arc<SupplyChainFacts>),
    /// The lookup took the request's whole deadline.
    Deadline,
}

pub(crate) struct Lookups {
    permits: Arc<Semaphore>,
    limit: usize,
    timeout: Duration,
}

impl Lookups {
    pub(crate) fn new(limit: usize, timeout: Duration) -> Self {
        let limit = limit.max(1);
        Lookups {
            permits: Arc::new(Semaphore::new(limit)),
            limit,
            timeout,
        }
    }

    /// The facts for the images `review` names, looked up by `source` on a
    /// blocking thread within `min(lookup timeout, deadline)`.
    pub(crate) async fn facts(
        &self,
        source: &Arc<dyn FactsSource>,
        review: &Json,
        base: &Arc<SupplyChainFacts>,
        deadline: Duration,
    ) -> Looked {
        let images = review
            .pointer("/request/object")
            .map(caisson_policy::container_images)
            .unwrap_or_default();
        if images.is_empty() {
            return Looked::Facts(Arc::clone(base));
        }
        let unavailable = |why: &str| {
            tracing::warn!(images = ?images, "{why}");
            Looked::Facts(Arc::new(source.unavailable(&images, base, why)))
        };
        // A lookup that stalls keeps its permit until the registry client's
        // own timeouts end it; past `limit` stalled lookups, requests that
        // need the network are decided without it at once.
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            return unavailable(&format!(
                "{} registry lookups are already in flight; image facts not looked up",
                self.limit
            ));
        };
        let task = {
            let source = Arc::clone(source);
            let base = Arc::clone(base);
            let images = images.clone();
            tokio::task::spawn_blocking(move || {
                let facts = source.facts(&images, &base);
                drop(permit);
                facts
            })
        };
        let limit = self.timeout.min(deadline);
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(facts)) => Looked::Facts(Arc::new(facts)),
            Ok(Err(_)) => unavailable("the image lookup failed unexpectedly"),
            Err(_) if self.timeout >= deadline => Looked::Deadline,
            Err(_) => unavailable(&format!(
                "registry lookups did not finish within {} ms",
                limit.as_millis()
            )),
        }
    }
}
