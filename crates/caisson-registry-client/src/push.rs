//! Pushing: blobs (`POST` an upload session, then `PUT` the bytes with their
//! digest), manifests (`PUT` with their media type), tag lists, and small
//! blobs read into memory (signature payloads, bundles).

use std::io::Read as _;

use caisson_oci::{Descriptor, Digest, Hasher};
use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use crate::client::{check_status, read_limited, Client, Request};
use crate::error::{RegistryError, Target};

/// Pages of `tags/list` followed before giving up.
const MAX_TAG_PAGES: usize = 100;
const MAX_TAG_LIST_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

fn octet(target: &Target) -> impl Fn(String) -> RegistryError + '_ {
    move |reason| RegistryError::Protocol {
        target: target.clone(),
        reason,
    }
}

impl Client {
    /// True when the registry has blob `digest` in `repository` (`HEAD`).
    pub fn blob_exists(
        &self,
        registry: &str,
        repository: &str,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let target = Target::new("checking blob", digest.to_string(), registry, repository);
        let url = self.api_url(&target, "blobs", &digest.to_string())?;
        let mut req = Request::get(url, None);
        req.method = Method::HEAD;
        req.push = true;
        let resp = self.request(&target, req)?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => check_status(&target, resp).map(|_| false),
        }
    }

    /// Uploads `bytes` as a blob unless the registry already has it; returns
    /// its sha256 digest. Monolithic upload: `POST …/blobs/uploads/`, then
    /// `PUT <Location>?digest=…` with the whole body.
    pub fn push_blob(
        &self,
        registry: &str,
        repository: &str,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        let digest = Digest::sha256(bytes);
        if self.blob_exists(registry, repository, &digest)? {
            tracing::debug!(%digest, "blob already in the registry");
            return Ok(digest);
        }
        let target = Target::new("pushing blob", digest.to_string(), registry, repository);
        let start = self.api_url(&target, "blobs", "uploads/")?;
        let resp = self.request(
            &target,
            Request {
                method: Method::POST,
                url: start.clone(),
                accept: None,
                content_type: None,
                body: None,
                push: true,
            },
        )?;
        let resp = check_status(&target, resp)?;
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                octet(&target)("upload session answer without a Location header".to_string())
            })?;
        let mut put_url = start
            .join(location)
            .map_err(|e| octet(&target)(format!("upload Location is not a URL: {e}")))?;
        if put_url.origin() != start.origin() {
            return Err(octet(&target)(
                "upload Location points to another host; refusing to send credentials there"
                    .to_string(),
            ));
        }
        put_url
            .query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let resp = self.request(
            &target,
            Request {
                method: Method::PUT,
                url: put_url,
                accept: None,
                content_type: Some("application/octet-stream"),
                body: Some(bytes.to_vec()),
                push: true,
            },
        )?;
        check_status(&target, resp)?;
        tracing::debug!(%digest, size = bytes.len(), "pushed blob");
        Ok(digest)
    }

    /// `PUT /v2/<repository>/manifests/<tag_or_digest>` with `media_type`.
    /// Returns the digest of `bytes` (checked against `Docker-Content-Digest`
    /// when the registry sends it) and whether the registry answered with
    /// `OCI-Subject` (it processed the `subject` field: referrers API).
    pub fn put_manifest(
        &self,
        registry: &str,
        repository: &str,
        tag_or_digest: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<PushedManifest, RegistryError> {
        let target = Target::new("pushing manifest", tag_or_digest, registry, repository);
        let url = self.api_url(&target, "manifests", tag_or_digest)?;
        let resp = self.request(
            &target,
            Request {
                method: Method::PUT,
                url,
                accept: None,
                content_type: Some(media_type),
                body: Some(bytes.to_vec()),
                push: true,
            },
        )?;
        let resp = check_status(&target, resp)?;
        let digest = Digest::sha256(bytes);
        if let Some(h) = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
        {
            if h.parse::<Digest>().ok().as_ref() != Some(&digest) {
                return Err(octet(&target)(format!(
                    "registry stored the manifest as {h}, it hashes to {digest}"
                )));
            }
        }
        let subject_processed = resp.headers().contains_key("oci-subject");
        tracing::debug!(%digest, tag_or_digest, subject_processed, "pushed manifest");
        Ok(PushedManifest {
            digest,
            subject_processed,
        })
    }

    /// All tags of `repository` (`GET /v2/<repository>/tags/list`, following
    /// `Link` pagination).
    pub fn list_tags(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let target = Target::new("listing tags", "tags/list", registry, repository);
        let mut url = self.api_url(&target, "tags", "list")?;
        let mut tags = Vec::new();
        for _ in 0..MAX_TAG_PAGES {
            let resp = self.get(&target, url.clone(), Some("application/json"))?;
            let next = next_link(&url, &resp);
            let body = read_limited(&target, resp, MAX_TAG_LIST_BYTES)?;
            let page: TagList = serde_json::from_slice(&body)
                .map_err(|e| octet(&target)(format!("tag list is not the expected JSON: {e}")))?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => return Ok(tags),
            }
        }
        Err(RegistryError::Protocol {
            target,
            reason: format!("more than {MAX_TAG_PAGES} pages of tags"),
        })
    }

    /// Reads blob `desc` into memory: at most `limit` bytes and exactly
    /// `desc.size`, hashing to `desc.digest`.
    pub fn fetch_blob_bytes(
        &self,
        registry: &str,
        repository: &str,
        desc: &Descriptor,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let target = Target::new(
            "fetching blob",
            desc.digest.to_string(),
            registry,
            repository,
        );
        if desc.size > limit {
            return Err(RegistryError::TooLarge { target, limit });
        }
        let url = self.api_url(&target, "blobs", &desc.digest.to_string())?;
        let resp = self.get(&target, url, None)?;
        let mut body = Vec::new();
        resp.take(desc.size.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(|source| RegistryError::Body {
                target: target.clone(),
                source,
            })?;
        let received = u64::try_from(body.len()).unwrap_or(u64::MAX);
        if received > desc.size {
            return Err(RegistryError::TooLarge {
                target,
                limit: desc.size,
            });
        }
        if received < desc.size {
            return Err(RegistryError::Truncated {
                target,
                expected: desc.size,
                received,
            });
        }
        let mut h = Hasher::new(desc.digest.algorithm());
        h.update(&body);
        let actual = h.finish();
        if actual != desc.digest {
            return Err(RegistryError::DigestMismatch {
                target,
                expected: desc.digest.clone(),
                actual,
            });
        }
        Ok(body)
    }
}

/// The result of [`Client::put_manifest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedManifest {
    pub digest: Digest,
    /// The registry answered `OCI-Subject`: it indexes referrers itself.
    pub subject_processed: bool,
}

/// The `rel="next"` URL of a `Link` header, resolved against `base`, on the
/// same origin only.
fn next_link(base: &Url, resp: &reqwest::blocking::Response) -> Option<Url> {
    let link = resp.headers().get("link")?.to_str().ok()?;
    let part = link.split(',').find(|p| p.contains("rel=\"next\""))?;
    let start = part.find('<')?;
    let end = part.find('>')?;
    let next = base.join(part.get(start + 1..end)?).ok()?;
    (next.origin() == base.origin()).then_some(next)
}
