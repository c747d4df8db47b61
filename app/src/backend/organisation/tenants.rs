//! Tenants, created by the operator (CLI or the first start), each with an owner who receives a setup link.

use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::identity::accounts::{email_key, validate_email};
use crate::backend::identity::tokens::{self, Purpose};
use crate::backend::platform::ids::{AccountId, MembershipId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
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
    crate::backend::platform::text::one_line(name, MAX_NAME).map(str::to_owned).ok_or_else(|| {
        AppError::validation(
            "name",
            format!("A tenant name has 1 to {MAX_NAME} characters, without control characters."),
        )
    })
}

/// Creates a tenant with `owner_email` as its owner. An account that already exists is reused (accounts are
/// global); otherwise it is created without a password and a setup token is issued (24 h, single use).
pub async fn create_tenant(state: &AppState, name: &str, owner_email: &str) -> Result<CreatedTenant, AppError> {
    let name = validate_name(name)?;
    let email = validate_email(owner_email)?;
    let now = state.clock.now_ms();
    let tenant_id = TenantId::new();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
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
    let setup_token = add_account(&mut tx, &tenant_id, &email, "owner", now).await?;
    let meta = RequestMeta { ip: "operator".to_owned(), user_agent: "rampart cli".to_owned() };
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(&tenant_id),
            account_id: None,
            actor: "operator",
            action: "tenant.create",
            outcome: Outcome::Success,
            meta: &meta,
            detail: &format!("owner {email}"),
            key_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedTenant { id: tenant_id, setup_token })
}

/// Adds `email` to a tenant with `role`, creating the account (without a password) when it doesn't exist;
/// returns a setup token for a new account. The team issue's invitations replace this for admins; the
/// operator CLI keeps it.
async fn add_account(
    conn: &mut sqlx::AnyConnection,
    tenant_id: &TenantId,
    email: &str,
    role: &str,
    now: i64,
) -> Result<Option<String>, AppError> {
    let existing = sqlx::query("SELECT id, password_hash FROM accounts WHERE email_key = $1")
        .bind(email_key(email))
        .fetch_optional(&mut *conn)
        .await?;
    let (account_id, has_password) = match existing {
        Some(row) => {
            let id: String = row.try_get("id")?;
            let hash: Option<String> = row.try_get("password_hash")?;
            (AccountId(id), hash.is_some())
        }
        None => {
            let id = AccountId::new();
            sqlx::query("INSERT INTO accounts (id, email, email_key, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id.as_str())
                .bind(email)
                .bind(email_key(email))
                .bind(now)
                .execute(&mut *conn)
                .await?;
            (id, false)
        }
    };
    sqlx::query("INSERT INTO memberships (id, tenant_id, account_id, role, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(MembershipId::new().as_str())
        .bind(tenant_id.as_str())
        .bind(account_id.as_str())
        .bind(role)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict { .. } => AppError::Conflict { msg: "That account is already a member.".to_owned() },
            other => other,
        })?;
    if has_password {
        Ok(None)
    } else {
        Ok(Some(tokens::issue(conn, now, Purpose::Setup, &account_id, tenant_id).await?))
    }
}

/// The operator adds a member (role `member` or `admin`) to a tenant named by id or name; returns the setup
/// token when the account is new.
pub async fn add_member(state: &AppState, tenant: &str, email: &str, role: &str) -> Result<Option<String>, AppError> {
    if !matches!(role, "member" | "admin" | "auditor") {
        return Err(AppError::validation("role", "The role is one of member, admin, auditor."));
    }
    let email = validate_email(email)?;
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let row = sqlx::query("SELECT id FROM tenants WHERE id = $1 OR name_key = $2")
        .bind(tenant.trim())
        .bind(tenant.trim().to_lowercase())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| AppError::validation("tenant", "No tenant has that id or name."))?;
    let tenant_id = TenantId(row.try_get("id")?);
    let token = add_account(&mut tx, &tenant_id, &email, role, now).await?;
    let meta = RequestMeta { ip: "operator".to_owned(), user_agent: "rampart cli".to_owned() };
    audit::record(
        &mut tx,
        &state.keys,
        now,
        &NewEvent {
            tenant_id: Some(&tenant_id),
            account_id: None,
            actor: "operator",
            action: "member.add",
            outcome: Outcome::Success,
            meta: &meta,
            detail: &format!("{email} as {role}"),
            key_id: None,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
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
