//! Gathering the running containers from an engine. The engine client
//! (caisson-host's `Engine`, or bollard directly in tests) implements
//! [`ContainerSource`]; [`gather_containers`] lists, inspects and fetches
//! `top`, the image and its history, skipping containers that disappear
//! between the list and the inspect.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bollard::models::{
    ContainerInspectResponse, ContainerTopResponse, ImageHistoryResponseItem, ImageInspect,
};

use crate::facts::ContainerFacts;
use crate::model::Skipped;

/// Why an engine call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The object no longer exists (HTTP 404), or the container stopped.
    #[error("no longer exists")]
    Gone,
    #[error("{0}")]
    Other(String),
}

/// The engine calls the benchmark needs. Synchronous, like caisson-host's
/// `Engine` (which runs its own runtime); an async client wraps its calls
/// in `block_on`.
pub trait ContainerSource {
    /// Running containers as `(id, name)`.
    fn list_running(&self) -> Result<Vec<(String, String)>, SourceError>;
    fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, SourceError>;
    /// `GET /containers/{id}/top` (never an exec).
    fn top(&self, id: &str) -> Result<ContainerTopResponse, SourceError>;
    fn image_inspect(&self, id: &str) -> Result<ImageInspect, SourceError>;
    /// `GET /images/{id}/history`. Without it 4.7 and 4.9 are manual and
    /// 4.10 reads the config's Env only.
    fn image_history(&self, _id: &str) -> Result<Vec<ImageHistoryResponseItem>, SourceError> {
        Err(SourceError::Other(
            "image history not supported by this source".into(),
        ))
    }
}

/// What [`gather_containers`] found.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub containers: Vec<ContainerFacts>,
    pub skipped: Vec<Skipped>,
    /// Partial failures (an image that could not be inspected).
    pub notes: Vec<String>,
}

/// Per-container engine calls in flight at once (`top` makes dockerd run
/// `ps`, the slow part; the engine serves calls concurrently).
pub const CONCURRENCY: usize = 8;

/// What one container's calls gave.
enum One {
    Facts(
        Box<ContainerInspectResponse>,
        Option<ContainerTopResponse>,
        Option<String>,
    ),
    Skip(String),
}

fn one<S: ContainerSource>(src: &S, id: &str, name: &str) -> One {
    let inspect = match src.inspect(id) {
        Ok(i) => i,
        Err(SourceError::Gone) => return One::Skip("removed between list and inspect".into()),
        Err(SourceError::Other(e)) => return One::Skip(format!("inspect failed: {e}")),
    };
    if !crate::checks::runtime::is_running(&inspect) {
        return One::Skip("stopped between list and inspect".into());
    }
    match src.top(id) {
        Ok(t) => One::Facts(Box::new(inspect), Some(t), None),
        Err(SourceError::Gone) => One::Skip("stopped before its process list was read".into()),
        Err(SourceError::Other(e)) => One::Facts(
            Box::new(inspect),
            None,
            Some(format!("container {name}: top failed: {e}")),
        ),
    }
}

/// Lists the running containers and gathers each one's facts, up to
/// [`CONCURRENCY`] containers at a time, in list order. A container gone (or
/// stopped) between the list and its inspect or `top` is skipped with a
/// note; each image is fetched once.
pub fn gather_containers<S: ContainerSource + Sync>(src: &S) -> Result<Gathered, SourceError> {
    let listed: Vec<(String, String)> = src
        .list_running()?
        .into_iter()
        .map(|(id, name)| (id, name.trim_start_matches('/').to_string()))
        .collect();
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<One>> = Vec::new();
    slots.resize_with(listed.len(), || None);
    let slots = Mutex::new(slots);
    std::thread::scope(|scope| {
        for _ in 0..CONCURRENCY.min(listed.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((id, name)) = listed.get(i) else {
                    break;
                };
                let r = one(src, id, name);
                if let Ok(mut s) = slots.lock() {
                    if let Some(slot) = s.get_mut(i) {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_default();
    let mut out = Gathered::default();
    let mut images: BTreeMap<
        String,
        (Option<ImageInspect>, Option<Vec<ImageHistoryResponseItem>>),
    > = BTreeMap::new();
    for ((id, name), r) in listed.iter().zip(slots) {
        let skip = |reason: String| Skipped {
            id: id.clone(),
            name: name.clone(),
            reason,
        };
        let (inspect, top) = match r {
            Some(One::Facts(i, t, note)) => {
                out.notes.extend(note);
                (*i, t)
            }
            Some(One::Skip(reason)) => {
                out.skipped.push(skip(reason));
                continue;
            }
            None => {
                out.skipped.push(skip("not gathered".into()));
                continue;
            }
        };
        let (image, history) = match inspect.image.clone() {
            Some(image_id) => {
                if !images.contains_key(&image_id) {
                    let i = src.image_inspect(&image_id);
                    let h = src.image_history(&image_id);
                    if let Err(e) = &i {
                        out.notes
                            .push(format!("image {image_id}: inspect failed: {e}"));
                    }
                    if let Err(e) = &h {
                        out.notes
                            .push(format!("image {image_id}: history failed: {e}"));
                    }
                    images.insert(image_id.clone(), (i.ok(), h.ok()));
                }
                images.get(&image_id).cloned().unwrap_or((None, None))
            }
            None => (None, None),
        };
        out.containers.push(ContainerFacts {
            inspect,
            top,
            image,
            history,
            setuid_files: None,
        });
    }
    Ok(out)
}
