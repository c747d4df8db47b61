//! Tenants, created by the operator (CLI or the first start), each with an owner who receives a setup link.

use super::accounts::{email_key, validate_email};
use super::audit::{self, NewEvent, Outcome};
use super::ids::{AccountId, MembershipId, TenantId};
use super::request::RequestMeta;
use super::tokens::{self, Purpose};
use super::AppState;
use crate::model::AppError;
use sqlx::Row as _;

/// The longest tenant name accepted.
const MAX_NAME: usize = 100;

/// A tenant as the operator CLI lists it: name and id only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    pub id: TenantId,
    pub name: String,
}

/// A newly created tenant and, when its owner has no password yet, the one-time setup token for them.
#[derive(Debug)]
pub struct CreatedTenant {
    pub id: TenantId,
    pub setup_token: Option<String>,
}

fn validate_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AppError::validation(
            "name",
            format!("A tenant name has 1 to {MAX_NAME} characters, without control characters."),
        ));
    }
    Ok(name.to_owned())
}

/// Creates a tenant with `owner_email` as its owner. An account that already exists is reused (accounts are
/// global); otherwise it is created without a password and a setup token is issued (24 h, single use).
pub async fn create_tenant(state: &AppState, name: &str, owner_email: &str) -> Result<CreatedTenant, AppError> {
    let name = validate_name(name)?;
    let email = validate_email(owner_email)?;
    let now = state.clock.now_ms();
    let tenant_id = TenantId::new();
    let mut tx = state.pool.begin().await?;
    sqlx::query("INSERT INTO tenants (id, name, name_key, created_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant_id.as_str())
        .bind(&name)
        .bind(name.to_lowercase())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::Conflict { msg: "A tenant with that name exists.".to_owned() },
            other => other,
        })?;
    let existing = sqlx::query("SELECT id, password_hash FROM accounts WHERE email_key = $1")
        .bind(email_key(&email))
        .fetch_optional(&mut *tx)
        .await?;
    let (account_id, has_password) = match existing {
        Some(row) => {
            let id: String = row.try_get("id").map_err(AppError::from)?;
            let hash: Option<String> = row.try_get("password_hash").map_err(AppError::from)?;
            (AccountId(id), hash.is_some())
        }
        None => {
            let id = AccountId::new();
            sqlx::query("INSERT INTO accounts (id, email, email_key, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id.as_str())
                .bind(&email)
                .bind(email_key(&email))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            (id, false)
        }
    };
    sqlx::query(
        "INSERT INTO memberships (id, tenant_id, account_id, role, created_at) VALUES ($1, $2, $3, 'owner', $4)",
    )
    .bind(MembershipId::new().as_str())
    .bind(tenant_id.as_str())
    .bind(account_id.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let setup_token = if has_password {
        None
    } else {
        Some(tokens::issue(&mut tx, now, Purpose::Setup, &account_id, &tenant_id).await?)
    };
    let meta = RequestMeta { ip: "operator".to_owned(), user_agent: "rampart cli".to_owned() };
    audit::record(
        &mut tx,
        now,
        &NewEvent {
            tenant_id: Some(&tenant_id),
            account_id: None,
            actor: "operator",
            action: "tenant.create",
            outcome: Outcome::Success,
            meta: &meta,
            detail: &format!("owner {email}"),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedTenant { id: tenant_id, setup_token })
}

/// Every tenant, oldest first: names and ids only.
pub async fn list_tenants(state: &AppState) -> Result<Vec<TenantSummary>, AppError> {
    let rows = sqlx::query("SELECT id, name FROM tenants ORDER BY created_at, id").fetch_all(&state.pool).await?;
    rows.iter()
        .map(|r| Ok(TenantSummary { id: TenantId(r.try_get("id")?), name: r.try_get("name")? }))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AppError::from)
}

/// Whether any tenant exists (the first start creates a demo tenant when none does).
pub async fn any_tenant(state: &AppState) -> Result<bool, AppError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM tenants").fetch_one(&state.pool).await?;
    let n: i64 = row.try_get("n").map_err(AppError::from)?;
    Ok(n > 0)
}
