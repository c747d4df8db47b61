//! The proof that a risky act may run (`Cleared`), the acts it covers, and the organisation's four-eyes facts
//! — the leaf of four-eyes approval that the guarded modules depend on; `backend::approvals` decides, and is
//! the only maker of a `Cleared`.

use crate::backend::platform::ids::TenantId;
use crate::model::{AppError, KeyInput};
use serde::{Deserialize, Serialize};

/// An act a second admin may have to approve, with what it needs to run later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "act", rename_all = "snake_case")]
pub enum Act {
    MasterKey {
        input: KeyInput,
    },
    TwoFactorPolicy {
        required: bool,
    },
    Retention {
        days: i64,
    },
    DataExport,
    EraseMember {
        membership_id: String,
    },
    DeleteWebhook {
        webhook_id: String,
    },
    /// Disabling is guarded (an endpoint turned off hears nothing more, its own `webhook.disabled` included);
    /// enabling runs at once.
    WebhookEnabled {
        webhook_id: String,
        on: bool,
    },
    FourEyes {
        on: bool,
    },
}

impl Act {
    /// The act in words (the page, the access history, the email to the other admins).
    pub fn summary(&self) -> String {
        match self {
            Self::MasterKey { input } => format!("create a master key “{}”", input.description),
            Self::TwoFactorPolicy { required: false } => "stop requiring two-factor authentication".to_owned(),
            Self::TwoFactorPolicy { required: true } => "require two-factor authentication".to_owned(),
            Self::Retention { days } => format!("keep the access history {days} days"),
            Self::DataExport => "export all of the organisation's data".to_owned(),
            Self::EraseMember { membership_id } => format!("erase the member {membership_id}"),
            Self::DeleteWebhook { webhook_id } => format!("delete the webhook endpoint {webhook_id}"),
            Self::WebhookEnabled { webhook_id, on: false } => format!("disable the webhook endpoint {webhook_id}"),
            Self::WebhookEnabled { webhook_id, on: true } => format!("enable the webhook endpoint {webhook_id}"),
            Self::FourEyes { on: false } => "stop requiring a second admin's approval".to_owned(),
            Self::FourEyes { on: true } => "require a second admin's approval".to_owned(),
        }
    }
}

/// Proof that an act may run now: no approval needed, or another admin approved it. Made only by
/// `backend::approvals` (its gate and its approve), it covers one act with its parameters.
#[derive(Debug)]
pub struct Cleared {
    act: Act,
    /// Who approved it, when someone did.
    approved_by: Option<String>,
}

impl Cleared {
    /// For `backend::approvals` only: the gate's "no approval needed" and an approval's run.
    pub(crate) fn issued(act: Act, approved_by: Option<String>) -> Self {
        Self { act, approved_by }
    }

    /// Refuses (403) unless this proof is for `act`.
    pub fn covers(&self, act: &Act) -> Result<(), AppError> {
        if &self.act == act {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn approved_by(&self) -> Option<&str> {
        self.approved_by.as_deref()
    }
}

/// What `gate` decided.
#[derive(Debug)]
pub enum Gate {
    /// Run it now.
    Go(Cleared),
    /// It waits for another admin: the request's id.
    Waiting(String),
}

/// Takes the organisation's row lock for the rest of the transaction, so that changes to who holds which role
/// run one after another: each then counts the owners and admins the one before it left. PostgreSQL's READ
/// COMMITTED would otherwise let two demotions each count the other's target as still an owner, and leave none
/// (SQLite's writers are already one at a time).
pub async fn lock_roles(conn: &mut sqlx::AnyConnection, tenant: &TenantId) -> Result<(), AppError> {
    sqlx::query("UPDATE tenants SET four_eyes = four_eyes WHERE id = $1").bind(tenant.as_str()).execute(conn).await?;
    Ok(())
}

/// Whether the organisation requires a second admin's approval.
pub async fn required(conn: &mut sqlx::AnyConnection, tenant: &TenantId) -> Result<bool, AppError> {
    let on: Option<i64> = sqlx::query_scalar("SELECT four_eyes FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(on == Some(1))
}

/// Active owners and admins of the organisation.
pub async fn admins(conn: &mut sqlx::AnyConnection, tenant: &TenantId) -> Result<i64, AppError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND deactivated_at IS NULL AND role IN ('owner', 'admin')",
    )
    .bind(tenant.as_str())
    .fetch_one(&mut *conn)
    .await?)
}

/// Refuses to leave an organisation that requires approvals with fewer than two active owners or admins
/// (called before `membership` is deactivated, removed, erased or made a member or auditor).
pub async fn keeps_two_admins(
    conn: &mut sqlx::AnyConnection,
    tenant: &TenantId,
    membership: &str,
) -> Result<(), AppError> {
    if !required(conn, tenant).await? {
        return Ok(());
    }
    let is_admin: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE id = $1 AND tenant_id = $2 AND deactivated_at IS NULL \
         AND role IN ('owner', 'admin')",
    )
    .bind(membership)
    .bind(tenant.as_str())
    .fetch_one(&mut *conn)
    .await?;
    if is_admin == 1 && admins(conn, tenant).await? <= 2 {
        return Err(AppError::Conflict {
            msg: "The organisation requires a second admin's approval, so it keeps at least two owners or admins: \
                  make another member an admin first, or turn the requirement off."
                .to_owned(),
        });
    }
    Ok(())
}
