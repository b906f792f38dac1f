//! Blob endpoints: GET/HEAD (with `Range`), DELETE, and upload sessions
//! (monolithic POST, POST+PUT, chunked PATCH, status, cancel, cross-repo mount).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use caisson_audit::Outcome;
use caisson_oci::Digest;
use caisson_registry_store::{
    now_ms, BlobStore, ByteRange, ByteStream, Change, MetaStore, StoreError, UploadRecord,
};
use futures_util::TryStreamExt;

use std::sync::atomic::Ordering;

use crate::auth::rbac::Action;
use crate::chunk::{declared, DeclError, ExactLength};
use crate::error::{ApiError, ApiResult, Code};
use crate::route::{namespace_of, parse_range, validate_name};
use crate::v2::{percent_decode, Ctx};
use crate::Registry;

/// A query parameter, percent-decoded.
pub(crate) fn query_param(req: &Request, key: &str) -> Option<String> {
    req.uri().query().and_then(|q| {
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == key).then(|| percent_decode(v))
        })
    })
}

pub(crate) fn parse_digest(s: &str) -> ApiResult<Digest> {
    s.parse::<Digest>()
        .map_err(|e| ApiError::new(Code::DigestInvalid, e.to_string()))
}

pub(crate) fn set(resp: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().insert(name, v);
    }
}

fn body_stream(req: Request) -> ByteStream {
    Box::pin(
        req.into_body()
            .into_data_stream()
            .map_err(std::io::Error::other),
    )
}

fn range_header(size: u64) -> String {
    format!("0-{}", size.saturating_sub(1))
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    async fn blob_visible(&self, repo: &str, d: &Digest) -> ApiResult<bool> {
        Ok(self.meta.blob_linked(repo, d).await?
            || self.meta.get_manifest(repo, d).await?.is_some())
    }

    pub(crate) async fn get_blob(
        &self,
        _ctx: &Ctx,
        name: &str,
        digest: &str,
        req: Request,
    ) -> ApiResult<Response> {
        let d = parse_digest(digest)?;
        let unknown = || ApiError::new(Code::BlobUnknown, format!("blob {d} is not in {name}"));
        if !self.blob_visible(name, &d).await? {
            return Err(unknown());
        }
        let size = self.blobs.stat(&d).await?.ok_or_else(unknown)?;
        let range = match req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
        {
            None => None,
            Some(r) => Some(parse_range(r, size).map_err(|()| {
                ApiError::new(
                    Code::RangeInvalid,
                    format!("range {r:?} is not satisfiable for {size} bytes"),
                )
                .with_header(header::CONTENT_RANGE, &format!("bytes */{size}"))
            })?),
        };
        let mut resp = if req.method() == Method::HEAD {
            let mut r = StatusCode::OK.into_response();
            set(&mut r, "content-length", &size.to_string());
            r
        } else {
            let read = self
                .blobs
                .open(&d, range.map(|(start, end)| ByteRange { start, end }))
                .await?
                .ok_or_else(unknown)?;
            let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
                read.reader,
                256 * 1024,
            ));
            let mut r = Response::new(body);
            match range {
                Some((a, b)) => {
                    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                    set(&mut r, "content-range", &format!("bytes {a}-{b}/{size}"));
                    set(&mut r, "content-length", &(b - a + 1).to_string());
                }
                None => set(&mut r, "content-length", &size.to_string()),
            }
            r
        };
        set(&mut resp, "content-type", "application/octet-stream");
        set(&mut resp, "docker-content-digest", &d.to_string());
        set(&mut resp, "accept-ranges", "bytes");
        Ok(resp)
    }

    pub(crate) async fn delete_blob(
        &self,
        ctx: &Ctx,
        name: &str,
        digest: &str,
    ) -> ApiResult<Response> {
        let d = parse_digest(digest)?;
        let ev = self.event(
            &ctx.actor(),
            &ctx.source,
            "delete-blob",
            &format!("{name}@{d}"),
            Outcome::Success,
            "",
        );
        let change = Change::UnlinkBlob {
            repo: name.to_string(),
            digest: d.clone(),
        };
        let done = self.audited(change, move |done| done.removed().then_some(ev));
        if !done.await?.removed() {
            return Err(ApiError::new(
                Code::BlobUnknown,
                format!("blob {d} is not in {name}"),
            ));
        }
        Ok(StatusCode::ACCEPTED.into_response())
    }

    async fn session(&self, name: &str, id: &str) -> ApiResult<UploadRecord> {
        self.meta
            .get_upload(id)
            .await?
            .filter(|u| u.repo == name)
            .ok_or_else(|| {
                ApiError::new(
                    Code::BlobUploadUnknown,
                    format!("upload {id} is not in progress for {name}"),
                )
            })
    }

    fn upload_response(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
        let mut r = status.into_response();
        set(
            &mut r,
            "location",
            &format!("/v2/{name}/blobs/uploads/{id}"),
        );
        set(&mut r, "range", &range_header(size));
        set(&mut r, "docker-upload-uuid", id);
        set(&mut r, "content-length", "0");
        r
    }

    fn created_blob(name: &str, d: &Digest) -> Response {
        let mut r = StatusCode::CREATED.into_response();
        set(&mut r, "location", &format!("/v2/{name}/blobs/{d}"));
        set(&mut r, "docker-content-digest", &d.to_string());
        set(&mut r, "content-length", "0");
        r
    }

    /// Verifies and installs an upload, enforces the quota, links it to `name`.
    async fn commit(&self, ctx: &Ctx, name: &str, id: &str, d: &Digest) -> ApiResult<Response> {
        let result = self.blobs.upload_commit(id, d).await;
        self.meta.delete_upload(id).await?;
        let size = match result {
            Ok(s) => s,
            Err(e @ StoreError::DigestMismatch { .. }) => {
                return Err(ApiError::new(
                    Code::DigestInvalid,
                    format!("upload to {name}: {e}"),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        self.check_quota(ctx, name, d, size).await?;
        self.meta.link_blob(name, d, size).await?;
        Ok(Self::created_blob(name, d))
    }

    async fn check_quota(&self, ctx: &Ctx, name: &str, d: &Digest, size: u64) -> ApiResult<()> {
        let ns = namespace_of(name);
        let Some(quota) = self
            .meta
            .get_namespace(ns)
            .await?
            .and_then(|n| n.quota_bytes)
        else {
            return Ok(());
        };
        if self.meta.blob_linked(name, d).await? {
            return Ok(());
        }
        let used = self.meta.namespace_usage(ns).await?;
        if used.saturating_add(size) > quota {
            let msg = format!("namespace {ns} quota exceeded: {used} + {size} bytes > {quota}");
            self.audit(
                &ctx.actor(),
                &ctx.source,
                "push-blob",
                &format!("{name}@{d}"),
                Outcome::Denied,
                &msg,
            )
            .await?;
            return Err(ApiError::new(Code::QuotaExceeded, msg));
        }
        Ok(())
    }

    pub(crate) async fn start_upload(
        &self,
        ctx: &Ctx,
        name: &str,
        req: Request,
    ) -> ApiResult<Response> {
        if let (Some(mount), Some(from)) = (query_param(&req, "mount"), query_param(&req, "from")) {
            let d = parse_digest(&mount)?;
            let readable = validate_name(&from).is_ok()
                && self.authorize(&ctx.authn, &from, Action::Pull).await;
            if !readable {
                // A refused mount is an attempt to read another repository.
                self.audit(
                    &ctx.actor(),
                    &ctx.source,
                    "mount-blob",
                    &format!("{name}@{d}"),
                    Outcome::Denied,
                    &format!("from {from}: no pull access to the source repository"),
                )
                .await?;
            }
            if readable && self.meta.blob_linked(&from, &d).await? {
                if let Some(size) = self.blobs.stat(&d).await? {
                    self.check_quota(ctx, name, &d, size).await?;
                    let ev = self.event(
                        &ctx.actor(),
                        &ctx.source,
                        "mount-blob",
                        &format!("{name}@{d}"),
                        Outcome::Success,
                        &format!("from {from}"),
                    );
                    let change = Change::LinkBlob {
                        repo: name.to_string(),
                        digest: d.clone(),
                        size,
                    };
                    self.audited(change, move |_| Some(ev)).await?;
                    return Ok(Self::created_blob(name, &d));
                }
            }
            // Not mountable: fall back to a regular upload session (spec).
        }
        let digest = query_param(&req, "digest")
            .map(|s| parse_digest(&s))
            .transpose()?;
        let id = hex::encode(rand::random::<[u8; 16]>());
        self.meta
            .create_upload(UploadRecord {
                id: id.clone(),
                repo: name.to_string(),
                created_ms: now_ms(),
            })
            .await?;
        self.blobs.upload_start(&id).await?;
        let Some(d) = digest else {
            return Ok(Self::upload_response(StatusCode::ACCEPTED, name, &id, 0));
        };
        if let Err(e) = self.blobs.upload_append(&id, body_stream(req)).await {
            self.blobs.upload_abort(&id).await?;
            self.meta.delete_upload(&id).await?;
            return Err(ApiError::new(
                Code::BlobUploadInvalid,
                format!("monolithic upload to {name}: {e}"),
            ));
        }
        self.commit(ctx, name, &id, &d).await
    }

    pub(crate) async fn patch_upload(
        &self,
        name: &str,
        id: &str,
        req: Request,
    ) -> ApiResult<Response> {
        self.session(name, id).await?;
        let current = self.blobs.upload_size(id).await?.ok_or_else(|| {
            ApiError::new(Code::BlobUploadUnknown, format!("upload {id} has no data"))
        })?;
        let range_error = |msg: String| {
            ApiError::new(Code::RangeInvalid, msg)
                .with_header(header::LOCATION, &format!("/v2/{name}/blobs/uploads/{id}"))
                .with_header(header::RANGE, &range_header(current))
        };
        let declared = declared(req.headers()).map_err(|e| {
            range_error(match e {
                DeclError::Malformed(v) => format!("Content-Range {v:?} is not <start>-<end>"),
                DeclError::LengthMismatch { range, length } => {
                    format!("Content-Range covers {range} bytes but Content-Length is {length}")
                }
            })
        })?;
        if let Some(d) = declared {
            if d.start != current {
                return Err(range_error(format!(
                    "chunk starts at {} but the upload's current size is {current}",
                    d.start
                )));
            }
        }
        let (body, mismatch) = match declared {
            Some(d) => {
                let (s, flag) = ExactLength::wrap(body_stream(req), d.len);
                (s, Some(flag))
            }
            None => (body_stream(req), None),
        };
        let size = match self.blobs.upload_append(id, body).await {
            Ok(size) => size,
            Err(e) if mismatch.as_ref().is_some_and(|m| m.load(Ordering::SeqCst)) => {
                // Part of a lying chunk is on disk: the session cannot be
                // resumed at a trustworthy offset, so it ends here.
                self.blobs.upload_abort(id).await?;
                self.meta.delete_upload(id).await?;
                return Err(ApiError::new(
                    Code::RangeInvalid,
                    format!("chunk for upload {id}: {e}; the upload is cancelled"),
                ));
            }
            Err(e) => {
                return Err(ApiError::new(
                    Code::BlobUploadInvalid,
                    format!("chunk for upload {id}: {e}"),
                ))
            }
        };
        Ok(Self::upload_response(StatusCode::ACCEPTED, name, id, size))
    }

    pub(crate) async fn finish_upload(
        &self,
        ctx: &Ctx,
        name: &str,
        id: &str,
        req: Request,
    ) -> ApiResult<Response> {
        self.session(name, id).await?;
        let d = query_param(&req, "digest")
            .ok_or_else(|| ApiError::new(Code::DigestInvalid, "closing an upload needs ?digest="))
            .and_then(|s| parse_digest(&s))?;
        let has_body = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim() != "0");
        if has_body {
            self.blobs
                .upload_append(id, body_stream(req))
                .await
                .map_err(|e| {
                    ApiError::new(
                        Code::BlobUploadInvalid,
                        format!("final chunk for upload {id}: {e}"),
                    )
                })?;
        }
        self.commit(ctx, name, id, &d).await
    }

    pub(crate) async fn upload_status(&self, name: &str, id: &str) -> ApiResult<Response> {
        self.session(name, id).await?;
        let size = self.blobs.upload_size(id).await?.ok_or_else(|| {
            ApiError::new(Code::BlobUploadUnknown, format!("upload {id} has no data"))
        })?;
        Ok(Self::upload_response(
            StatusCode::NO_CONTENT,
            name,
            id,
            size,
        ))
    }

    pub(crate) async fn cancel_upload(&self, name: &str, id: &str) -> ApiResult<Response> {
        self.session(name, id).await?;
        self.blobs.upload_abort(id).await?;
        self.meta.delete_upload(id).await?;
        Ok(StatusCode::NO_CONTENT.into_response())
    }
}
