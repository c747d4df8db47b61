//! Invitations: an admin invites an email with a role and grants; the email carries a single-use link
//! (256-bit token, stored as SHA-256, 72 hours). Accepting creates the account with a password under the
//! tenant's rules (two-factor enrollment follows at sign-in when the tenant requires it), or adds the
//! membership to an existing account once it is signed in as that email. Pending invitations are listed,
//! resent (a new link; the old one dies) and revoked. Every act is audited.

use crate::backend::access::{perm, AdminHandle, Granted, TenantCtx};
use crate::backend::alerts::notify::{self, Notice};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::accounts::{email_key, validate_email};
use crate::backend::identity::password::{
    check_new_password, min_chars_for, MAX_CHARS, MIN_CHARS_MULTI_FACTOR, MIN_CHARS_SINGLE_FACTOR,
};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::clock::HOUR_MS;
use crate::backend::platform::crypto::{random_token, token_digest};
use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, InvitationView, InviteInfo, PasswordPolicyView, Permission, Role};
use secrecy::SecretString;
use sqlx::{AnyConnection, Row as _};

/// How long an invitation link works.
pub const INVITATION_TTL_MS: i64 = 72 * HOUR_MS;

async fn send_link(state: &AppState, meta: &RequestMeta, ctx: &TenantCtx, email: &str, role: &str, token: &str) {
    let link = format!("{}/invite/{token}", state.public_url);
    let notice = Notice::Invitation { link: &link, inviter: ctx.actor(), role };
    notify::send(state, &notice, email, ctx.tenant_name(), meta).await;
}

/// Invites `email` with a role and grants. Inviting an admin (or an owner: owners only) or granting features
/// needs a step-up, as changing a member does.
#[allow(clippy::too_many_arguments)]
pub async fn invite(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    step_up: Option<&SteppedUp>,
    email: &str,
    role: Role,
    grants: &[Permission],
) -> Result<(), AppError> {
    let email = validate_email(email)?;
    if role == Role::Owner && ctx.role() != Role::Owner {
        return Err(AppError::Forbidden);
    }
    let grants = if role == Role::Member { Permission::join(grants) } else { String::new() };
    if (role.is_admin() || !grants.is_empty()) && step_up.is_none() {
        return Err(AppError::StepUpRequired);
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let member = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.tenant_id = $1 AND a.email_key = $2",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(email_key(&email))
    .fetch_one(&mut *tx)
    .await?;
    if member.try_get::<i64, _>("n")? > 0 {
        return Err(AppError::Conflict { msg: "That email is already a member of this organisation.".into() });
    }
    // One open invitation per email: a new one replaces the old.
    sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE tenant_id = $2 AND email_key = $3 \
         AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(ctx.tenant_id().as_str())
    .bind(email_key(&email))
    .execute(&mut *tx)
    .await?;
    let token = random_token();
    sqlx::query(
        "INSERT INTO invitations (id, tenant_id, email, email_key, role, grants, token_hash, invited_by, created_at, \
         expires_at, invited_by_membership) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(ctx.tenant_id().as_str())
    .bind(&email)
    .bind(email_key(&email))
    .bind(role.as_str())
    .bind(&grants)
    .bind(token_digest(&token))
    .bind(ctx.actor())
    .bind(now)
    .bind(now + INVITATION_TTL_MS)
    .bind(ctx.membership_id().as_str())
    .execute(&mut *tx)
    .await?;
    let detail = format!("{email} as {} [{grants}]", role.as_str());
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "invitation.create", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    send_link(state, meta, ctx, &email, role.as_str(), &token).await;
    Ok(())
}

/// Open invitations of the tenant, newest first.
pub async fn list_pending(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::Team>,
) -> Result<Vec<InvitationView>, AppError> {
    let read_at = crate::backend::access::epoch::current();
    let rows = sqlx::query(
        "SELECT id, email, role, grants, invited_by, created_at, expires_at FROM invitations \
         WHERE tenant_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC, id",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&state.pool)
    .await?;
    let now = state.clock.now_ms();
    let list: Vec<InvitationView> = rows
        .iter()
        .map(|r| {
            let grants: String = r.try_get("grants")?;
            let expires_at: i64 = r.try_get("expires_at")?;
            Ok(InvitationView {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                role: r.try_get("role")?,
                grants: Permission::parse_list(&grants),
                invited_by: r.try_get("invited_by")?,
                created_at: r.try_get("created_at")?,
                expires_at,
                expired: expires_at <= now,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    // A page showing the list stays as it is until the next invitation expires.
    let next_expiry = list.iter().filter(|i| !i.expired).map(|i| i.expires_at).min().unwrap_or(i64::MAX);
    let clock = state.clock.clone();
    crate::backend::access::epoch::RenderReads::note_database_read(read_at, move || clock.now_ms() < next_expiry);
    Ok(list)
}

/// Sends an open invitation again with a new link (the old link stops working) and a fresh 72 hours.
pub async fn resend(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let token = random_token();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query(
        "SELECT email, role FROM invitations WHERE id = $1 AND tenant_id = $2 AND accepted_at IS NULL \
         AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let email: String = row.try_get("email")?;
    let role: String = row.try_get("role")?;
    // Sending it again is inviting again: only an owner sends an invitation that makes an owner, and the one
    // who sends it becomes its maker (it ends with their power to invite, `doors`).
    if role == Role::Owner.as_str() && ctx.role() != Role::Owner {
        return Err(AppError::Forbidden);
    }
    sqlx::query(
        "UPDATE invitations SET token_hash = $1, expires_at = $2, invited_by = $3, invited_by_membership = $4 \
         WHERE id = $5 AND tenant_id = $6",
    )
    .bind(token_digest(&token))
    .bind(now + INVITATION_TTL_MS)
    .bind(ctx.actor())
    .bind(ctx.membership_id().as_str())
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .execute(&mut *tx)
    .await?;
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "invitation.resend", Outcome::Success, &email))
        .await?;
    tx.commit().await?;
    send_link(state, meta, ctx, &email, &role, &token).await;
    Ok(())
}

/// Revokes an open invitation: its link stops working at once.
pub async fn revoke(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query(
        "SELECT email FROM invitations WHERE id = $1 AND tenant_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let email: String = row.try_get("email")?;
    // Only while still open: an acceptance committed since the read above (PostgreSQL) wins, and the admin is
    // told the invitation was no longer there rather than that it was revoked.
    let done = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND accepted_at IS NULL \
         AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "invitation.revoke", Outcome::Success, &email))
        .await?;
    tx.commit().await?;
    Ok(())
}

struct Open {
    id: String,
    tenant_id: TenantId,
    tenant_name: String,
    requires_two_factor: bool,
    email: String,
    role: String,
    grants: String,
    invited_by: String,
}

/// An open invitation by its token: `NotFound` when unknown, used, revoked or expired (one answer for all).
async fn open(conn: &mut AnyConnection, now: i64, token: &str) -> Result<Open, AppError> {
    if token.len() > 128 {
        return Err(AppError::NotFound);
    }
    let r = sqlx::query(
        "SELECT i.id, i.tenant_id, t.name, t.require_two_factor, i.email, i.role, i.grants, i.invited_by \
         FROM invitations i JOIN tenants t ON t.id = i.tenant_id WHERE i.token_hash = $1 AND i.accepted_at IS NULL \
         AND i.revoked_at IS NULL AND i.expires_at > $2",
    )
    .bind(token_digest(token))
    .bind(now)
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Open {
        id: r.try_get("id")?,
        tenant_id: TenantId(r.try_get("tenant_id")?),
        tenant_name: r.try_get("name")?,
        requires_two_factor: r.try_get::<i64, _>("require_two_factor")? == 1,
        email: r.try_get("email")?,
        role: r.try_get("role")?,
        grants: r.try_get("grants")?,
        invited_by: r.try_get("invited_by")?,
    })
}

/// The account an email already has, with whether its password is set.
async fn account_of(conn: &mut AnyConnection, email: &str) -> Result<Option<(AccountId, bool)>, AppError> {
    let row = sqlx::query("SELECT id, password_hash FROM accounts WHERE email_key = $1")
        .bind(email_key(email))
        .fetch_optional(conn)
        .await?;
    match row {
        Some(r) => {
            let hash: Option<String> = r.try_get("password_hash")?;
            Ok(Some((AccountId(r.try_get("id")?), hash.is_some())))
        }
        None => Ok(None),
    }
}

/// What the invitation page shows.
pub async fn invite_info(state: &AppState, token: &str) -> Result<InviteInfo, AppError> {
    let mut conn = state.pool.acquire().await?;
    let inv = open(&mut conn, state.clock.now_ms(), token).await?;
    let existing = account_of(&mut conn, &inv.email).await?;
    let min_chars = match &existing {
        Some((id, _)) => min_chars_for(&mut conn, id).await?,
        None if inv.requires_two_factor => MIN_CHARS_MULTI_FACTOR,
        None => MIN_CHARS_SINGLE_FACTOR,
    };
    Ok(InviteInfo {
        tenant_name: inv.tenant_name,
        email: inv.email,
        role: inv.role,
        invited_by: inv.invited_by,
        has_account: existing.is_some_and(|(_, has_password)| has_password),
        requires_two_factor: inv.requires_two_factor,
        policy: PasswordPolicyView { min_chars, max_chars: MAX_CHARS },
    })
}

async fn join(conn: &mut AnyConnection, inv: &Open, account: &AccountId, now: i64) -> Result<(), AppError> {
    let done = sqlx::query(
        "UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL AND revoked_at IS NULL \
         AND expires_at > $1",
    )
    .bind(now)
    .bind(&inv.id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::NotFound);
    }
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, account_id, role, grants, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(MembershipId::new().as_str())
    .bind(inv.tenant_id.as_str())
    .bind(account.as_str())
    .bind(&inv.role)
    .bind(&inv.grants)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(|e| match AppError::from(e) {
        AppError::Conflict { .. } => {
            AppError::Conflict { msg: "You are already a member of this organisation.".into() }
        }
        other => other,
    })?;
    Ok(())
}

fn accepted_event<'a>(inv: &'a Open, account: &'a AccountId, meta: &'a RequestMeta) -> NewEvent<'a> {
    NewEvent {
        tenant_id: Some(&inv.tenant_id),
        account_id: Some(account),
        actor: &inv.email,
        action: "invitation.accept",
        outcome: Outcome::Success,
        meta,
        detail: &inv.role,
        key_id: None,
    }
}

/// Accepts an invitation for an email without a usable account: sets its password (the tenant's rules) and
/// creates the membership. The member then signs in (and enrolls two-factor when the tenant requires it).
pub async fn accept_new(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
    password: &SecretString,
) -> Result<(), AppError> {
    use secrecy::ExposeSecret as _;
    let now = state.clock.now_ms();
    let inv = {
        let mut conn = state.pool.acquire().await?;
        let inv = open(&mut conn, now, token).await?;
        if account_of(&mut conn, &inv.email).await?.is_some_and(|(_, has_password)| has_password) {
            return Err(AppError::Conflict {
                msg: "This email already has a Rampart account: sign in, then open the invitation link again.".into(),
            });
        }
        inv
    };
    let min = if inv.requires_two_factor { MIN_CHARS_MULTI_FACTOR } else { MIN_CHARS_SINGLE_FACTOR };
    check_new_password(password.expose_secret(), min, &inv.email, &inv.tenant_name)?;
    let hash = state.hasher.hash(password).await?;
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let account = match account_of(&mut tx, &inv.email).await? {
        Some((id, _)) => {
            // Only a password never set: one set meanwhile (a setup link used in the same moment) stays.
            let set = sqlx::query(
                "UPDATE accounts SET password_hash = $1, password_set_at = $2 WHERE id = $3 AND password_hash IS NULL",
            )
            .bind(&hash)
            .bind(now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            if set.rows_affected() != 1 {
                return Err(AppError::Conflict {
                    msg: "This email already has a Rampart account: sign in, then open the invitation link again."
                        .into(),
                });
            }
            // The account's setup link, from before it had a password, cannot replace this one.
            crate::backend::identity::tokens::retire_all(&mut tx, &id, now).await?;
            id
        }
        None => {
            let id = AccountId::new();
            sqlx::query(
                "INSERT INTO accounts (id, email, email_key, password_hash, password_set_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(id.as_str())
            .bind(&inv.email)
            .bind(email_key(&inv.email))
            .bind(&hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            id
        }
    };
    join(&mut tx, &inv, &account, now).await?;
    audit::record(&mut tx, &state.keys, now, &accepted_event(&inv, &account, meta)).await?;
    tx.commit().await?;
    Ok(())
}

/// Accepts an invitation for the signed-in account (its email must be the invited one): the membership is
/// added; the member switches to the new organisation from the console.
pub async fn accept_existing(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    token: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let inv = open(&mut tx, now, token).await?;
    if email_key(&inv.email) != email_key(ctx.actor()) {
        return Err(AppError::Conflict {
            msg: format!("This invitation is for another email. Sign out, then sign in as {} to accept it.", inv.email),
        });
    }
    join(&mut tx, &inv, ctx.account_id(), now).await?;
    audit::record(&mut tx, &state.keys, now, &accepted_event(&inv, ctx.account_id(), meta)).await?;
    tx.commit().await?;
    Ok(())
}
