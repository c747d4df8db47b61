//! A failed sign-in attempt: wrong, throttled or suspended, all recorded the same way. The access history of
//! every tenant of a known account gets the event with the reason; an unknown email gets one event without
//! tenant, masked. The 20th consecutive failure queues the alert; the per-IP global limit may start a
//! temporary automatic block of the client IP (`ip.auto_block`, once per block).

use crate::backend::alerts::{self, Alert};
use crate::backend::audit::{self, mask_email, NewEvent, Outcome};
use crate::backend::identity::throttle::{self, Counters, ALERT_AFTER};
use crate::backend::network::ip_guard::{ip_key, IP_FAILURE_LIMIT, IP_WINDOW_MS};
use crate::backend::platform::ids::{AccountId, TenantId};
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::{AnyConnection, Row as _};

/// The account an attempt named, with its active tenants (id, name).
pub struct FailingAccount<'a> {
    pub account_id: &'a AccountId,
    pub email: &'a str,
    pub tenants: Vec<(&'a TenantId, &'a str)>,
}

/// Records a failed attempt of `action` (`sign_in`, or `step_up` by a signed-in member; `detail`: "wrong
/// password", "no password set", "throttled", "suspended"). Both count in the same per-account budgets and
/// toward the same alert.
#[allow(clippy::too_many_arguments)]
pub async fn record(
    state: &AppState,
    meta: &RequestMeta,
    action: &str,
    email: &str,
    account: Option<FailingAccount<'_>>,
    counters: &Counters,
    detail: &str,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    match &account {
        Some(a) => {
            for (tenant, _) in &a.tenants {
                let ev = NewEvent {
                    tenant_id: Some(tenant),
                    account_id: Some(a.account_id),
                    actor: a.email,
                    action,
                    outcome: Outcome::Failure,
                    meta,
                    detail,
                    key_id: None,
                };
                audit::record(&mut tx, &state.keys, now, &ev).await?;
            }
        }
        None => {
            let masked = mask_email(&email.chars().take(254).collect::<String>());
            let detail = match detail {
                "wrong password" => "unknown account".to_owned(),
                other => format!("unknown account, {other}"),
            };
            let ev = NewEvent {
                tenant_id: None,
                account_id: None,
                actor: &masked,
                action: "sign_in",
                outcome: Outcome::Failure,
                meta,
                detail: &detail,
                key_id: None,
            };
            audit::record(&mut tx, &state.keys, now, &ev).await?;
        }
    }
    // Counted for unknown emails too: the same work whether or not the account exists.
    let streak = throttle::count_for_alert(&mut tx, counters, now).await?;
    let mut alerted = false;
    if let (ALERT_AFTER, Some(a)) = (streak, &account) {
        for (tenant, name) in &a.tenants {
            let failures = recent_failures(&mut tx, a.account_id, tenant).await?;
            let alert = Alert::consecutive_failures(a.email, ALERT_AFTER, &failures);
            let to = alerts::member_and_contact(&mut tx, tenant, a.email).await?;
            alerts::enqueue(&mut tx, now, tenant, name, &to, &alert).await?;
            alerted = true;
        }
    }
    let block = state.ip_guard.count_failure(&mut tx, &meta.ip, now).await?;
    if let Some(until) = block {
        state.metrics.ip_block_started();
        let detail = format!(
            "{IP_FAILURE_LIMIT} failed sign-ins within {} minutes: console and API refused to {} until {}",
            IP_WINDOW_MS / 60_000,
            ip_key(&meta.ip),
            crate::model::format_utc(until)
        );
        tracing::warn!(ip = %meta.ip, "client IP blocked automatically after too many failed sign-ins");
        let ev = NewEvent {
            tenant_id: None,
            account_id: None,
            actor: "rampart",
            action: "ip.auto_block",
            outcome: Outcome::Success,
            meta,
            detail: &detail,
            key_id: None,
        };
        audit::record(&mut tx, &state.keys, now, &ev).await?;
    }
    tx.commit().await?;
    if block.is_some() {
        // The other instances refuse the address now rather than within the second.
        state.changes.announce();
    }
    if alerted {
        alerts::spawn_delivery(state);
    }
    Ok(())
}

/// The account's latest failed sign-ins in a tenant's history, oldest first: (time, IP, user agent, detail).
async fn recent_failures(
    conn: &mut AnyConnection,
    account: &AccountId,
    tenant: &TenantId,
) -> Result<Vec<(i64, String, String, String)>, AppError> {
    let rows = sqlx::query(
        "SELECT created_at, ip, user_agent, detail FROM audit_events \
         WHERE account_id = $1 AND tenant_id = $2 AND action IN ('sign_in', 'step_up') AND outcome = 'failure' \
         ORDER BY created_at DESC, id DESC LIMIT $3",
    )
    .bind(account.as_str())
    .bind(tenant.as_str())
    .bind(ALERT_AFTER)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = rows
        .iter()
        .map(|r| {
            let ua: String = r.try_get("user_agent")?;
            Ok((
                r.try_get("created_at")?,
                r.try_get("ip")?,
                if ua.is_empty() { "unknown browser".to_owned() } else { ua },
                r.try_get("detail")?,
            ))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    out.reverse();
    Ok(out)
}
