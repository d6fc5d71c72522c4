//! Errors in one documented shape: RFC 9457 problem details
//! (`application/problem+json`), for every route and every client mistake.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem kind; `GET` it for a description.
    #[serde(rename = "type")]
    #[schema(example = "/problems/not-found")]
    pub kind: String,
    /// Short, human-readable summary of the kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, and where.
    pub detail: String,
}

/// The problem kinds the server emits: slug, status, title.
pub const KINDS: &[(&str, u16, &str)] = &[
    ("bad-request", 400, "The request is malformed"),
    ("unauthenticated", 401, "Authentication is required"),
    ("forbidden", 403, "Not allowed"),
    ("not-found", 404, "No such resource"),
    (
        "method-not-allowed",
        405,
        "Method not allowed on this resource",
    ),
    (
        "conflict",
        409,
        "The request conflicts with the current state",
    ),
    ("payload-too-large", 413, "The request body is too large"),
    ("unsupported-media-type", 415, "Unsupported content type"),
    (
        "unprocessable",
        422,
        "The request is well-formed but invalid",
    ),
    ("rate-limited", 429, "Too many requests"),
    ("internal", 500, "Internal server error"),
    ("unavailable", 503, "Service unavailable"),
    ("timeout", 503, "The request took too long"),
];

/// An error on its way to the client as a [`Problem`].
#[derive(Debug)]
pub struct ApiError {
    pub slug: &'static str,
    pub status: StatusCode,
    pub detail: String,
    pub retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(slug: &'static str, detail: impl Into<String>) -> Self {
        let status = KINDS
            .iter()
            .find(|k| k.0 == slug)
            .and_then(|k| StatusCode::from_u16(k.1).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            slug,
            status,
            detail: detail.into(),
            retry_after_s: None,
        }
    }
    pub fn bad_request(d: impl Into<String>) -> Self {
        Self::new("bad-request", d)
    }
    pub fn unauthenticated(d: impl Into<String>) -> Self {
        Self::new("unauthenticated", d)
    }
    pub fn forbidden(d: impl Into<String>) -> Self {
        Self::new("forbidden", d)
    }
    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new("not-found", d)
    }
    pub fn unprocessable(d: impl Into<String>) -> Self {
        Self::new("unprocessable", d)
    }
    pub fn conflict(d: impl Into<String>) -> Self {
        Self::new("conflict", d)
    }
    /// A server-side failure: logged in full, reported without internals.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            "internal",
            "the server failed to handle this request; the error is logged",
        )
    }

    pub fn problem(&self) -> Problem {
        let title = KINDS
            .iter()
            .find(|k| k.0 == self.slug)
            .map_or("Error", |k| k.2);
        Problem {
            kind: format!("/problems/{}", self.slug),
            title: title.into(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.slug, self.status, self.detail)
    }
}

/// So that callers outside a request (the CLI driving a live run) can use `?` with `anyhow`.
impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"sallyport\""),
            );
        }
        if let Some(s) = self.retry_after_s {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => Self::new("payload-too-large", r.body_text()),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(
                "unsupported-media-type",
                "send the body as JSON with Content-Type: application/json",
            ),
            StatusCode::UNPROCESSABLE_ENTITY => Self::unprocessable(r.body_text()),
            _ => Self::bad_request(r.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::bad_request(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(r.body_text())
    }
}

impl From<sallyport_store::StoreError> for ApiError {
    fn from(e: sallyport_store::StoreError) -> Self {
        match e {
            sallyport_store::StoreError::Conflict(m) => Self::conflict(m),
            other => Self::internal(other),
        }
    }
}

/// `GET /problems/{slug}`: a one-paragraph description of a problem kind.
pub async fn describe(axum::extract::Path(slug): axum::extract::Path<String>) -> Response {
    match KINDS.iter().find(|k| k.0 == slug) {
        Some((s, status, title)) => axum::response::Html(format!(
            "<!doctype html><html lang=\"en\"><title>{title}</title><h1>{title}</h1>\
             <p>Problem type <code>/problems/{s}</code>, HTTP status {status}. The body is \
             <code>application/problem+json</code> (RFC 9457) with <code>type</code>, <code>title</code>, \
             <code>status</code> and <code>detail</code>; <code>detail</code> says what was wrong and where.</p></html>"
        ))
        .into_response(),
        None => ApiError::not_found(format!("no problem kind {slug:?}")).into_response(),
    }
}
