//! Tenant data keys. Each tenant has its own random AES-256 key, stored only wrapped by a key derived from the
//! server master key. Exactly one version is `active` (new blobs use it); during a rotation the previous one is
//! `retiring` until every blob under it has been re-encrypted, then its row is deleted. Deleting all of a
//! tenant's rows is crypto-shredding: whatever ciphertext is left can no longer be read by anyone.

use crate::backend::platform::crypto::{random_bytes, ServerKeys};
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// An unwrapped data key (never logged: `Debug` prints the version only).
pub struct DataKey {
    pub version: i64,
    pub key: [u8; 32],
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey").field("version", &self.version).finish_non_exhaustive()
    }
}

/// The tenant's active data key, made on first use.
pub async fn active(
    conn: &mut AnyConnection,
    keys: &ServerKeys,
    tenant_id: &str,
    now: i64,
) -> Result<DataKey, AppError> {
    for _ in 0..3 {
        let row = sqlx::query(
            "SELECT version, wrapped, wrap_key_id FROM vault_data_keys WHERE tenant_id = $1 AND state = 'active' \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(r) = row {
            let version: i64 = r.try_get("version")?;
            let key = keys.unwrap_data_key(
                &r.try_get::<String, _>("wrap_key_id")?,
                tenant_id,
                version,
                &r.try_get::<String, _>("wrapped")?,
            )?;
            return Ok(DataKey { version, key });
        }
        // Two first uploads at once: one insert wins, the other reads the winner's key on the next turn.
        let key: [u8; 32] = random_bytes();
        let (wrap_id, wrapped) = keys.wrap_data_key(tenant_id, 1, &key)?;
        let inserted = sqlx::query(
            "INSERT INTO vault_data_keys (tenant_id, version, wrapped, wrap_key_id, state, created_at) \
             VALUES ($1, 1, $2, $3, 'active', $4) ON CONFLICT (tenant_id, version) DO NOTHING",
        )
        .bind(tenant_id)
        .bind(&wrapped)
        .bind(&wrap_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(DataKey { version: 1, key });
        }
    }
    Err(AppError::Unavailable)
}

/// A data key by version (active or retiring); `NotFound` once it was destroyed.
pub async fn by_version(
    conn: &mut AnyConnection,
    keys: &ServerKeys,
    tenant_id: &str,
    version: i64,
) -> Result<DataKey, AppError> {
    let r = sqlx::query("SELECT wrapped, wrap_key_id FROM vault_data_keys WHERE tenant_id = $1 AND version = $2")
        .bind(tenant_id)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = keys.unwrap_data_key(
        &r.try_get::<String, _>("wrap_key_id")?,
        tenant_id,
        version,
        &r.try_get::<String, _>("wrapped")?,
    )?;
    Ok(DataKey { version, key })
}

/// Re-wraps every tenant data key not yet under the current master (`rampart keys rotate-master`). File
/// bodies are untouched: only the 60-odd bytes of each wrapped key change. Returns how many were re-wrapped.
pub async fn rewrap_all(conn: &mut AnyConnection, keys: &ServerKeys) -> Result<u64, AppError> {
    let rows =
        sqlx::query("SELECT tenant_id, version, wrapped, wrap_key_id FROM vault_data_keys WHERE wrap_key_id <> $1")
            .bind(keys.vault_wrap_key_id())
            .fetch_all(&mut *conn)
            .await?;
    let mut n = 0;
    for r in rows {
        let tenant: String = r.try_get("tenant_id")?;
        let version: i64 = r.try_get("version")?;
        let old_id: String = r.try_get("wrap_key_id")?;
        let key = keys.unwrap_data_key(&old_id, &tenant, version, &r.try_get::<String, _>("wrapped")?)?;
        let (id, wrapped) = keys.wrap_data_key(&tenant, version, &key)?;
        sqlx::query(
            "UPDATE vault_data_keys SET wrapped = $1, wrap_key_id = $2 WHERE tenant_id = $3 AND version = $4 \
             AND wrap_key_id = $5",
        )
        .bind(&wrapped)
        .bind(&id)
        .bind(&tenant)
        .bind(version)
        .bind(&old_id)
        .execute(&mut *conn)
        .await?;
        n += 1;
    }
    Ok(n)
}

/// Destroys every data key of a tenant (crypto-shredding); returns how many there were.
pub async fn destroy_all(conn: &mut AnyConnection, tenant_id: &str) -> Result<u64, AppError> {
    Ok(sqlx::query("DELETE FROM vault_data_keys WHERE tenant_id = $1")
        .bind(tenant_id)
        .execute(conn)
        .await?
        .rows_affected())
}
