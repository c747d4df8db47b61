//! Ephemeral links: a URL that downloads one file (or one version of it) without signing in, until it expires
//! (at most 7 days, 1 hour by default) or, when single-use, once. Only the token's digest is stored; the URL is
//! shown once. Admins (signed in) and keys with vault read access mint them; every use, and every refused use,
//! is in the tenant's access history.

use super::read::{open_version, Download};
use crate::backend::access::{perm, Granted, TenantCtx};
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::crypto::{random_token, token_digest};
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{AppError, FreshLinkView, VaultLinkView};
use sqlx::Row as _;

/// The longest a link lives, and the default.
pub const MAX_MINUTES: i64 = 7 * 24 * 60;
pub const DEFAULT_MINUTES: i64 = 60;

/// Why a link did not download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRefusal {
    Unknown,
    Expired,
    Used,
    Revoked,
}

impl LinkRefusal {
    pub fn message(self) -> &'static str {
        match self {
            Self::Unknown => "This link is not valid.",
            Self::Expired => "This link has expired.",
            Self::Used => "This single-use link has already been used.",
            Self::Revoked => "This link was revoked.",
        }
    }
}

/// What a new link points at and how long it lives.
#[derive(Debug, Clone, Default)]
pub struct LinkRequest {
    /// A specific version; `None`: whatever is current when the link is used.
    pub version_id: Option<String>,
    /// Lifetime in minutes (default 60, at most 7 days).
    pub minutes: Option<i64>,
    pub single_use: bool,
}

/// Mints a link to a file (its current version, or the given one).
pub async fn create(
    state: &AppState,
    ctx: &TenantCtx,
    _read: &Granted<perm::VaultRead>,
    meta: &RequestMeta,
    object_id: &str,
    request: &LinkRequest,
) -> Result<FreshLinkView, AppError> {
    let version_id = request.version_id.as_deref().filter(|v| !v.is_empty());
    let single_use = request.single_use;
    let minutes = request.minutes;
    // The proof says the actor reads the vault; minting a link is also an admin's act, from the console and
    // through a key alike (a key never grants more than its maker: a member's key mints none).
    let admin = match ctx.api_key() {
        None => ctx.is_admin(),
        Some(_) => {
            let mut conn = state.pool.acquire().await?;
            let (role, _) = crate::backend::keys::maker_power(&mut conn, ctx, ctx.membership_id().as_str()).await?;
            role.is_admin()
        }
    };
    if !admin {
        return Err(AppError::Forbidden);
    }
    let minutes = minutes.unwrap_or(DEFAULT_MINUTES);
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(AppError::validation("minutes", "A link lives between 1 minute and 7 days."));
    }
    let now = state.clock.now_ms();
    let tenant = ctx.tenant_id().as_str();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let found = sqlx::query(
        "SELECT o.path, v.number FROM vault_objects o JOIN vault_versions v ON v.object_id = o.id AND v.tenant_id = o.tenant_id \
         WHERE o.tenant_id = $1 AND o.id = $2 AND o.deleted_at IS NULL AND v.id = COALESCE($3, o.current_version_id)",
    )
    .bind(tenant)
    .bind(object_id)
    .bind(version_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AppError::NotFound)?;
    let path: String = found.try_get("path")?;
    let token = random_token();
    let id = uuid::Uuid::new_v4().to_string();
    let expires_at = now + minutes * 60_000;
    sqlx::query(
        "INSERT INTO vault_links (id, tenant_id, object_id, version_id, token_digest, single_use, uses, expires_at, \
         created_at, created_by, created_membership_id) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(tenant)
    .bind(object_id)
    .bind(version_id)
    .bind(token_digest(&token))
    .bind(i64::from(single_use))
    .bind(expires_at)
    .bind(now)
    .bind(ctx.actor())
    .bind(ctx.membership_id().as_str())
    .execute(&mut *tx)
    .await?;
    let detail = format!(
        "link {} to {path}{} for {minutes} min{}",
        &id[..8],
        version_id
            .map(|_| format!(" (version {})", found.try_get::<i64, _>("number").unwrap_or(0)))
            .unwrap_or_default(),
        if single_use { ", single use" } else { "" }
    );
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "vault.link_create", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(FreshLinkView { id, url: format!("{}/vault/links/{token}", state.public_url), expires_at, single_use })
}

/// The links of a file.
pub async fn list(state: &AppState, ctx: &TenantCtx, object_id: &str) -> Result<Vec<VaultLinkView>, AppError> {
    let now = state.clock.now_ms();
    let rows = sqlx::query(
        "SELECT l.id, v.number, l.single_use, l.uses, l.expires_at, l.revoked_at, l.created_at, l.created_by \
         FROM vault_links l LEFT JOIN vault_versions v ON v.id = l.version_id AND v.tenant_id = l.tenant_id \
         WHERE l.tenant_id = $1 AND l.object_id = $2 ORDER BY l.created_at DESC LIMIT 100",
    )
    .bind(ctx.tenant_id().as_str())
    .bind(object_id)
    .fetch_all(&state.pool)
    .await?;
    rows.iter()
        .map(|r| {
            let single_use = r.try_get::<i64, _>("single_use")? == 1;
            let uses: i64 = r.try_get("uses")?;
            let expires_at: i64 = r.try_get("expires_at")?;
            let status = if r.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
                "revoked"
            } else if single_use && uses > 0 {
                "used"
            } else if expires_at <= now {
                "expired"
            } else {
                "active"
            };
            Ok(VaultLinkView {
                id: r.try_get("id")?,
                version_number: r.try_get("number")?,
                single_use,
                uses,
                expires_at,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
                status: status.to_owned(),
            })
        })
        .collect()
}

/// Revokes a link before it expires.
pub async fn revoke(
    state: &AppState,
    ctx: &TenantCtx,
    _read: &Granted<perm::VaultRead>,
    meta: &RequestMeta,
    link_id: &str,
) -> Result<(), AppError> {
    if ctx.api_key().is_none() && !ctx.is_admin() {
        return Err(AppError::Forbidden);
    }
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let done =
        sqlx::query("UPDATE vault_links SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL")
            .bind(now)
            .bind(ctx.tenant_id().as_str())
            .bind(link_id)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::NotFound);
    }
    let detail = format!("link {}", link_id.get(..8).unwrap_or(link_id));
    audit::record(&mut tx, &state.keys, now, &NewEvent::by(ctx, meta, "vault.link_revoke", Outcome::Success, &detail))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Follows a link: counts the use (atomically, so a single-use link downloads once even when raced) and opens
/// the file. Every use and every refusal of a known link is recorded in its tenant's history.
pub async fn follow(
    state: &AppState,
    meta: &RequestMeta,
    token: &str,
) -> Result<Result<Download, LinkRefusal>, AppError> {
    let now = state.clock.now_ms();
    let digest = token_digest(token);
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let Some(link) = sqlx::query(
        "SELECT id, tenant_id, object_id, version_id, single_use, uses, expires_at, revoked_at FROM vault_links \
         WHERE token_digest = $1",
    )
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Err(LinkRefusal::Unknown));
    };
    let id: String = link.try_get("id")?;
    let tenant: String = link.try_get("tenant_id")?;
    let refusal = if link.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        Some(LinkRefusal::Revoked)
    } else if link.try_get::<i64, _>("expires_at")? <= now {
        Some(LinkRefusal::Expired)
    } else if link.try_get::<i64, _>("single_use")? == 1 && link.try_get::<i64, _>("uses")? > 0 {
        Some(LinkRefusal::Used)
    } else {
        None
    };
    let claimed = match refusal {
        Some(_) => false,
        None => {
            sqlx::query("UPDATE vault_links SET uses = uses + 1 WHERE id = $1 AND (single_use = 0 OR uses = 0)")
                .bind(&id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        }
    };
    let refusal = if claimed { None } else { Some(refusal.unwrap_or(LinkRefusal::Used)) };
    let short = id.get(..8).unwrap_or(&id).to_owned();
    let actor = format!("link {short}");
    let detail = match refusal {
        None => format!("link {short} used"),
        Some(r) => format!("link {short} refused: {}", r.message()),
    };
    let tenant_id = TenantId(tenant.clone());
    let event = NewEvent {
        tenant_id: Some(&tenant_id),
        account_id: None,
        actor: &actor,
        action: "vault.link_use",
        outcome: if refusal.is_none() { Outcome::Success } else { Outcome::Failure },
        meta,
        detail: &detail,
        key_id: None,
    };
    audit::record(&mut tx, &state.keys, now, &event).await?;
    tx.commit().await?;
    if let Some(r) = refusal {
        return Ok(Err(r));
    }
    let object_id: String = link.try_get("object_id")?;
    let version_id: Option<String> = link.try_get("version_id")?;
    Ok(Ok(open_version(state, &tenant, &object_id, version_id.as_deref(), false).await?))
}

/// Where the console keeps a just-minted link until its page has shown it.
const FRESH_LINK: &str = "fresh_vault_link";

/// Keeps a just-minted link in the member's session (its URL sealed under the server key, bound to the
/// account), so the file page shows it once — with or without JavaScript — and a reload finds nothing.
pub async fn stash_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
    object_id: &str,
    fresh: &FreshLinkView,
) -> Result<(), AppError> {
    let (seal_id, sealed) = state.keys.seal(ctx.account_id().as_str().as_bytes(), fresh.url.as_bytes())?;
    let kept = (object_id.to_owned(), fresh.id.clone(), fresh.expires_at, fresh.single_use, seal_id, sealed);
    session.insert(FRESH_LINK, kept).await.map_err(crate::backend::identity::sessions::store_err)
}

/// Takes the link just minted for `object_id` out of the session; `None` when there is none (or it belongs
/// to another file, which then stays for its own page).
pub async fn take_fresh(
    state: &AppState,
    session: &tower_sessions::Session,
    ctx: &TenantCtx,
    object_id: &str,
) -> Result<Option<FreshLinkView>, AppError> {
    type Kept = (String, String, i64, bool, String, String);
    let kept: Option<Kept> = session.get(FRESH_LINK).await.map_err(crate::backend::identity::sessions::store_err)?;
    let Some((object, id, expires_at, single_use, seal_id, sealed)) = kept else { return Ok(None) };
    if object != object_id {
        return Ok(None);
    }
    session.remove::<Kept>(FRESH_LINK).await.map_err(crate::backend::identity::sessions::store_err)?;
    let url = state.keys.open(&seal_id, ctx.account_id().as_str().as_bytes(), &sealed)?;
    let url = String::from_utf8(url).map_err(|e| crate::backend::platform::failure::internal("vault link", e))?;
    Ok(Some(FreshLinkView { id, url, expires_at, single_use }))
}
