//! Gathering the running containers from an engine. The engine client
//! (caisson-host's `Engine`, or bollard directly in tests) implements
//! [`ContainerSource`]; [`gather_containers`] lists, inspects and fetches
//! `top`, the image and its history, skipping containers that disappear
//! between the list and the inspect.

use std::collections::BTreeMap;

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

/// Lists the running containers and gathers each one's facts. A container
/// gone (or stopped) between the list and its inspect or `top` is skipped
/// with a note; each image is fetched once.
pub fn gather_containers<S: ContainerSource>(src: &S) -> Result<Gathered, SourceError> {
    let mut out = Gathered::default();
    let mut images: BTreeMap<
        String,
        (Option<ImageInspect>, Option<Vec<ImageHistoryResponseItem>>),
    > = BTreeMap::new();
    for (id, name) in src.list_running()? {
        let name = name.trim_start_matches('/').to_string();
        let skip = |reason: String| Skipped {
            id: id.clone(),
            name: name.clone(),
            reason,
        };
        let inspect = match src.inspect(&id) {
            Ok(i) => i,
            Err(SourceError::Gone) => {
                out.skipped
                    .push(skip("removed between list and inspect".into()));
                continue;
            }
            Err(SourceError::Other(e)) => {
                out.skipped.push(skip(format!("inspect failed: {e}")));
                continue;
            }
        };
        if !crate::checks::runtime::is_running(&inspect) {
            out.skipped
                .push(skip("stopped between list and inspect".into()));
            continue;
        }
        let top = match src.top(&id) {
            Ok(t) => Some(t),
            Err(SourceError::Gone) => {
                out.skipped
                    .push(skip("stopped before its process list was read".into()));
                continue;
            }
            Err(SourceError::Other(e)) => {
                out.notes.push(format!("container {name}: top failed: {e}"));
                None
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
