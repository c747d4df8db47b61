//! Failed authentications against a key: a presented key whose public id is known but whose secret is not
//! that key's (`wrong_secret`). Each is counted on the key (consecutive: a success resets the count, its time
//! and address kept for the key's page); the 20th in a row emails the key's owner and the security contact
//! once (then digested, as the sign-in alerts are). The event itself (`key.auth_failed`, with address and
//! agent) is written by the REST gate, throttled per address like unknown keys.

use super::{load_where, ActiveKey, Denial, Presented};
use crate::backend::AppState;
use sqlx::Row as _;
use std::sync::Arc;

/// Consecutive failures that alert.
pub const ALERT_AT: i64 = 20;

/// Counts a wrong secret presented with public id `id`: the denial names the key when one has that id.
pub async fn wrong_secret(state: &AppState, id: &str, presented: &Presented<'_>, now: i64) -> Denial {
    let counted = async {
        let Some(key) = load_where(state, "k.public_id = $1", id).await? else { return Ok(None) };
        let n: i64 = sqlx::query_scalar(
            "UPDATE api_keys SET auth_failures = auth_failures + 1, last_failure_at = $1, last_failure_ip = $2 \
             WHERE id = $3 AND tenant_id = $4 RETURNING auth_failures",
        )
        .bind(now)
        .bind(presented.ip.to_string())
        .bind(&key.id)
        .bind(key.tenant_id.as_str())
        .fetch_one(&state.pool)
        .await?;
        Ok::<_, sqlx::Error>(Some((key, n)))
    };
    match counted.await {
        Ok(Some((key, n))) => {
            if n == ALERT_AT {
                alert(state, &key, presented, n).await;
            }
            let generation = key.generation;
            Denial { reason: "wrong_secret", key: Some(Arc::new(key)), generation: Some(generation), retry_after: None }
        }
        Ok(None) => Denial::bare("unknown"),
        Err(err) => {
            tracing::warn!(error = %err, "a failed key authentication was not counted");
            Denial::bare("unavailable")
        }
    }
}

/// Ends a failing streak after a success (only when there was one: no write per request otherwise).
pub fn succeeded(state: &AppState, key: &ActiveKey) {
    // Once per read of the key: the requests served from the cache meanwhile need not write it again.
    if key.auth_failures == 0 || key.reset_sent.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let (pool, id, tenant) = (state.pool.clone(), key.id.clone(), key.tenant_id.clone());
    tokio::spawn(async move {
        let reset = "UPDATE api_keys SET auth_failures = 0 WHERE id = $1 AND tenant_id = $2 AND auth_failures > 0";
        if let Err(err) = sqlx::query(reset).bind(&id).bind(tenant.as_str()).execute(&pool).await {
            tracing::warn!(error = %err, "a key's failure count was not reset");
        }
    });
}

/// One email to the key's owner and the tenant's security contact.
async fn alert(state: &AppState, key: &ActiveKey, presented: &Presented<'_>, n: i64) {
    use crate::backend::alerts::{self, Alert};
    let queued = async {
        let mut to: Vec<String> = Vec::new();
        let contact: String = sqlx::query("SELECT security_contact FROM tenants WHERE id = $1")
            .bind(key.tenant_id.as_str())
            .fetch_one(&state.pool)
            .await?
            .try_get("security_contact")?;
        if !contact.is_empty() {
            to.push(contact);
        }
        let owner: Option<String> = sqlx::query_scalar("SELECT email FROM accounts WHERE id = $1")
            .bind(&key.owner_account_id)
            .fetch_optional(&state.pool)
            .await?;
        if let Some(owner) = owner.filter(|o| !to.iter().any(|t| t.eq_ignore_ascii_case(o))) {
            to.push(owner);
        }
        let alert = Alert {
            kind: "key_auth_failures",
            summary: format!("{n} failed attempts against an API key"),
            lines: vec![
                format!(
                    "The API key {} (“{}”) of {} was presented with a wrong secret {n} times in a row, the last from {}.",
                    key.display_prefix, key.description, key.tenant_name, presented.ip
                ),
                "Someone may be guessing its secret. The key still works with its real secret; roll it if it may \
                 have leaked, and check the access history (key.auth_failed) for where the attempts come from."
                    .to_owned(),
            ],
        };
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        alerts::enqueue(&mut tx, state.clock.now_ms(), &key.tenant_id, &key.tenant_name, &to, &alert).await?;
        tx.commit().await?;
        alerts::deliver_due(state).await
    };
    if let Err(err) = queued.await {
        tracing::warn!(error = %err, "key failure alert not queued or not delivered");
    }
}
