//! `/api/v1/keys`: list, create, roll and revoke keys — master keys only. A master key creates write, read
//! and restricted keys within its own guardrails; master and canary keys are made by a person in the console.

use super::{ApiError, ApiJson};
use app::backend::keys::verify::ApiPrincipal;
use app::backend::keys::{self as backend, KeyInput};
use app::backend::platform::request::RequestMeta;
use app::backend::AppState;
use app::model::{Access, ApiResource, AppError, KeyKind, KeyView, Scopes};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::ToSchema;

/// A key's metadata (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    /// master, write, read or restricted.
    pub kind: String,
    pub description: String,
    /// The non-secret start of the key, to recognise it.
    pub display_prefix: String,
    /// Resource → none, read or write.
    pub scopes: BTreeMap<String, String>,
    pub allowed_ips: Vec<String>,
    pub allowed_referers: Vec<String>,
    /// Requests per hour per client IP.
    pub rate_per_hour: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
    /// active, due, expired, disabled or revoked.
    pub status: String,
    /// While an old secret is in its grace after a roll: its prefix and end.
    pub previous_prefix: Option<String>,
    pub previous_ends_at: Option<i64>,
    /// Works only over a connection presenting an enrolled machine's client certificate.
    pub machines_only: bool,
}

impl From<KeyView> for ApiKey {
    fn from(k: KeyView) -> Self {
        Self {
            id: k.id,
            kind: k.kind.as_str().to_owned(),
            description: k.description,
            display_prefix: k.display_prefix,
            scopes: ApiResource::ALL
                .into_iter()
                .map(|r| (r.as_str().to_owned(), k.scopes.access(r).as_str().to_owned()))
                .collect(),
            allowed_ips: k.allowed_ips,
            allowed_referers: k.allowed_referers,
            rate_per_hour: k.rate_per_hour,
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            status: serde_json::to_value(k.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
            previous_prefix: k.previous_prefix,
            previous_ends_at: k.previous_ends_at,
            machines_only: k.machines_only,
        }
    }
}

/// The keys list.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub keys: Vec<ApiKey>,
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// write, read or restricted.
    pub kind: String,
    pub description: String,
    /// Days until expiry (at most the tenant's maximum and the creating key's own expiry).
    #[serde(default, deserialize_with = "super::whole::optional")]
    pub expires_in_days: Option<i64>,
    /// IPv4/IPv6 addresses or CIDR blocks; required (within the creating key's) when the creating key has one.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// Referer patterns like `https://shop.example.com/*` or `*.example.com` (spoofable; for browser keys).
    #[serde(default)]
    pub allowed_referers: Vec<String>,
    #[serde(default, deserialize_with = "super::whole::optional")]
    pub rate_per_hour: Option<i64>,
    /// For restricted keys: resource → none, read or write.
    #[serde(default)]
    pub scopes: BTreeMap<String, String>,
    /// Works only from an enrolled machine (required when the creating key is machines-only).
    #[serde(default)]
    pub machines_only: bool,
}

/// A new key and its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

/// How long the old secret keeps working.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Roll {
    /// 0 (stop now) to 2592000 (30 days).
    #[schema(minimum = 0, maximum = 2592000)]
    #[serde(deserialize_with = "super::whole::required")]
    pub grace_seconds: i64,
}

/// The new secret after a roll.
#[derive(Debug, Serialize, ToSchema)]
pub struct RolledKey {
    pub id: String,
    pub secret: String,
}

/// The proof of key management: only a master key of a maker who is still an admin carries it (the gate has
/// already refused every other key by `app::policy::REST_ROUTES`).
fn master(p: &ApiPrincipal) -> Result<app::backend::access::Granted<app::backend::access::perm::ApiKeys>, ApiError> {
    Ok(p.ctx.require::<app::backend::access::perm::ApiKeys>()?)
}

/// Lists the tenant's keys (canary keys are never shown to a key).
#[utoipa::path(
    get, path = "/keys", tag = "keys",
    security(("api_key" = ["master"])),
    responses(
        (status = 200, description = "The keys", body = KeyList),
        (status = 403, description = "Not a master key", body = super::openapi::ErrorBody),
    )
)]
pub async fn list_keys(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
) -> Result<Json<KeyList>, ApiError> {
    let granted = master(&p)?;
    let view = backend::list_keys(&state, &p.ctx, &granted).await?;
    Ok(Json(KeyList { keys: view.keys.into_iter().map(ApiKey::from).collect() }))
}

/// Creates a write, read or restricted key within the creating key's guardrails.
#[utoipa::path(
    post, path = "/keys", tag = "keys",
    request_body = NewKey,
    security(("api_key" = ["master"])),
    responses(
        (status = 201, description = "Created; the secret is shown only in this answer", body = CreatedKey),
        (status = 403, description = "Not a master key, or a master or canary kind asked for", body = super::openapi::ErrorBody),
        (status = 422, description = "Invalid input, or looser than the creating key", body = super::openapi::ErrorBody),
    )
)]
pub async fn create_key(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    Extension(meta): Extension<RequestMeta>,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<impl IntoResponse, ApiError> {
    let granted = master(&p)?;
    let kind = KeyKind::parse(&body.kind)
        .filter(|k| matches!(k, KeyKind::Write | KeyKind::Read | KeyKind::Restricted))
        .ok_or_else(|| AppError::validation("kind", "A key can create write, read or restricted keys."))?;
    // One address, block or pattern per entry (the console's text box splits on commas and spaces; here an
    // entry that would split is refused rather than read as several).
    for (field, list) in [("allowed_ips", &body.allowed_ips), ("allowed_referers", &body.allowed_referers)] {
        if list.iter().any(|e| e.is_empty() || e.trim() != e || e.contains([',', ' ', '\n', '\r', '\t'])) {
            return Err(ApiError(AppError::validation(
                field,
                "Give one entry per list item, without spaces or commas.",
            )));
        }
    }
    let mut scopes = Vec::new();
    for (resource, level) in &body.scopes {
        let r = ApiResource::parse(resource)
            .ok_or_else(|| AppError::validation("scopes", format!("Unknown resource “{resource}”.")))?;
        let a = Access::parse(level)
            .ok_or_else(|| AppError::validation("scopes", format!("“{level}” is not none, read or write.")))?;
        scopes.push((r, a));
    }
    let input = KeyInput {
        description: body.description,
        expires_in_days: body.expires_in_days,
        allowed_ips: body.allowed_ips.join(","),
        allowed_referers: body.allowed_referers.join(","),
        rate_per_hour: body.rate_per_hour,
        scopes: Scopes(scopes),
        looks_like: None,
        machines_only: body.machines_only,
    };
    let (view, fresh) = backend::create_key(&state, &meta, &p.ctx, &granted, None, None, kind, &input).await?;
    Ok((StatusCode::CREATED, Json(CreatedKey { key: view.into(), secret: fresh.secret })))
}

/// Issues a new secret; the old one keeps working for `grace_seconds`.
#[utoipa::path(
    post, path = "/keys/{id}/roll", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    request_body = Roll,
    security(("api_key" = ["master"])),
    responses(
        (status = 200, description = "Rolled; the new secret is shown only in this answer", body = RolledKey),
        (status = 404, description = "No such key in this tenant", body = super::openapi::ErrorBody),
        (status = 409, description = "Revoked or expired", body = super::openapi::ErrorBody),
    )
)]
pub async fn roll_key(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    Path(id): Path<String>,
    Extension(meta): Extension<RequestMeta>,
    ApiJson(body): ApiJson<Roll>,
) -> Result<Json<RolledKey>, ApiError> {
    let granted = master(&p)?;
    let grace_ms = body.grace_seconds.checked_mul(1000).unwrap_or(-1);
    let fresh = backend::roll_key(&state, &meta, &p.ctx, &granted, &id, grace_ms).await?;
    Ok(Json(RolledKey { id: fresh.key_id, secret: fresh.secret }))
}

/// Revokes a key at once (both secrets).
#[utoipa::path(
    delete, path = "/keys/{id}", tag = "keys",
    params(("id" = String, Path, description = "The key's id")),
    security(("api_key" = ["master"])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key in this tenant", body = super::openapi::ErrorBody),
    )
)]
pub async fn revoke_key(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    Path(id): Path<String>,
    Extension(meta): Extension<RequestMeta>,
) -> Result<StatusCode, ApiError> {
    let granted = master(&p)?;
    backend::revoke_key(&state, &meta, &p.ctx, &granted, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
