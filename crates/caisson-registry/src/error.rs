//! Distribution-spec error responses: `{"errors":[{"code","message","detail"}]}`.
//! A request the audit log cannot record is refused `503 AUDIT_UNAVAILABLE`
//! (fail closed; see [`caisson_registry_store::StoreError::AuditFailed`]).

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use caisson_registry_store::StoreError;

/// The spec's error codes (plus `TAG_IMMUTABLE` and `QUOTA_EXCEEDED`, which
/// clients show by message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    RangeInvalid,
    TagImmutable,
    QuotaExceeded,
    /// The audit record could not be made durable: the request was not
    /// carried out (fail closed).
    AuditUnavailable,
    TooManyRequests,
    Internal,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::TagImmutable => "TAG_IMMUTABLE",
            Code::QuotaExceeded => "QUOTA_EXCEEDED",
            Code::AuditUnavailable => "AUDIT_UNAVAILABLE",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::Internal => "INTERNAL_ERROR",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::BlobUploadInvalid
            | Code::DigestInvalid
            | Code::ManifestBlobUnknown
            | Code::ManifestInvalid
            | Code::NameInvalid
            | Code::SizeInvalid => StatusCode::BAD_REQUEST,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied | Code::QuotaExceeded => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::TagImmutable => StatusCode::CONFLICT,
            Code::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error response. `status` defaults from the code.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    /// The spec's free-form `detail`.
    pub detail: Option<serde_json::Value>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            status: code.status(),
            code,
            message: message.into(),
            detail: None,
            headers: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }

    pub fn internal(context: &str, err: &dyn std::error::Error) -> Self {
        let mut msg = format!("{context}: {err}");
        let mut src = err.source();
        while let Some(s) = src {
            msg.push_str(&format!(": {s}"));
            src = s.source();
        }
        tracing::error!("{msg}");
        ApiError::new(Code::Internal, msg)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::DigestMismatch { .. } => ApiError::new(Code::DigestInvalid, e.to_string()),
            StoreError::UploadUnknown(_) => ApiError::new(Code::BlobUploadUnknown, e.to_string()),
            StoreError::TagImmutable { .. } => ApiError::new(Code::TagImmutable, e.to_string()),
            StoreError::Exists { .. } => {
                ApiError::new(Code::Denied, e.to_string()).with_status(StatusCode::CONFLICT)
            }
            StoreError::NotFound { .. } => {
                ApiError::new(Code::NameUnknown, e.to_string()).with_status(StatusCode::NOT_FOUND)
            }
            StoreError::AuditFailed { .. } => {
                let full = ApiError::internal("audit log", &e);
                ApiError::new(
                    Code::AuditUnavailable,
                    "the audit log cannot record this request, so it was not carried out; retry later",
                )
                .with_detail(serde_json::json!({ "error": full.message }))
                .with_header(axum::http::header::RETRY_AFTER, "30")
            }
            _ => ApiError::internal("storage", &e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "errors": [{ "code": self.code.as_str(), "message": self.message, "detail": self.detail }]
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        for (k, v) in self.headers {
            resp.headers_mut().append(k, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
