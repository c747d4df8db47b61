//! `GET /api/v1/members`: the tenant's members (scope `members:read`).

use super::ApiError;
use app::backend::keys::verify::ApiPrincipal;
use app::backend::AppState;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;

/// A member of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Member<'a> {
    /// Membership id.
    pub id: &'a str,
    pub email: &'a str,
    /// owner, admin, member or auditor.
    pub role: &'a str,
    /// Features granted to a member (owners, admins and auditors have theirs by role).
    pub grants: Vec<&'static str>,
    pub two_factor_enabled: bool,
    /// Epoch milliseconds of the last sign-in; absent before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<i64>,
    /// Epoch milliseconds of the deactivation; absent while active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deactivated_at: Option<i64>,
}

/// The members list.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList<'a> {
    pub members: Vec<Member<'a>>,
}

/// Lists every member of the key's tenant. Answered gzipped (`Content-Encoding: gzip`) to a request whose
/// `Accept-Encoding` accepts it.
#[utoipa::path(
    get,
    path = "/members",
    tag = "members",
    security(("api_key" = ["members:read"])),
    responses(
        (status = 200, description = "The members", body = MemberList),
        (status = 401, description = "Missing, invalid, expired or revoked key", body = super::openapi::ErrorBody),
        (status = 403, description = "The key lacks members:read", body = super::openapi::ErrorBody),
        (status = 429, description = "Hourly limit reached; see Retry-After", body = super::openapi::ErrorBody),
    )
)]
pub async fn list_members(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    // The request itself, not a copy of its headers (`HeaderMap` as an extractor clones them all).
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let granted = p.ctx.require::<app::backend::access::perm::Team>()?;
    let gzipped = app::backend::platform::gzip::accepted(req.headers());
    let json = app::backend::organisation::members::member_list_json(&state, &p.ctx, &granted, gzipped, |members| {
        let members = members
            .iter()
            .map(|m| Member {
                id: &m.membership_id,
                email: &m.email,
                role: &m.role,
                grants: m.grants.iter().map(|g| g.as_str()).collect(),
                two_factor_enabled: m.two_factor_enabled,
                last_sign_in_at: m.last_sign_in_at,
                deactivated_at: m.deactivated_at,
            })
            .collect();
        // Strings, numbers and lists only: serialising cannot fail.
        serde_json::to_vec(&MemberList { members }).unwrap_or_default()
    })
    .await?;
    let mut res = ([(header::CONTENT_TYPE, "application/json")], axum::body::Bytes::from_owner(json)).into_response();
    res.headers_mut().insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if gzipped {
        res.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(res)
}
