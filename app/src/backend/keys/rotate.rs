//! Rolling (with a grace for the old secret), ending the grace, and revoking keys.

use super::*;

/// Issues a new secret; the old one keeps working for `grace_ms` (0: not at all). A previous secret still in
/// its grace ends now.
pub async fn roll_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
    id: &str,
    grace_ms: i64,
) -> Result<FreshKeyView, AppError> {
    if !(0..=MAX_GRACE_MS).contains(&grace_ms) {
        return Err(AppError::validation("grace", "The old secret may keep working for 0 to 30 days."));
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(AppError::Conflict { msg: "A revoked or expired key cannot be rolled: create a new one.".into() });
    }
    if row.frozen_at.is_some() {
        return Err(AppError::Conflict {
            msg: "A frozen key cannot be rolled: an owner unfreezes it (or its maker regains the access it needs) \
                  first."
                .into(),
        });
    }
    // A maker demoted below what the key needs cannot get a fresh secret for it.
    let (maker_role, maker_grants) = maker_power(&mut tx, ctx, &row.owner_membership_id).await?;
    if !maker_may_hold(maker_role, &maker_grants, row.kind, &row.scopes) {
        return Err(AppError::Forbidden);
    }
    if ctx.api_key().is_some() {
        // A key may only roll keys it could have created, or it could obtain a looser secret than its own.
        check_power(&mut tx, ctx, row.kind, &mut row.guardrails(), false, None).await?;
    }
    // The key keeps its public id; a key of the first format gets one now.
    let public_id: Option<String> =
        sqlx::query_scalar("SELECT public_id FROM api_keys WHERE id = $1 AND tenant_id = $2")
            .bind(id)
            .bind(ctx.tenant_id().as_str())
            .fetch_one(&mut *tx)
            .await?;
    let public_id = public_id.unwrap_or_else(new_public_id);
    let secret = new_secret(KeyKind::parse(&row.label).unwrap_or(KeyKind::Master), &public_id);
    let prefix = format::display_prefix(&secret);
    let (prev_digest, prev_prefix, prev_end) = if grace_ms > 0 {
        (Some(row.digest.clone()), Some(row.display_prefix.clone()), Some(now + grace_ms))
    } else {
        (None, None, None)
    };
    let done = sqlx::query(
        "UPDATE api_keys SET digest = $1, display_prefix = $2, prev_digest = $3, prev_display_prefix = $4, \
         prev_expires_at = $5, rolled_at = $6, generation = generation + 1, public_id = $10 \
         WHERE id = $7 AND tenant_id = $8 AND generation = $9",
    )
    .bind(state.keys.api_key_digest(&secret))
    .bind(&prefix)
    .bind(prev_digest)
    .bind(prev_prefix)
    .bind(prev_end)
    .bind(now)
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .bind(row.generation)
    .bind(&public_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(AppError::Conflict { msg: "The key was rolled at the same moment; reload and try again.".into() });
    }
    let grace = if grace_ms == 0 {
        "the old secret stopped working".to_owned()
    } else {
        format!("the old secret {} works until {}", row.display_prefix, crate::model::format_utc(now + grace_ms))
    };
    let detail = format!("{} → {prefix}; {grace}", row.display_prefix);
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "key.roll", Outcome::Success, &detail).with_key(id),
    )
    .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(FreshKeyView { key_id: id.to_owned(), description: row.description, secret })
}

/// Ends the old secret's grace now (the admin saw that its clients moved).
pub async fn end_grace(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    let Some(prev) = row.prev_display_prefix.clone().filter(|_| row.prev_expires_at.is_some_and(|e| e > now)) else {
        return Ok(());
    };
    sqlx::query("UPDATE api_keys SET prev_expires_at = $1 WHERE id = $2 AND tenant_id = $3")
        .bind(now)
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("{}: the old secret {prev} stopped working", row.display_prefix);
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "key.end_grace", Outcome::Success, &detail).with_key(id),
    )
    .await?;
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Revokes a key: both its secrets stop working at once.
pub async fn revoke_key(
    state: &AppState,
    meta: &RequestMeta,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
    id: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = load_row(&mut tx, ctx, id).await?;
    row.check_manage(ctx)?;
    if row.revoked_at.is_some() {
        return Ok(());
    }
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(id)
        .bind(ctx.tenant_id().as_str())
        .execute(&mut *tx)
        .await?;
    let detail = format!("{} key {} “{}” revoked", row.kind.as_str(), row.display_prefix, row.description);
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent::by(ctx, meta, "key.revoke", Outcome::Success, &detail).with_key(id),
    )
    .await?;
    // The keys it made go with it (a master key revoked because it leaked leaves nothing it minted behind).
    let children = sqlx::query(
        "SELECT id, kind, display_prefix, description FROM api_keys \
         WHERE tenant_id = $1 AND created_by = $2 AND revoked_at IS NULL",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(format!("key:{id}"))
    .fetch_all(&mut *tx)
    .await?;
    for child in &children {
        let child_id: String = child.try_get("id")?;
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(&child_id)
            .bind(ctx.tenant_id().as_str())
            .execute(&mut *tx)
            .await?;
        let detail = format!(
            "{} key {} “{}” revoked with the key {} that made it",
            child.try_get::<String, _>("kind")?,
            child.try_get::<String, _>("display_prefix")?,
            child.try_get::<String, _>("description")?,
            row.display_prefix
        );
        audit::record(
            &mut tx,
            &state.keys,
            now,
            &NewEvent::by(ctx, meta, "key.revoke", Outcome::Success, &detail).with_key(&child_id),
        )
        .await?;
    }
    tx.commit().await?;
    state.access_changed();
    Ok(())
}

/// Revokes every key a member owns (deactivation and removal); the caller empties the cache after commit.
pub async fn revoke_member_keys(
    conn: &mut AnyConnection,
    tenant_id: &crate::backend::platform::ids::TenantId,
    membership: &crate::backend::platform::ids::MembershipId,
    now: i64,
) -> Result<u64, AppError> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE tenant_id = $2 AND owner_membership_id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(tenant_id.as_str())
    .bind(membership.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Freezes every live key of `membership` that its maker's new `role` and `grants` no longer cover (after a
/// demotion or a grant taken away), in the caller's transaction, and returns their display prefixes. A frozen
/// key is refused until an owner unfreezes it, which needs the maker to hold its access again.
pub async fn freeze_beyond_maker(
    conn: &mut AnyConnection,
    tenant_id: &crate::backend::platform::ids::TenantId,
    membership: &crate::backend::platform::ids::MembershipId,
    role: crate::model::Role,
    grants: &[crate::model::Permission],
    now: i64,
) -> Result<Vec<(String, String)>, AppError> {
    let rows = sqlx::query(
        "SELECT id, kind, scopes, display_prefix FROM api_keys WHERE tenant_id = $1 AND owner_membership_id = $2 \
         AND revoked_at IS NULL AND frozen_at IS NULL",
    )
    .bind(tenant_id.as_str())
    .bind(membership.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut frozen = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        let kind: String = r.try_get("kind")?;
        let scopes: String = r.try_get("scopes")?;
        let holds = match (KeyKind::parse(&kind), Scopes::from_text(&scopes)) {
            (Some(kind), Some(scopes)) => maker_may_hold(role, grants, kind, &scopes),
            _ => false,
        };
        // A canary reaches nothing: it stays a trap whoever made it.
        if holds || kind == KeyKind::Canary.as_str() {
            continue;
        }
        sqlx::query("UPDATE api_keys SET frozen_at = $1 WHERE id = $2 AND tenant_id = $3 AND frozen_at IS NULL")
            .bind(now)
            .bind(&id)
            .bind(tenant_id.as_str())
            .execute(&mut *conn)
            .await?;
        frozen.push((id, r.try_get("display_prefix")?));
    }
    Ok(frozen)
}
