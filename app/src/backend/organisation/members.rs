//! The tenant's members: listing (team grant), changing roles and grants, offboarding (owners and admins).
//!
//! Policy: deny by default; only owners make or change owners; admins manage admins, members and auditors;
//! granting admin or owner and changing grants need a step-up; the last active owner can be neither demoted,
//! deactivated nor removed (no tenant without an owner); nobody deactivates or removes themselves here.
//! Deactivation ends the member's sessions in the tenant at once (API keys and SSH keys join this when they
//! exist); reactivation brings none of them back. Removal deletes the membership; the audit trail keeps the
//! member's account id (a pseudonymous reference) and the events as they were.

use crate::backend::access::{perm, AdminHandle, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::sessions::SteppedUp;
use crate::backend::platform::ids::{AccountId, MembershipId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, MemberView, MembersView, Permission, Role};
use sqlx::{AnyConnection, Row as _};

/// Every member of the caller's tenant with role, grants, two-factor status and last sign-in.
pub async fn list_members(
    state: &AppState,
    ctx: &TenantCtx,
    granted: &Granted<perm::Team>,
) -> Result<MembersView, AppError> {
    let members = member_list(state, ctx, granted).await?;
    let read = async {
        let mut conn = state.pool.acquire().await?;
        crate::backend::identity::two_factor::tenant_requires(&mut conn, ctx).await
    };
    let tenant_requires_two_factor =
        state.recent.two_factor_required.get_or_load(ctx.tenant_id().as_str(), read).await?;
    Ok(MembersView {
        members,
        can_manage: ctx.is_admin(),
        viewer_is_owner: ctx.role() == Role::Owner,
        tenant_requires_two_factor,
    })
}

/// The members alone, in one query read at most once a second per tenant while nothing changes
/// (`access::epoch::RecentReads`); what the REST API serves.
pub async fn member_list(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::Team>,
) -> Result<Vec<MemberView>, AppError> {
    let members = recent_members(state, ctx).await?;
    let me = ctx.membership_id().as_str();
    Ok(members.members.iter().map(|m| MemberView { is_me: m.membership_id == me, ..m.clone() }).collect())
}

/// The tenant's members as the REST API answers them: `write` renders the list (the same for every key of the
/// tenant), once per read of the list, and the bytes are shared until the next (at most a second, and never
/// past a change: the access epoch). `gzipped`: the bytes compressed (`platform::gzip`), likewise once.
pub async fn member_list_json(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::Team>,
    gzipped: bool,
    write: impl FnOnce(&[MemberView]) -> Vec<u8>,
) -> Result<std::sync::Arc<[u8]>, AppError> {
    let list = recent_members(state, ctx).await?;
    Ok(if gzipped { list.json_gzipped(write) } else { list.json(write) })
}

async fn recent_members(
    state: &AppState,
    ctx: &TenantCtx,
) -> Result<std::sync::Arc<crate::backend::access::epoch::MemberList>, AppError> {
    let read = async {
        read_members(state, ctx).await.map(|m| std::sync::Arc::new(crate::backend::access::epoch::MemberList::new(m)))
    };
    state.recent.members.get_or_load(ctx.tenant_id().as_str(), read).await
}

async fn read_members(state: &AppState, ctx: &TenantCtx) -> Result<Vec<MemberView>, AppError> {
    let rows = sqlx::query(
        "SELECT m.id, a.email, m.role, m.grants, m.last_sign_in_at, m.deactivated_at, \
           (SELECT COUNT(*) FROM totp_factors f WHERE f.account_id = a.id AND f.enabled_at IS NOT NULL) AS totp_on \
         FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1 ORDER BY a.email_key",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&state.pool)
    .await?;
    let members = rows
        .iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let grants: String = r.try_get("grants")?;
            Ok(MemberView {
                is_me: false,
                membership_id: id,
                email: r.try_get("email")?,
                role: r.try_get("role")?,
                grants: Permission::parse_list(&grants),
                deactivated_at: r.try_get("deactivated_at")?,
                two_factor_enabled: r.try_get::<i64, _>("totp_on")? > 0,
                last_sign_in_at: r.try_get("last_sign_in_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(members)
}

/// The account and email behind a membership of the caller's tenant; `NotFound` for any other membership.
pub async fn member_account(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    membership: &MembershipId,
) -> Result<(AccountId, String), AppError> {
    let row = sqlx::query(
        "SELECT a.id, a.email FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.id = $1 AND m.tenant_id = $2",
    )
    .bind(membership.as_str())
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok((AccountId(row.try_get("id")?), row.try_get("email")?))
}

struct Target {
    account: AccountId,
    email: String,
    role: Role,
    grants: Vec<Permission>,
    active: bool,
}

/// The member a role change or offboarding acts on, read under the organisation's role lock (`lock_roles`).
async fn target(conn: &mut AnyConnection, ctx: &TenantCtx, membership: &MembershipId) -> Result<Target, AppError> {
    crate::backend::access::four_eyes::lock_roles(conn, ctx.tenant_id()).await?;
    let row = sqlx::query(
        "SELECT a.id, a.email, m.role, m.grants, m.deactivated_at FROM memberships m \
         JOIN accounts a ON a.id = m.account_id WHERE m.id = $1 AND m.tenant_id = $2",
    )
    .bind(membership.as_str())
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let role: String = row.try_get("role")?;
    let grants: String = row.try_get("grants")?;
    let deactivated: Option<i64> = row.try_get("deactivated_at")?;
    Ok(Target {
        account: AccountId(row.try_get("id")?),
        email: row.try_get("email")?,
        role: Role::parse(&role).unwrap_or(Role::Auditor),
        grants: Permission::parse_list(&grants),
        active: deactivated.is_none(),
    })
}

/// Other active owners besides `except`.
async fn other_active_owners(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    except: &MembershipId,
) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = $1 AND role = 'owner' AND deactivated_at IS NULL \
         AND id <> $2",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(except.as_str())
    .fetch_one(conn)
    .await?;
    Ok(row.try_get("n")?)
}

/// Refuses what the actor's role may not touch: only owners act on owners or make owners.
fn check_authority(ctx: &TenantCtx, target: &Target, new_role: Option<Role>) -> Result<(), AppError> {
    let actor = ctx.role();
    if (target.role == Role::Owner || new_role == Some(Role::Owner)) && actor != Role::Owner {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

fn describe(role: Role, grants: &[Permission]) -> String {
    if role == Role::Member {
        format!("member [{}]", Permission::join(grants))
    } else {
        role.as_str().to_owned()
    }
}

/// Changes a member's role and grants. Granting admin or owner, or changing grants, needs `step_up`; the
/// caller passes it when the session has one (`None` otherwise), and the change is refused without it.
#[allow(clippy::too_many_arguments)]
pub async fn update_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    step_up: Option<&SteppedUp>,
    membership: &MembershipId,
    role: Role,
    grants: &[Permission],
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let t = target(&mut tx, ctx, membership).await?;
    check_authority(ctx, &t, Some(role))?;
    // Grants only mean something for members; other roles have theirs by role.
    let grants: Vec<Permission> = if role == Role::Member { grants.to_vec() } else { Vec::new() };
    let grants = Permission::parse_list(&Permission::join(&grants));
    if t.role == role && t.grants == grants {
        return Ok(());
    }
    let raises = (role.is_admin() && !t.role.is_admin()) || (role == Role::Owner && t.role != Role::Owner);
    if (raises || t.grants != grants) && step_up.is_none() {
        return Err(AppError::StepUpRequired);
    }
    if !role.is_admin() {
        crate::backend::access::four_eyes::keeps_two_admins(&mut tx, ctx.tenant_id(), membership.as_str()).await?;
    }
    if t.role == Role::Owner && role != Role::Owner && other_active_owners(&mut tx, ctx, membership).await? == 0 {
        return Err(AppError::Conflict {
            msg: "The last owner cannot be demoted. Make someone else owner first.".into(),
        });
    }
    sqlx::query("UPDATE memberships SET role = $1, grants = $2 WHERE id = $3 AND tenant_id = $4")
        .bind(role.as_str())
        .bind(Permission::join(&grants))
        .bind(membership.as_str())
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    // Links, invitations and enrolment tokens are an admin's to make: they end with the power to make them.
    let mut detail = format!("{}: {} → {}", t.email, describe(t.role, &t.grants), describe(role, &grants));
    if !role.is_admin() {
        let doors = super::doors::close_made_by(&mut tx, ctx.tenant_id(), membership, now).await?;
        if doors.any() {
            detail.push_str(&format!("; {}", doors.describe()));
        }
    } else if t.role == Role::Owner && role != Role::Owner {
        let n = super::doors::close_owner_invitations_by(&mut tx, ctx.tenant_id(), membership, now).await?;
        if n > 0 {
            detail.push_str(&format!("; {n} invitation(s) as owner revoked"));
        }
    }
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "member.update", Outcome::Success, &detail))
        .await?;
    // Keys never hold more than their maker: what the new role and grants no longer cover is frozen now.
    let frozen =
        crate::backend::keys::freeze_beyond_maker(&mut tx, ctx.tenant_id(), membership, role, &grants, now).await?;
    for (key_id, prefix) in &frozen {
        let detail = format!("key {prefix} frozen: its maker {} no longer holds the access it needs", t.email);
        audit::record(
            &mut tx,
            &state.keys,
            now,
            &NewEvent::by(ctx, meta, "key.freeze", Outcome::Success, &detail).with_key(key_id),
        )
        .await?;
    }
    if !frozen.is_empty() {
        let owners = owner_emails(&mut tx, ctx).await?;
        let alert = crate::backend::alerts::Alert::keys_frozen_on_demotion(
            &t.email,
            &frozen.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>(),
            meta,
        );
        crate::backend::alerts::enqueue(&mut tx, now, ctx.tenant_id(), ctx.tenant_name(), &owners, &alert).await?;
    }
    tx.commit().await?;
    // The new role and grants bound every key of the member from the next request on.
    state.access_changed();
    if !frozen.is_empty() {
        crate::backend::alerts::spawn_delivery(state);
    }
    Ok(())
}

/// The emails of the tenant's active owners.
async fn owner_emails(conn: &mut AnyConnection, ctx: &TenantCtx) -> Result<Vec<String>, AppError> {
    let rows = sqlx::query(
        "SELECT a.email FROM memberships m JOIN accounts a ON a.id = m.account_id \
         WHERE m.tenant_id = $1 AND m.role = 'owner' AND m.deactivated_at IS NULL ORDER BY a.email_key",
    )
    .bind(ctx.tenant_id().as_str())
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| r.try_get("email").map_err(AppError::from)).collect()
}

/// The member to deactivate or remove (`verb`), once the rules allow it: the actor's authority over them, not
/// oneself, not the last active owner.
async fn offboarding_target(
    conn: &mut AnyConnection,
    ctx: &TenantCtx,
    membership: &MembershipId,
    verb: &str,
) -> Result<Target, AppError> {
    let t = target(conn, ctx, membership).await?;
    check_authority(ctx, &t, None)?;
    if membership == ctx.membership_id() {
        return Err(AppError::Conflict { msg: format!("You cannot {verb} yourself.") });
    }
    if t.role == Role::Owner && other_active_owners(conn, ctx, membership).await? == 0 {
        return Err(AppError::Conflict { msg: format!("The last owner cannot be {verb}d.") });
    }
    crate::backend::access::four_eyes::keeps_two_admins(conn, ctx.tenant_id(), membership.as_str()).await?;
    Ok(t)
}

/// Offboards a member in one act: deactivated, every session in the tenant ended at once.
pub async fn deactivate_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    membership: &MembershipId,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let t = offboarding_target(&mut tx, ctx, membership, "deactivate").await?;
    if !t.active {
        return Ok(());
    }
    sqlx::query("UPDATE memberships SET deactivated_at = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(now)
        .bind(membership.as_str())
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let ended = end_tenant_sessions(&mut tx, ctx, &t.account).await?;
    let keys = crate::backend::keys::revoke_member_keys(&mut tx, ctx.tenant_id(), membership, now).await?;
    let doors = super::doors::close_made_by(&mut tx, ctx.tenant_id(), membership, now).await?;
    let detail =
        format!("{}: deactivated; {ended} session(s) ended, {keys} API key(s) revoked, {}", t.email, doors.describe());
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "member.deactivate", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Reactivates a member; nothing that deactivation ended comes back (they sign in afresh).
pub async fn reactivate_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    membership: &MembershipId,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let t = target(&mut tx, ctx, membership).await?;
    check_authority(ctx, &t, None)?;
    if t.active {
        return Ok(());
    }
    sqlx::query("UPDATE memberships SET deactivated_at = NULL WHERE id = $1 AND tenant_id = $2")
        .bind(membership.as_str())
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("{}: reactivated", t.email);
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "member.reactivate", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes a member from the tenant entirely (sessions ended); the account itself stays (it is global).
pub async fn remove_member(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _admin: &AdminHandle,
    _proof: &SteppedUp,
    membership: &MembershipId,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let t = offboarding_target(&mut tx, ctx, membership, "remove").await?;
    let ended = end_tenant_sessions(&mut tx, ctx, &t.account).await?;
    let keys = crate::backend::keys::revoke_member_keys(&mut tx, ctx.tenant_id(), membership, now).await?;
    let doors = super::doors::close_made_by(&mut tx, ctx.tenant_id(), membership, now).await?;
    crate::backend::ssh::forget_member(&mut tx, ctx.tenant_id(), membership.as_str()).await?;
    sqlx::query("DELETE FROM memberships WHERE id = $1 AND tenant_id = $2")
        .bind(membership.as_str())
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    // The event names the account by its id only: the member's email leaves the tenant with them.
    let detail = format!(
        "account {}: removed; {ended} session(s) ended, {keys} API key(s) revoked, {}",
        t.account,
        doors.describe()
    );
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "member.remove", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

async fn end_tenant_sessions(conn: &mut AnyConnection, ctx: &TenantCtx, account: &AccountId) -> Result<u64, AppError> {
    let done = sqlx::query("DELETE FROM sessions WHERE account_id = $1 AND tenant_id = $2")
        .bind(account.as_str())
        .bind(ctx.tenant_id().as_str())
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
