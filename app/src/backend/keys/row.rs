//! A stored key row and what each viewer may see and do with it.

use super::*;

/// A key row of this tenant.
#[derive(Debug, Clone)]
pub(super) struct KeyRow {
    pub(super) id: String,
    pub(super) kind: KeyKind,
    pub(super) label: String,
    pub(super) description: String,
    pub(super) owner_membership_id: String,
    pub(super) owner_email: String,
    pub(super) scopes: Scopes,
    pub(super) allowed_ips: String,
    pub(super) allowed_referers: String,
    pub(super) rate_per_hour: Option<i64>,
    pub(super) created_at: i64,
    pub(super) expires_at: i64,
    pub(super) revoked_at: Option<i64>,
    pub(super) generation: i64,
    pub(super) digest: String,
    pub(super) display_prefix: String,
    pub(super) prev_display_prefix: Option<String>,
    pub(super) prev_expires_at: Option<i64>,
    pub(super) rolled_at: Option<i64>,
    pub(super) last_used_at: Option<i64>,
    pub(super) last_used_ip: Option<String>,
    pub(super) last_used_ua: Option<String>,
    pub(super) frozen_at: Option<i64>,
    pub(super) machines_only: bool,
}

pub(super) async fn load_row(conn: &mut AnyConnection, ctx: &TenantCtx, id: &str) -> Result<KeyRow, AppError> {
    if id.len() > 64 {
        return Err(AppError::NotFound);
    }
    let row = sqlx::query(&format!(
        "SELECT {KEY_COLUMNS}, k.digest FROM api_keys k LEFT JOIN memberships m ON m.id = k.owner_membership_id \
         LEFT JOIN accounts a ON a.id = m.account_id WHERE k.id = $1 AND k.tenant_id = $2"
    ))
    .bind(id)
    .bind(ctx.tenant_id().as_str())
    .fetch_optional(conn)
    .await?
    .ok_or(AppError::NotFound)?;
    let row = KeyRow::from_row(&row)?;
    // A key acting through the API never sees canaries: they would stop being traps.
    if ctx.api_key().is_some() && row.kind == KeyKind::Canary {
        return Err(AppError::NotFound);
    }
    Ok(row)
}

impl KeyRow {
    pub(super) fn from_row(r: &AnyRow) -> Result<Self, AppError> {
        let kind: String = r.try_get("kind")?;
        let scopes: String = r.try_get("scopes")?;
        Ok(Self {
            id: r.try_get("id")?,
            kind: KeyKind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
            label: r.try_get("label")?,
            description: r.try_get("description")?,
            owner_membership_id: r.try_get("owner_membership_id")?,
            owner_email: r.try_get("owner_email")?,
            scopes: Scopes::from_text(&scopes).ok_or_else(|| corrupt("scopes"))?,
            allowed_ips: r.try_get("allowed_ips")?,
            allowed_referers: r.try_get("allowed_referers")?,
            rate_per_hour: r.try_get("rate_per_hour")?,
            created_at: r.try_get("created_at")?,
            expires_at: r.try_get("expires_at")?,
            revoked_at: r.try_get("revoked_at")?,
            generation: r.try_get("generation")?,
            digest: r.try_get("digest")?,
            display_prefix: r.try_get("display_prefix")?,
            prev_display_prefix: r.try_get("prev_display_prefix")?,
            prev_expires_at: r.try_get("prev_expires_at")?,
            rolled_at: r.try_get("rolled_at")?,
            last_used_at: r.try_get("last_used_at")?,
            last_used_ip: r.try_get("last_used_ip")?,
            last_used_ua: r.try_get("last_used_ua")?,
            frozen_at: r.try_get("frozen_at")?,
            machines_only: r.try_get::<i64, _>("machines_only")? == 1,
        })
    }

    pub(super) fn visible_to(&self, ctx: &TenantCtx) -> bool {
        if ctx.api_key().is_some() {
            return self.kind != KeyKind::Canary;
        }
        ctx.is_admin() || (self.owner_membership_id == ctx.membership_id().as_str() && self.kind != KeyKind::Canary)
    }

    /// Admins manage every key; a member manages the keys they own; a master key manages non-canary keys.
    pub(super) fn check_manage(&self, ctx: &TenantCtx) -> Result<(), AppError> {
        if !self.visible_to(ctx) {
            return Err(AppError::NotFound);
        }
        if ctx.api_key().is_some() || ctx.is_admin() || self.owner_membership_id == ctx.membership_id().as_str() {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub(super) fn status(&self, now: i64, pol: &KeyPolicyView) -> KeyStatus {
        let secret_since = self.rolled_at.unwrap_or(self.created_at);
        let active_since = self.last_used_at.unwrap_or(secret_since).max(secret_since);
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at <= now {
            KeyStatus::Expired
        } else if self.frozen_at.is_some() {
            KeyStatus::Frozen
        } else if pol.disable_unused_days.is_some_and(|d| active_since + d * DAY_MS <= now) {
            KeyStatus::Disabled
        } else if self.expires_at - now <= DUE_WITHIN_MS || now - secret_since >= DUE_AGE_MS {
            KeyStatus::Due
        } else {
            KeyStatus::Active
        }
    }

    pub(super) fn view(&self, now: i64, pol: &KeyPolicyView, can_manage: bool) -> KeyView {
        let grace = self.prev_expires_at.filter(|e| *e > now);
        KeyView {
            id: self.id.clone(),
            kind: self.kind,
            label: self.label.clone(),
            description: self.description.clone(),
            display_prefix: self.display_prefix.clone(),
            owner_email: if self.owner_email.is_empty() {
                "(removed member)".to_owned()
            } else {
                self.owner_email.clone()
            },
            scopes: self.scopes.clone(),
            allowed_ips: split_stored(&self.allowed_ips),
            allowed_referers: split_stored(&self.allowed_referers),
            rate_per_hour: self.rate_per_hour,
            created_at: self.created_at,
            expires_at: self.expires_at,
            expires_in_days: ((self.expires_at - now).max(0) + DAY_MS - 1) / DAY_MS,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            last_used_ip: self.last_used_ip.clone(),
            last_used_user_agent: self.last_used_ua.clone(),
            status: self.status(now, pol),
            previous_prefix: grace.and(self.prev_display_prefix.clone()),
            previous_ends_at: grace,
            rolled_at: self.rolled_at,
            secret_age_days: (now - self.rolled_at.unwrap_or(self.created_at)).max(0) / DAY_MS,
            can_manage: can_manage && self.revoked_at.is_none(),
            machines_only: self.machines_only,
        }
    }
}

pub(super) fn split_stored(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

#[track_caller]
pub(super) fn corrupt(what: &str) -> AppError {
    crate::backend::platform::failure::internal("api key row", format!("api_keys row has an unreadable {what}"))
}
