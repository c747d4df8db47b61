//! Deciding on a waiting request: another owner or admin (never its requester) approves it after a step-up —
//! the act runs then, as its requester (who must still be an active owner or admin with the act's feature),
//! recorded as "requester (approved by approver)" — or refuses it; its requester may cancel it; after 24 hours
//! it has expired. An approved master key's secret waits sealed for its requester, who takes it once.

use super::{Act, Cleared};
use crate::backend::access::{AdminHandle, MemberParts, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::db::begin_write;
use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, ApprovalView, ApprovalsView, FreshKeyView, Permission};
use sqlx::Row as _;

const COLUMNS: &str = "id, summary, reason, requested_by, requester_membership_id, created_at, expires_at, state, \
                       decided_by, decided_at, outcome, act";

fn view(r: &sqlx::any::AnyRow, me: &MembershipId, now: i64) -> Result<ApprovalView, AppError> {
    let mut state: String = r.try_get("state")?;
    let expires_at: i64 = r.try_get("expires_at")?;
    if state == "pending" && expires_at <= now {
        state = "expired".to_owned();
    }
    Ok(ApprovalView {
        id: r.try_get("id")?,
        summary: r.try_get("summary")?,
        reason: r.try_get("reason")?,
        requested_by: r.try_get("requested_by")?,
        mine: r.try_get::<String, _>("requester_membership_id")? == me.as_str(),
        created_at: r.try_get("created_at")?,
        expires_at,
        state,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        outcome: r.try_get("outcome")?,
    })
}

/// The approvals page: the setting, what waits, and the latest decided requests.
pub async fn list(state: &AppState, ctx: &TenantCtx, _admin: &AdminHandle) -> Result<ApprovalsView, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    let required = super::required(&mut conn, ctx.tenant_id()).await?;
    let admins = super::admins(&mut conn, ctx.tenant_id()).await?;
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM approvals WHERE tenant_id = $1 ORDER BY created_at DESC, id LIMIT 100"
    ))
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut waiting = Vec::new();
    let mut decided = Vec::new();
    for r in &rows {
        let v = view(r, ctx.membership_id(), now)?;
        if v.state == "pending" {
            waiting.push(v);
        } else {
            decided.push(v);
        }
    }
    let key_waiting: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM approvals WHERE tenant_id = $1 AND requester_membership_id = $2 AND secret_sealed IS NOT NULL",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(ctx.membership_id().as_str())
    .fetch_one(&mut *conn)
    .await?;
    Ok(ApprovalsView {
        required,
        admins,
        is_owner: ctx.require_owner().is_ok(),
        waiting,
        decided,
        key_waiting: key_waiting > 0,
    })
}

/// A pending, unexpired request of the organisation, locked for the decision: (act, requester membership,
/// requester actor, summary).
async fn pending(
    conn: &mut sqlx::AnyConnection,
    ctx: &TenantCtx,
    id: &str,
    now: i64,
) -> Result<(Act, String, String, String), AppError> {
    let r = sqlx::query(&format!("SELECT {COLUMNS} FROM approvals WHERE id = $1 AND tenant_id = $2"))
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let state: String = r.try_get("state")?;
    if state != "pending" {
        return Err(AppError::Conflict { msg: format!("This request is already {state}.") });
    }
    if r.try_get::<i64, _>("expires_at")? <= now {
        return Err(AppError::Conflict { msg: "This request has expired: ask again.".to_owned() });
    }
    let act: Act = serde_json::from_str(&r.try_get::<String, _>("act")?).map_err(|_| AppError::Unavailable)?;
    Ok((act, r.try_get("requester_membership_id")?, r.try_get("requested_by")?, r.try_get("summary")?))
}

/// Marks a request decided, if it is still pending (a second decision at the same moment finds it taken).
async fn settle(
    conn: &mut sqlx::AnyConnection,
    ctx: &TenantCtx,
    id: &str,
    state: &str,
    now: i64,
    outcome: Option<&str>,
) -> Result<(), AppError> {
    let done = sqlx::query(
        "UPDATE approvals SET state = $1, decided_by = $2, decider_membership_id = $3, decided_at = $4, outcome = $5 \
         WHERE id = $6 AND tenant_id = $7 AND state = 'pending'",
    )
    .bind(state)
    .bind(ctx.actor())
    .bind(ctx.membership_id().as_str())
    .bind(now)
    .bind(outcome)
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict { msg: "This request was decided meanwhile.".to_owned() });
    }
    Ok(())
}

/// The requester's context now (an active owner or admin of the organisation), naming both people.
async fn requester(
    state: &AppState,
    tenant: &TenantId,
    membership: &str,
    approver: &str,
) -> Result<TenantCtx, AppError> {
    let r = sqlx::query(
        "SELECT m.account_id, m.role, m.grants, a.email, t.name FROM memberships m JOIN accounts a ON a.id = \
         m.account_id JOIN tenants t ON t.id = m.tenant_id WHERE m.id = $1 AND m.tenant_id = $2 \
         AND m.deactivated_at IS NULL AND m.role IN ('owner', 'admin')",
    )
    .bind(membership)
    .bind(tenant.as_str())
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(|| AppError::Conflict {
        msg: "Its requester is no longer an active owner or admin: the request cannot run.".to_owned(),
    })?;
    let email: String = r.try_get("email")?;
    let ctx = TenantCtx::member(MemberParts {
        tenant_id: tenant.clone(),
        account_id: AccountId(r.try_get("account_id")?),
        membership_id: MembershipId(membership.to_owned()),
        role: r.try_get("role")?,
        email: email.clone(),
        tenant_name: r.try_get("name")?,
        grants: Permission::parse_list(&r.try_get::<String, _>("grants")?),
        tenant_count: 1,
    });
    Ok(ctx.with_actor(format!("{email} (approved by {approver})")))
}

/// Approves a request (another owner or admin than its requester, stepped up) and runs its act.
pub async fn approve(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    proof: &SteppedUp,
    meta: &RequestMeta,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let (act, requester_membership, requested_by, summary) = {
        let mut conn = state.pool.acquire().await?;
        pending(&mut conn, ctx, id, now).await?
    };
    if requester_membership == ctx.membership_id().as_str() {
        return Err(AppError::Conflict {
            msg: "You asked for this: another owner or admin must approve it.".to_owned(),
        });
    }
    // Taken first (one approval runs the act once), then run; a failure is written on the request.
    let mut tx = begin_write(&state.pool).await?;
    settle(&mut tx, ctx, id, "approved", now, None).await?;
    let detail = format!("{summary} (request {id}), asked by {requested_by}");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "approval.approved", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    let as_requester = requester(state, ctx.tenant_id(), &requester_membership, ctx.actor()).await;
    let ran = match as_requester {
        Ok(r) => run(state, &r, proof, meta, id, act, ctx.actor()).await,
        Err(e) => Err(e),
    };
    let outcome = match &ran {
        Ok(done) => done.clone(),
        Err(e) => format!("not run: {e}"),
    };
    sqlx::query("UPDATE approvals SET state = $1, outcome = $2 WHERE id = $3 AND tenant_id = $4")
        .bind(if ran.is_ok() { "approved" } else { "failed" })
        .bind(&outcome)
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .execute(&state.pool)
        .await?;
    ran.map(|_| ())
}

/// Runs an approved act as its requester; returns what it did in words.
async fn run(
    state: &AppState,
    ctx: &TenantCtx,
    proof: &SteppedUp,
    meta: &RequestMeta,
    id: &str,
    act: Act,
    approver: &str,
) -> Result<String, AppError> {
    let cleared = Cleared::issued(act.clone(), Some(approver.to_owned()));
    match act {
        Act::MasterKey { input } => {
            let granted = ctx.require::<crate::backend::access::perm::ApiKeys>()?;
            let kind = crate::model::KeyKind::Master;
            let (view, fresh) =
                crate::backend::keys::create_key(state, meta, ctx, &granted, Some(proof), Some(&cleared), kind, &input)
                    .await?;
            let payload = format!("{}\n{}\n{}", view.id, fresh.secret, input.description);
            let (key_id, sealed) = state.keys.seal(aad(ctx.tenant_id(), id).as_bytes(), payload.as_bytes())?;
            sqlx::query("UPDATE approvals SET secret_sealed = $1, secret_key_id = $2 WHERE id = $3 AND tenant_id = $4")
                .bind(&sealed)
                .bind(&key_id)
                .bind(id)
                .bind(ctx.tenant_id().as_str())
                .execute(&state.pool)
                .await?;
            Ok(format!("master key {} created; its requester takes the secret once", view.display_prefix))
        }
        Act::TwoFactorPolicy { required } => {
            let admin = ctx.require_admin()?;
            crate::backend::identity::two_factor::set_policy(state, meta, ctx, &admin, proof, &cleared, required)
                .await?;
            Ok("done".to_owned())
        }
        Act::Retention { days } => {
            let admin = ctx.require_admin()?;
            let now = state.clock.now_ms();
            crate::backend::audit::retention::set_retention_days(
                &state.pool,
                &state.keys,
                now,
                ctx,
                &admin,
                meta,
                days,
                &cleared,
            )
            .await?;
            Ok("done".to_owned())
        }
        Act::DataExport => {
            let granted = ctx.require::<crate::backend::access::perm::Export>()?;
            let fresh = crate::backend::export::Fresh::SteppedUp(proof);
            let v = crate::backend::export::request(state, ctx, &granted, fresh, meta, &cleared).await?;
            Ok(format!("export {} started", v.id))
        }
        Act::EraseMember { membership_id } => {
            let admin = ctx.require_admin()?;
            let who = MembershipId(membership_id);
            crate::backend::organisation::erasure::erase_member(
                state, meta, ctx, &admin, proof, &cleared, &who, "ERASE",
            )
            .await?;
            Ok("done".to_owned())
        }
        Act::DeleteWebhook { webhook_id } => {
            let admin = ctx.require_admin()?;
            crate::backend::webhooks::endpoints::delete(state, ctx, &admin, proof, &cleared, meta, &webhook_id).await?;
            Ok("done".to_owned())
        }
        Act::WebhookEnabled { webhook_id, on } => {
            let admin = ctx.require_admin()?;
            crate::backend::webhooks::endpoints::set_enabled(
                state,
                ctx,
                &admin,
                proof,
                &cleared,
                meta,
                &webhook_id,
                on,
            )
            .await?;
            Ok("done".to_owned())
        }
        Act::FourEyes { on } => {
            let owner = ctx.require_owner()?;
            super::set_required(state, ctx, &owner, meta, &cleared, on).await?;
            Ok("done".to_owned())
        }
    }
}

fn aad(tenant: &TenantId, id: &str) -> String {
    format!("approved-key-secret\n{}\n{id}", tenant.as_str())
}

/// Refuses a request (another owner or admin than its requester): `approval.refused`.
pub async fn refuse(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    id: &str,
) -> Result<(), AppError> {
    decide_without_running(state, ctx, meta, id, "refused").await
}

/// Cancels one's own request: `approval.cancelled`.
pub async fn cancel(
    state: &AppState,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    meta: &RequestMeta,
    id: &str,
) -> Result<(), AppError> {
    decide_without_running(state, ctx, meta, id, "cancelled").await
}

async fn decide_without_running(
    state: &AppState,
    ctx: &TenantCtx,
    meta: &RequestMeta,
    id: &str,
    to: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = begin_write(&state.pool).await?;
    let (_, requester, requested_by, summary) = pending(&mut tx, ctx, id, now).await?;
    let mine = requester == ctx.membership_id().as_str();
    if to == "cancelled" && !mine {
        return Err(AppError::Conflict { msg: "Only its requester cancels a request; you may refuse it.".to_owned() });
    }
    if to == "refused" && mine {
        return Err(AppError::Conflict { msg: "Cancel your own request instead.".to_owned() });
    }
    settle(&mut tx, ctx, id, to, now, None).await?;
    let detail = format!("{summary} (request {id}), asked by {requested_by}");
    let action = format!("approval.{to}");
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, &action, Outcome::Success, &detail)).await?;
    tx.commit().await?;
    Ok(())
}

/// The secret of the caller's approved master key, once; `None` when there is none (or it was taken).
pub async fn take_key_secret(state: &AppState, ctx: &TenantCtx) -> Result<Option<FreshKeyView>, AppError> {
    let mut tx = begin_write(&state.pool).await?;
    let row = sqlx::query(
        "SELECT id, secret_sealed, secret_key_id FROM approvals WHERE tenant_id = $1 \
         AND requester_membership_id = $2 AND secret_sealed IS NOT NULL ORDER BY decided_at LIMIT 1",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(ctx.membership_id().as_str())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let id: String = r.try_get("id")?;
    let secret = state.keys.open(
        &r.try_get::<String, _>("secret_key_id")?,
        aad(ctx.tenant_id(), &id).as_bytes(),
        &r.try_get::<String, _>("secret_sealed")?,
    )?;
    // Taken by whichever request clears it: on PostgreSQL two requests may both have read it above, and only
    // the one whose update found it still there shows it.
    let taken = sqlx::query(
        "UPDATE approvals SET secret_sealed = NULL, secret_key_id = NULL WHERE id = $1 AND secret_sealed IS NOT NULL",
    )
    .bind(&id)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    tx.commit().await?;
    let payload = String::from_utf8(secret).map_err(|_| AppError::Unavailable)?;
    let mut parts = payload.splitn(3, '\n');
    let (Some(key_id), Some(secret), Some(description)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AppError::Unavailable);
    };
    Ok(Some(FreshKeyView { key_id: key_id.to_owned(), description: description.to_owned(), secret: secret.to_owned() }))
}
