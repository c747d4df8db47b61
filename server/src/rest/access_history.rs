//! `GET /api/v1/access-history`: the tenant's events, newest first, filtered, with cursor pagination
//! (scope `access_history:read`).

use super::ApiError;
use app::backend::audit::{self, EventFilter};
use app::backend::keys::verify::ApiPrincipal;
use app::backend::AppState;
use app::model::AppError;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only events of this member (a member `id` from `GET /api/v1/members`).
    pub member_id: Option<String>,
    /// Only this action, e.g. `sign_in`, `api.request`, `key.roll`.
    pub action: Option<String>,
    /// `success` or `failure`.
    #[param(pattern = "^(success|failure)$")]
    pub outcome: Option<String>,
    /// Only events of this API key (its id).
    pub key_id: Option<String>,
    /// Only events from this client IP address or CIDR block (its pattern: `openapi::IP_OR_BLOCK`) (e.g. `203.0.113.0/24`, `2001:db8::/32`).
    pub ip: Option<String>,
    /// From this instant (epoch ms, inclusive).
    #[param(minimum = 0)]
    pub since: Option<i64>,
    /// Until this instant (epoch ms, exclusive); a period that ends before it starts holds no events.
    #[param(minimum = 0)]
    pub until: Option<i64>,
    /// Events per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^-?[0-9]{1,19}\.[0-9a-fA-F-]{1,64}$")]
    pub cursor: Option<String>,
}

/// One event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    pub id: String,
    /// Epoch milliseconds.
    pub at: i64,
    pub action: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Who acted: an email, a masked attempted email, or an API key's display prefix.
    pub actor: String,
    pub ip: String,
    pub user_agent: String,
    pub detail: String,
    pub key_id: Option<String>,
}

/// A page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Lists the tenant's access history.
#[utoipa::path(
    get,
    path = "/access-history",
    tag = "access history",
    params(HistoryQuery),
    security(("api_key" = ["access_history:read"])),
    responses(
        (status = 200, description = "A page of events, newest first", body = EventPage),
        (status = 401, description = "Missing, invalid, expired or revoked key", body = super::openapi::ErrorBody),
        (status = 403, description = "The key lacks access_history:read", body = super::openapi::ErrorBody),
        (status = 422, description = "A filter or the cursor is not valid", body = super::openapi::ErrorBody),
    )
)]
pub async fn list_events(
    State(state): State<AppState>,
    Extension(p): Extension<Arc<ApiPrincipal>>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<EventPage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError(AppError::validation("query", e.body_text())))?;
    if let Some(o) = &q.outcome {
        if o != "success" && o != "failure" {
            return Err(ApiError(AppError::validation("outcome", "The outcome is success or failure.")));
        }
    }
    let granted = p.ctx.require::<app::backend::access::perm::AccessHistory>()?;
    if q.since.is_some_and(|t| t < 0) || q.until.is_some_and(|t| t < 0) {
        return Err(ApiError(AppError::validation("since", "Times are epoch milliseconds, from 0.")));
    }
    if let (Some(since), Some(until)) = (q.since, q.until) {
        if until <= since {
            return Ok(Json(EventPage { events: Vec::new(), next_cursor: None }));
        }
    }
    let filter = EventFilter {
        member: q.member_id,
        action: q.action,
        outcome: q.outcome,
        key_id: q.key_id,
        ip: q.ip,
        since: q.since,
        until: q.until,
        cursor: q.cursor,
    };
    let (events, next_cursor) =
        audit::list_page(&state.pool, &p.ctx, &granted, &filter, q.limit.unwrap_or(100)).await?;
    let events = events
        .into_iter()
        .map(|e| Event {
            id: e.id,
            at: e.at,
            action: e.action,
            outcome: e.outcome,
            actor: e.actor,
            ip: e.ip,
            user_agent: e.user_agent,
            detail: e.detail,
            key_id: e.key_id,
        })
        .collect();
    Ok(Json(EventPage { events, next_cursor }))
}
