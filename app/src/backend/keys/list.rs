//! Reading keys: the keys page, one key with its usage, and the overview's count of keys due.

use super::*;

/// The keys page: every key for an admin, a member's own keys otherwise (canaries only to admins).
pub async fn list_keys(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
) -> Result<KeysView, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    let pol = policy(&mut conn, ctx).await?;
    let rows = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS}, k.digest FROM api_keys k LEFT JOIN memberships m ON m.id = k.owner_membership_id \
         LEFT JOIN accounts a ON a.id = m.account_id WHERE k.tenant_id = $1 ORDER BY k.created_at DESC, k.id DESC"
    ))
    .bind(ctx.tenant_id().as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut keys = Vec::new();
    for r in &rows {
        let row = KeyRow::from_row(r)?;
        if row.visible_to(ctx) {
            let manage = row.check_manage(ctx).is_ok();
            keys.push(row.view(now, &pol, manage));
        }
    }
    let (creatable, resources) = creatable(ctx);
    Ok(KeysView { keys, policy: pol, creatable, resources, is_admin: ctx.is_admin() })
}

/// How many live keys the viewer manages are due for rotation (the overview's warning).
pub async fn count_due(conn: &mut AnyConnection, ctx: &TenantCtx, now: i64) -> Result<i64, AppError> {
    let mine = if ctx.is_admin() { "" } else { " AND owner_membership_id = $4 AND kind <> 'canary'" };
    let sql = format!(
        "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
         AND (expires_at <= $2 + $3 OR COALESCE(rolled_at, created_at) <= $2 - {DUE_AGE_MS}){mine}"
    );
    let q = sqlx::query_scalar(&sql).bind(ctx.tenant_id().as_str()).bind(now).bind(DUE_WITHIN_MS);
    let q = if ctx.is_admin() { q } else { q.bind(ctx.membership_id().as_str()) };
    Ok(q.fetch_one(conn).await?)
}

/// One key with where its current and previous secrets were used from.
pub async fn get_key(
    state: &AppState,
    ctx: &TenantCtx,
    _granted: &Granted<perm::ApiKeys>,
    id: &str,
) -> Result<KeyDetailView, AppError> {
    let now = state.clock.now_ms();
    let mut conn = state.pool.acquire().await?;
    let pol = policy(&mut conn, ctx).await?;
    let row = load_row(&mut conn, ctx, id).await?;
    if !row.visible_to(ctx) {
        return Err(AppError::NotFound);
    }
    let usage = |generation: i64| {
        sqlx::query(
            "SELECT ip, user_agent, first_used_at, last_used_at, uses FROM api_key_usage \
             WHERE key_id = $1 AND generation = $2 ORDER BY last_used_at DESC LIMIT 50",
        )
        .bind(id.to_owned())
        .bind(generation)
    };
    let to_view = |r: &AnyRow| -> Result<KeyUsageView, sqlx::Error> {
        Ok(KeyUsageView {
            ip: r.try_get("ip")?,
            user_agent: r.try_get("user_agent")?,
            first_used_at: r.try_get("first_used_at")?,
            last_used_at: r.try_get("last_used_at")?,
            uses: r.try_get("uses")?,
        })
    };
    let current_usage =
        usage(row.generation).fetch_all(&mut *conn).await?.iter().map(to_view).collect::<Result<Vec<_>, _>>()?;
    let previous_usage = if row.generation > 1 {
        usage(row.generation - 1).fetch_all(&mut *conn).await?.iter().map(to_view).collect::<Result<Vec<_>, _>>()?
    } else {
        Vec::new()
    };
    let manage = row.check_manage(ctx).is_ok();
    let f = sqlx::query(
        "SELECT public_id, auth_failures, last_failure_at, last_failure_ip FROM api_keys WHERE id = $1 AND tenant_id = $2",
    )
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .fetch_one(&mut *conn)
    .await?;
    let last_at: Option<i64> = f.try_get("last_failure_at")?;
    let last_ip: Option<String> = f.try_get("last_failure_ip")?;
    Ok(KeyDetailView {
        key: row.view(now, &pol, manage),
        current_usage,
        previous_usage,
        failed_attempts: f.try_get("auth_failures")?,
        last_failure: last_at.map(|at| (at, last_ip.unwrap_or_default())),
        first_format: f.try_get::<Option<String>, _>("public_id")?.is_none(),
    })
}
