//! The console's access-history page: the filter form read into an [`EventFilter`], the page's data, the
//! integrity check with its own event, and the chain key for offline verification.

use super::query::{list_page, EventFilter};
use super::{NewEvent, Outcome};
use crate::backend::access::{perm, Granted, OwnerHandle, TenantCtx};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{parse_date_utc, AppError, ChainKeyView, ChainReportView, ChoiceView, HistoryView};
use sqlx::Row as _;

/// Events per console page.
pub const PAGE: i64 = 50;

/// The filter form as typed (empty fields mean "any"); also the query string of an export.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct FilterForm {
    pub member: Option<String>,
    pub key: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub ip: Option<String>,
    /// `YYYY-MM-DD`, first day included (UTC).
    pub from: Option<String>,
    /// `YYYY-MM-DD`, last day included (UTC).
    pub to: Option<String>,
    pub cursor: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

impl FilterForm {
    /// Checks the form; a malformed field is a validation error naming it.
    pub fn to_filter(&self) -> Result<EventFilter, AppError> {
        let day = |field: &str, v: &Option<String>| -> Result<Option<i64>, AppError> {
            given(v)
                .map(|s| parse_date_utc(&s).ok_or_else(|| AppError::validation(field, "Enter a date as YYYY-MM-DD.")))
                .transpose()
        };
        Ok(EventFilter {
            member: given(&self.member),
            action: given(&self.action),
            outcome: given(&self.outcome),
            key_id: given(&self.key),
            ip: given(&self.ip),
            since: day("from", &self.from)?,
            until: day("to", &self.to)?.map(|t| t + crate::backend::platform::clock::DAY_MS),
            cursor: given(&self.cursor),
        })
    }
}

/// One page of the history with the choices of the filter form.
pub async fn history_view(
    state: &AppState,
    ctx: &TenantCtx,
    granted: &Granted<perm::AccessHistory>,
    form: &FilterForm,
) -> Result<HistoryView, AppError> {
    let filter = form.to_filter()?;
    let (events, next_cursor) = list_page(&state.pool, ctx, granted, &filter, PAGE).await?;
    let members = sqlx::query(
        "SELECT m.id, a.email FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.tenant_id = $1 ORDER BY a.email",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&state.pool)
    .await?;
    // Canary keys stay out of the list for non-admins: their existence is the admins' secret.
    let keys = sqlx::query(
        "SELECT id, display_prefix, description FROM api_keys WHERE tenant_id = $1 AND (kind <> 'canary' OR $2 = 1) \
         ORDER BY created_at DESC",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(i64::from(ctx.is_admin()))
    .fetch_all(&state.pool)
    .await?;
    let last_check = EventFilter { action: Some("audit.verify".to_owned()), ..EventFilter::default() };
    let last_verification = list_page(&state.pool, ctx, granted, &last_check, 1).await?.0.pop();
    let choice = |value: String, label: String| ChoiceView { value, label };
    Ok(HistoryView {
        events,
        next_cursor,
        members: members
            .iter()
            .map(|r| Ok(choice(r.try_get("id")?, r.try_get("email")?)))
            .collect::<Result<_, sqlx::Error>>()?,
        keys: keys
            .iter()
            .map(|r| {
                let prefix: String = r.try_get("display_prefix")?;
                let description: String = r.try_get("description")?;
                Ok(choice(r.try_get("id")?, format!("{prefix}… {description}")))
            })
            .collect::<Result<_, sqlx::Error>>()?,
        retention_days: super::retention::retention_days(&state.pool, ctx).await?,
        can_manage: ctx.is_admin(),
        is_owner: ctx.require_owner().is_ok(),
        last_verification,
    })
}

/// Checks the tenant's chain and records that it was checked, with the result.
pub async fn verify_with_event(
    state: &AppState,
    ctx: &TenantCtx,
    granted: &Granted<perm::AccessHistory>,
    meta: &RequestMeta,
) -> Result<ChainReportView, AppError> {
    let report = super::verify::verify_tenant(&state.pool, &state.keys, &state.anchors, ctx, granted).await?;
    let (outcome, detail) = match &report.problem {
        None => (Outcome::Success, format!("{} events verified", report.checked)),
        Some(p) => (Outcome::Failure, format!("chain broken: {p}")),
    };
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    super::record(
        &mut tx,
        &state.keys,
        state.clock.now_ms(),
        &NewEvent::by(ctx, meta, "audit.verify", outcome, &detail),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

/// The tenant's chain keys (owners, after a step-up); each reveal is an event.
pub async fn reveal_chain_key(
    state: &AppState,
    ctx: &TenantCtx,
    _owner: &OwnerHandle,
    _proof: &SteppedUp,
    meta: &RequestMeta,
) -> Result<ChainKeyView, AppError> {
    let chain = ctx.tenant_id().as_str();
    let keys = state
        .keys
        .audit_chain_keys(chain)
        .into_iter()
        .map(|(id, k)| ChoiceView { value: hex::encode(k), label: id })
        .collect();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let ev = NewEvent::by(ctx, meta, "audit.chain_key_reveal", Outcome::Success, "for offline verification");
    super::record(&mut tx, &state.keys, state.clock.now_ms(), &ev).await?;
    tx.commit().await?;
    Ok(ChainKeyView { chain: chain.to_owned(), keys })
}

/// Checks an export request, records it (format and filter), and bounds it to what exists now (the export's
/// own event included): the count announced first and the rows streamed after it then agree.
pub async fn begin_export(
    state: &AppState,
    ctx: &TenantCtx,
    granted: &Granted<perm::AccessHistory>,
    meta: &RequestMeta,
    form: &FilterForm,
    format: super::export::Format,
) -> Result<(EventFilter, i64), AppError> {
    let mut filter = EventFilter { cursor: None, ..form.to_filter()? };
    // Refuse a malformed filter before recording anything.
    super::query::where_clause(ctx, &filter)?;
    let now = state.clock.now_ms();
    let detail = format!("as {}{}", format.extension(), describe(&filter));
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let ev = NewEvent::by(ctx, meta, "audit.export", Outcome::Success, &detail);
    super::record(&mut tx, &state.keys, now, &ev).await?;
    tx.commit().await?;
    filter.until = Some(filter.until.map_or(now + 1, |u| u.min(now + 1)));
    let rows = super::export::count(&state.pool, ctx, granted, &filter).await?;
    Ok((filter, rows))
}

fn describe(f: &EventFilter) -> String {
    let parts: Vec<String> = [
        f.member.as_ref().map(|v| format!("member {v}")),
        f.key_id.as_ref().map(|v| format!("key {v}")),
        f.action.as_ref().map(|v| format!("action {v}")),
        f.outcome.as_ref().map(|v| format!("outcome {v}")),
        f.ip.as_ref().map(|v| format!("ip {v}")),
        f.since.map(|v| format!("from {v}")),
        f.until.map(|v| format!("until {v}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}
