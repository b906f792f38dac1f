//! Manifest endpoints (GET/HEAD/PUT/DELETE by tag or digest), tag listing,
//! the referrers API and `_catalog`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use caisson_audit::{AuditEvent, Outcome};
use caisson_oci::{media_type, parse_manifest_document, Digest, Hasher, ManifestDocument};
use caisson_registry_store::{
    now_ms, BlobStore, Change, Changed, ManifestRecord, ManifestRef, MetaStore, Namespace, RefKind,
    StoreError,
};
use futures_util::StreamExt;

use crate::auth::rbac::Action;
use crate::blobs::{parse_digest, query_param, set};
use crate::error::{ApiError, ApiResult, Code};
use crate::route::{namespace_of, parse_reference, Reference};
use crate::v2::Ctx;
use crate::Registry;

/// Reads at most `limit` bytes of a request body.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                Code::ManifestInvalid,
                format!("reading the request body: {e}"),
            )
        })?;
        if buf.len().saturating_add(chunk.len()) > limit {
            return Err(ApiError::new(
                Code::SizeInvalid,
                format!("body is over the {limit}-byte limit"),
            )
            .with_status(StatusCode::PAYLOAD_TOO_LARGE));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// What a manifest body says about itself, extracted without trusting it.
pub struct Parsed {
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub subject: Option<Digest>,
    pub annotations_json: Option<String>,
    /// (digest, size, kind) the registry must already hold.
    pub required: Vec<(Digest, u64, RefKind)>,
}

/// Parses and classifies a pushed manifest or index (pure; fuzzed).
pub fn parse_pushed_manifest(bytes: &[u8], content_type: Option<&str>) -> Result<Parsed, String> {
    let doc = parse_manifest_document(bytes, content_type).map_err(|e| {
        let mut m = e.to_string();
        if let Some(s) = std::error::Error::source(&e) {
            m.push_str(&format!(": {s}"));
        }
        m
    })?;
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let annotations_json = value
        .get("annotations")
        .filter(|a| a.is_object())
        .map(|a| a.to_string());
    let own_type = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .map(str::to_string);
    match doc {
        ManifestDocument::Manifest(m) => {
            if m.schema_version != 2 {
                return Err(format!("schemaVersion must be 2, got {}", m.schema_version));
            }
            let mt = own_type
                .or_else(|| {
                    content_type
                        .filter(|c| media_type::is_manifest(c))
                        .map(str::to_string)
                })
                .unwrap_or_else(|| media_type::OCI_MANIFEST.to_string());
            let mut required = vec![(m.config.digest.clone(), m.config.size, RefKind::Blob)];
            for l in &m.layers {
                // Foreign layers (with `urls`) live elsewhere.
                if l.urls.is_empty() {
                    required.push((l.digest.clone(), l.size, RefKind::Blob));
                }
            }
            Ok(Parsed {
                media_type: mt,
                artifact_type: m
                    .artifact_type
                    .clone()
                    .or_else(|| Some(m.config.media_type.clone()).filter(|s| !s.is_empty())),
                subject: m.subject.map(|s| s.digest),
                annotations_json,
                required,
            })
        }
        ManifestDocument::Index(i) => {
            if i.schema_version != 2 {
                return Err(format!("schemaVersion must be 2, got {}", i.schema_version));
            }
            let mt = own_type
                .or_else(|| {
                    content_type
                        .filter(|c| media_type::is_index(c))
                        .map(str::to_string)
                })
                .unwrap_or_else(|| media_type::OCI_INDEX.to_string());
            Ok(Parsed {
                media_type: mt,
                artifact_type: value
                    .get("artifactType")
                    .and_then(|a| a.as_str())
                    .map(str::to_string),
                subject: i.subject.map(|s| s.digest),
                annotations_json,
                required: i
                    .manifests
                    .iter()
                    .map(|d| (d.digest.clone(), d.size, RefKind::Manifest))
                    .collect(),
            })
        }
    }
}

impl<B: BlobStore, M: MetaStore> Registry<B, M> {
    async fn resolve(&self, name: &str, reference: &str) -> ApiResult<(Reference, Digest)> {
        let r = parse_reference(reference).map_err(|m| ApiError::new(Code::ManifestInvalid, m))?;
        let d = match &r {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => self.meta.resolve_tag(name, t).await?.ok_or_else(|| {
                ApiError::new(Code::ManifestUnknown, format!("tag {t} is not in {name}"))
            })?,
        };
        Ok((r, d))
    }

    pub(crate) async fn get_manifest(
        &self,
        ctx: &Ctx,
        name: &str,
        reference: &str,
        req: Request,
    ) -> ApiResult<Response> {
        let (_, d) = self.resolve(name, reference).await?;
        let unknown = || {
            ApiError::new(
                Code::ManifestUnknown,
                format!("manifest {d} is not in {name}"),
            )
        };
        let rec = self
            .meta
            .get_manifest(name, &d)
            .await?
            .ok_or_else(unknown)?;
        let bytes = self
            .blobs
            .read_small(&d, self.config.max_manifest_bytes as u64)
            .await?
            .ok_or_else(unknown)?;
        let len = bytes.len();
        let mut resp = if req.method() == Method::HEAD {
            StatusCode::OK.into_response()
        } else {
            // An unscanned image is queued even when the policy blocks it, so
            // that the block lifts once the scan is in.
            self.on_manifest_pulled(name, &d).await;
            let base = self.base_url(req.headers());
            let host = base.split_once("://").map_or(base.as_str(), |(_, h)| h);
            self.check_pull(ctx, host, name, reference, &rec, &bytes)
                .await?;
            if self.sample_pull() {
                self.audit(
                    &ctx.actor(),
                    &ctx.source,
                    "pull",
                    &format!("{name}:{reference}"),
                    Outcome::Success,
                    &d.to_string(),
                )
                .await?;
            }
            Response::new(Body::from(bytes))
        };
        set(&mut resp, "content-type", &rec.media_type);
        set(&mut resp, "content-length", &len.to_string());
        set(&mut resp, "docker-content-digest", &d.to_string());
        Ok(resp)
    }

    pub(crate) async fn put_manifest(
        &self,
        ctx: &Ctx,
        name: &str,
        reference: &str,
        req: Request,
    ) -> ApiResult<Response> {
        let r = parse_reference(reference).map_err(|m| ApiError::new(Code::ManifestInvalid, m))?;
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(';').next().unwrap_or(s).trim().to_string());
        let bytes = read_limited(req.into_body(), self.config.max_manifest_bytes).await?;
        let parsed = parse_pushed_manifest(&bytes, content_type.as_deref()).map_err(|m| {
            ApiError::new(
                Code::ManifestInvalid,
                format!("manifest for {name}:{reference}: {m}"),
            )
        })?;
        let d = match &r {
            Reference::Digest(want) => {
                let mut h = Hasher::new(want.algorithm());
                h.update(&bytes);
                let got = h.finish();
                if got != *want {
                    return Err(ApiError::new(
                        Code::DigestInvalid,
                        format!("manifest body hashes to {got}, not {want}"),
                    ));
                }
                got
            }
            Reference::Tag(_) => Digest::sha256(&bytes),
        };
        // Writes hold the GC lock shared: a blob checked here cannot be
        // collected before the manifest that references it is recorded.
        let _guard = self.gc_lock.read().await;
        let mut refs = Vec::with_capacity(parsed.required.len());
        for (rd, size, kind) in &parsed.required {
            let present = match kind {
                RefKind::Blob => {
                    if self.meta.blob_linked(name, rd).await? {
                        self.blobs.stat(rd).await?
                    } else {
                        None
                    }
                }
                RefKind::Manifest => self.meta.get_manifest(name, rd).await?.map(|m| m.size),
            };
            match present {
                None => {
                    return Err(ApiError::new(
                        Code::ManifestBlobUnknown,
                        format!("{name}:{reference} references {rd}, which is not in {name}"),
                    ))
                }
                Some(actual) if actual != *size => {
                    return Err(ApiError::new(
                        Code::ManifestInvalid,
                        format!(
                            "descriptor for {rd} says {size} bytes, the registry holds {actual}"
                        ),
                    ))
                }
                Some(_) => refs.push(ManifestRef {
                    digest: rd.clone(),
                    kind: *kind,
                }),
            }
        }
        let ns = self.meta.get_namespace(namespace_of(name)).await?;
        let unknown_namespace = ns.is_none();
        let immutable = ns.is_some_and(|n| n.immutable_tags);
        let target = format!("{name}:{reference}");
        // Refuse an immutable tag move before anything is written: a refused
        // push leaves no bytes behind. (The store checks again atomically; a
        // push racing this one can at worst leave an unreferenced manifest
        // blob, which garbage collection removes.)
        if let (true, Reference::Tag(t)) = (immutable, &r) {
            if let Some(current) = self.meta.resolve_tag(name, t).await? {
                if current != d {
                    let e = StoreError::TagImmutable {
                        repo: name.to_string(),
                        tag: t.clone(),
                        current,
                    };
                    return Err(self.refuse_tag_move(ctx, &target, e).await);
                }
            }
        }
        if unknown_namespace {
            self.create_namespace_for_push(ctx, name).await?;
        }
        self.blobs.put(&d, bytes.clone()).await?;
        let media_type_pushed = parsed.media_type.clone();
        let record = ManifestRecord {
            repo: name.to_string(),
            digest: d.clone(),
            media_type: parsed.media_type,
            artifact_type: parsed.artifact_type,
            size: bytes.len() as u64,
            subject: parsed.subject.clone(),
            annotations_json: parsed.annotations_json,
            created_ms: now_ms(),
            refs,
        };
        let tag = match &r {
            Reference::Tag(t) => Some(t.clone()),
            Reference::Digest(_) => None,
        };
        // The push and its audit record commit together (fail closed).
        let ev = self.event(
            &ctx.actor(),
            &ctx.source,
            "push-manifest",
            &target,
            Outcome::Success,
            "",
        );
        let digest = d.clone();
        let change = Change::PutManifest {
            record,
            tag,
            immutable_tags: immutable,
        };
        let pushed = self.audited(change, move |done| {
            let prev = match done {
                Changed::Manifest(o) => o.previous_tag_target.as_ref(),
                _ => None,
            };
            Some(match prev {
                Some(p) => AuditEvent {
                    action: "tag-move".into(),
                    detail: format!("{digest} (tag moved from {p})"),
                    ..ev
                },
                None => AuditEvent {
                    detail: digest.to_string(),
                    ..ev
                },
            })
        });
        match pushed.await {
            Ok(_) => {}
            Err(e @ StoreError::TagImmutable { .. }) => {
                return Err(self.refuse_tag_move(ctx, &target, e).await)
            }
            Err(e) => return Err(e.into()),
        };
        let pushed_tag = match &r {
            Reference::Tag(t) => Some(t.clone()),
            Reference::Digest(_) => None,
        };
        self.on_manifest_pushed(name, &d, pushed_tag, &media_type_pushed)
            .await;
        let mut resp = StatusCode::CREATED.into_response();
        set(&mut resp, "location", &format!("/v2/{name}/manifests/{d}"));
        set(&mut resp, "docker-content-digest", &d.to_string());
        set(&mut resp, "content-length", "0");
        if let Some(s) = parsed.subject {
            set(&mut resp, "oci-subject", &s.to_string());
        }
        Ok(resp)
    }

    /// A push into a namespace with no record creates it (private, no
    /// quota, mutable tags, audited) so it can be listed and given members
    /// and policies. A namespace created meanwhile is left as it is.
    async fn create_namespace_for_push(&self, ctx: &Ctx, repo: &str) -> ApiResult<()> {
        let namespace = namespace_of(repo).to_string();
        let ev = self.event(
            &ctx.actor(),
            &ctx.source,
            "create-namespace",
            &namespace,
            Outcome::Success,
            &format!("created by a push to {repo}: private, mutable tags, no quota"),
        );
        let change = Change::CreateNamespace(Namespace {
            name: namespace,
            public: false,
            immutable_tags: false,
            quota_bytes: None,
        });
        self.audited(change, move |done| {
            matches!(done, Changed::Created(true)).then_some(ev)
        })
        .await?;
        Ok(())
    }

    /// Audits a push refused because it would move an immutable tag and
    /// returns the error to answer (the audit failure, when it cannot be
    /// recorded).
    async fn refuse_tag_move(&self, ctx: &Ctx, target: &str, e: StoreError) -> ApiError {
        match self
            .audit(
                &ctx.actor(),
                &ctx.source,
                "push-manifest",
                target,
                Outcome::Denied,
                &e.to_string(),
            )
            .await
        {
            Ok(()) => e.into(),
            Err(audit) => audit.into(),
        }
    }

    pub(crate) async fn delete_manifest(
        &self,
        ctx: &Ctx,
        name: &str,
        reference: &str,
    ) -> ApiResult<Response> {
        let r = parse_reference(reference).map_err(|m| ApiError::new(Code::ManifestInvalid, m))?;
        let target = format!("{name}:{reference}");
        match r {
            Reference::Tag(t) => {
                let immutable = self
                    .meta
                    .get_namespace(namespace_of(name))
                    .await?
                    .is_some_and(|n| n.immutable_tags);
                if immutable {
                    let msg = format!("tags in {} are immutable", namespace_of(name));
                    self.audit(
                        &ctx.actor(),
                        &ctx.source,
                        "delete-tag",
                        &target,
                        Outcome::Denied,
                        &msg,
                    )
                    .await?;
                    return Err(ApiError::new(Code::TagImmutable, msg));
                }
                let ev = self.event(
                    &ctx.actor(),
                    &ctx.source,
                    "delete-tag",
                    &target,
                    Outcome::Success,
                    "",
                );
                let change = Change::DeleteTag {
                    repo: name.to_string(),
                    tag: t.clone(),
                };
                if !self
                    .audited(change, move |done| done.removed().then_some(ev))
                    .await?
                    .removed()
                {
                    return Err(ApiError::new(
                        Code::ManifestUnknown,
                        format!("tag {t} is not in {name}"),
                    ));
                }
            }
            Reference::Digest(d) => {
                let immutable = self
                    .meta
                    .get_namespace(namespace_of(name))
                    .await?
                    .is_some_and(|n| n.immutable_tags);
                let ev = self.event(
                    &ctx.actor(),
                    &ctx.source,
                    "delete-manifest",
                    &target,
                    Outcome::Success,
                    "",
                );
                // An immutable tag must not move by deleting what it points at.
                let change = Change::DeleteManifest {
                    repo: name.to_string(),
                    digest: d.clone(),
                    immutable_tags: immutable,
                };
                let done = self.audited(change, move |done| match done {
                    Changed::Untagged(Some(tags)) => Some(AuditEvent {
                        detail: format!("untagged: {}", tags.join(",")),
                        ..ev
                    }),
                    _ => None,
                });
                let done = match done.await {
                    Err(e @ StoreError::TagImmutable { .. }) => {
                        let msg = format!(
                            "{e}; tags in {} are immutable, so the manifest they point at cannot be deleted",
                            namespace_of(name)
                        );
                        self.audit(
                            &ctx.actor(),
                            &ctx.source,
                            "delete-manifest",
                            &target,
                            Outcome::Denied,
                            &msg,
                        )
                        .await?;
                        return Err(ApiError::new(Code::TagImmutable, msg));
                    }
                    other => other?,
                };
                if !done.removed() {
                    return Err(ApiError::new(
                        Code::ManifestUnknown,
                        format!("manifest {d} is not in {name}"),
                    ));
                }
                self.on_manifest_deleted(name, &d).await;
            }
        }
        Ok(StatusCode::ACCEPTED.into_response())
    }

    pub(crate) async fn tags(&self, name: &str, req: Request) -> ApiResult<Response> {
        if !self.meta.repo_exists(name).await? {
            return Err(ApiError::new(
                Code::NameUnknown,
                format!("repository {name} is not known"),
            ));
        }
        let n = query_param(&req, "n").and_then(|v| v.parse::<u32>().ok());
        let last = query_param(&req, "last").filter(|l| !l.is_empty());
        let limit = n.unwrap_or(100_000).min(100_000);
        let tags = if limit == 0 {
            Vec::new()
        } else {
            self.meta.list_tags(name, last, limit).await?
        };
        let mut resp =
            axum::Json(serde_json::json!({ "name": name, "tags": tags })).into_response();
        if let (Some(n), Some(l)) = (n, tags.last()) {
            if tags.len() as u32 == n {
                set(
                    &mut resp,
                    "link",
                    &format!("</v2/{name}/tags/list?n={n}&last={l}>; rel=\"next\""),
                );
            }
        }
        Ok(resp)
    }

    pub(crate) async fn referrers(
        &self,
        name: &str,
        digest: &str,
        req: Request,
    ) -> ApiResult<Response> {
        let d = parse_digest(digest)?;
        let filter = query_param(&req, "artifactType").filter(|a| !a.is_empty());
        let mut manifests = Vec::new();
        for rec in self.meta.referrers(name, &d).await? {
            if filter
                .as_ref()
                .is_some_and(|f| rec.artifact_type.as_deref() != Some(f.as_str()))
            {
                continue;
            }
            let mut desc = serde_json::Map::new();
            desc.insert("mediaType".into(), rec.media_type.clone().into());
            desc.insert("digest".into(), rec.digest.to_string().into());
            desc.insert("size".into(), rec.size.into());
            if let Some(at) = &rec.artifact_type {
                desc.insert("artifactType".into(), at.clone().into());
            }
            if let Some(a) = rec
                .annotations_json
                .as_deref()
                .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok())
            {
                desc.insert("annotations".into(), a);
            }
            manifests.push(serde_json::Value::Object(desc));
        }
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": manifests,
        });
        let mut resp = Response::new(Body::from(body.to_string()));
        set(&mut resp, "content-type", media_type::OCI_INDEX);
        if filter.is_some() {
            set(&mut resp, "oci-filters-applied", "artifactType");
        }
        Ok(resp)
    }

    /// `_catalog`, filtered to the repositories the caller may pull.
    pub(crate) async fn catalog(&self, ctx: &Ctx, req: Request) -> ApiResult<Response> {
        let n = query_param(&req, "n").and_then(|v| v.parse::<u32>().ok());
        let want = n.unwrap_or(10_000).min(10_000) as usize;
        let mut last = query_param(&req, "last").filter(|l| !l.is_empty());
        let mut out: Vec<String> = Vec::new();
        'outer: while out.len() < want {
            let batch = self.meta.list_repos(last.clone(), 500).await?;
            if batch.is_empty() {
                break;
            }
            for repo in batch {
                last = Some(repo.clone());
                if self.may(&ctx.authn.principal, &repo, Action::Pull).await {
                    out.push(repo);
                    if out.len() >= want {
                        break 'outer;
                    }
                }
            }
        }
        let mut resp = axum::Json(serde_json::json!({ "repositories": out })).into_response();
        if let (Some(n), Some(l)) = (n, out.last()) {
            if out.len() == n as usize {
                set(
                    &mut resp,
                    "link",
                    &format!("</v2/_catalog?n={n}&last={l}>; rel=\"next\""),
                );
            }
        }
        Ok(resp)
    }
}
