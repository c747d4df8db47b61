//! The delivery worker: for each endpoint, its oldest pending delivery when due (so one endpoint's deliveries
//! go out in the order of their events; a receiver de-duplicates retries by `webhook-id`). One attempt: the
//! body built from the stored event, signed with a fresh timestamp, POSTed to the checked address (15 s timeout,
//! no redirects, no proxies, at most 1 KiB of the answer read and kept). A 2xx delivers; 410 disables the
//! endpoint; anything else is retried on the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
//! 10 h after the first attempt, each ±10 %; a longer `Retry-After` wins, up to 10 h), then given up. An
//! endpoint whose every attempt failed for 5 days is disabled and its organisation's owners and admins told.
//! Run by every instance's job; `claim` keeps one worker per endpoint.

use super::address;
use crate::backend::audit::{self, NewEvent, Outcome};
use crate::backend::platform::clock::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};
use crate::backend::platform::db::begin_write;
use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::AppError;
use sqlx::Row as _;
use std::time::{Duration, Instant};

/// The waits after the 1st … 7th failed attempt; an 8th failure gives up.
pub const SCHEDULE_MS: [i64; 7] =
    [5 * SECOND_MS, 5 * MINUTE_MS, 30 * MINUTE_MS, 2 * HOUR_MS, 5 * HOUR_MS, 10 * HOUR_MS, 10 * HOUR_MS];
/// Failing this long disables an endpoint.
pub const DISABLE_AFTER_MS: i64 = 5 * DAY_MS;
/// The answer's bytes kept per attempt.
pub const KEEP_BYTES: usize = 1024;

/// What one attempt got.
struct Answer {
    status: i64,
    text: String,
    retry_after_ms: Option<i64>,
}

/// The most attempts on one endpoint per claim.
const PER_CLAIM: usize = 500;

/// Claims endpoints with due deliveries (`claim`, as many as `parallel`) and sends each one's due deliveries
/// in order, the endpoints at once (a slow receiver holds up only its own deliveries); returns how many attempts were made.
pub async fn deliver_due(state: &AppState) -> Result<usize, AppError> {
    use futures_util::StreamExt as _;
    let claimed = super::claim::claim(state, state.webhooks.parallel.max(1)).await?;
    let counts: Vec<usize> = futures_util::stream::iter(claimed)
        .map(|(tenant, endpoint)| async move {
            let n = match drain(state, &tenant, &endpoint).await {
                Ok(n) => n,
                Err(err) => {
                    tracing::warn!(error = %err, endpoint = %endpoint, "webhook deliveries stopped; will retry");
                    0
                }
            };
            if let Err(err) = super::claim::release(state, &endpoint).await {
                tracing::warn!(error = %err, "a webhook lease was not released; it ends by itself");
            }
            n
        })
        .buffer_unordered(state.webhooks.parallel.max(1))
        .collect()
        .await;
    Ok(counts.into_iter().sum())
}

/// Sends one endpoint's due deliveries, oldest event first, while this worker holds the endpoint; stops at the
/// first that must wait (a retry later keeps the later events behind it).
async fn drain(state: &AppState, tenant: &str, endpoint: &str) -> Result<usize, AppError> {
    let mut n = 0;
    while n < PER_CLAIM && super::claim::still_held(state, endpoint).await? {
        let row = sqlx::query(
            "SELECT id, event_id, attempts, next_attempt_at FROM webhook_deliveries WHERE endpoint_id = $1 \
             AND tenant_id = $2 AND status = 'pending' ORDER BY seq LIMIT 1",
        )
        .bind(endpoint)
        .bind(tenant)
        .fetch_optional(&state.pool)
        .await?;
        let Some(r) = row else { break };
        if r.try_get::<i64, _>("next_attempt_at")? > state.clock.now_ms() {
            break;
        }
        let id: String = r.try_get("id")?;
        let event: String = r.try_get("event_id")?;
        let delivered = attempt(state, &id, tenant, endpoint, &event, r.try_get("attempts")?).await?;
        n += 1;
        if !delivered {
            break;
        }
    }
    Ok(n)
}

/// The body of a delivery: the event as the access history holds it.
async fn body(state: &AppState, tenant: &str, event: &str) -> Result<Option<String>, AppError> {
    let row = sqlx::query(
        "SELECT id, seq, mac, action, outcome, actor, ip, user_agent, detail, created_at, key_id FROM audit_events \
         WHERE id = $1 AND tenant_id = $2",
    )
    .bind(event)
    .bind(tenant)
    .fetch_optional(&state.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let created_at: i64 = r.try_get("created_at")?;
    let action: String = r.try_get("action")?;
    let data = serde_json::json!({
        "id": r.try_get::<String, _>("id")?,
        "tenant_id": tenant,
        "seq": r.try_get::<i64, _>("seq")?,
        "mac": r.try_get::<String, _>("mac")?,
        "action": action,
        "outcome": r.try_get::<String, _>("outcome")?,
        "actor": r.try_get::<String, _>("actor")?,
        "ip": r.try_get::<String, _>("ip")?,
        "user_agent": r.try_get::<String, _>("user_agent")?,
        "detail": r.try_get::<String, _>("detail")?,
        "created_at": created_at,
        "key_id": r.try_get::<Option<String>, _>("key_id")?,
    });
    let envelope =
        serde_json::json!({ "type": action, "timestamp": crate::model::format_utc(created_at), "data": data });
    Ok(Some(envelope.to_string()))
}

async fn attempt(
    state: &AppState,
    id: &str,
    tenant: &str,
    endpoint: &str,
    event: &str,
    attempts: i64,
) -> Result<bool, AppError> {
    let row = sqlx::query(
        "SELECT url, enabled, secret_sealed, secret_key_id, previous_secret_sealed, previous_secret_key_id, \
         previous_until, failing_since FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2",
    )
    .bind(endpoint)
    .bind(tenant)
    .fetch_optional(&state.pool)
    .await?;
    let body = body(state, tenant, event).await?;
    let (Some(row), Some(body)) = (row, body) else { return give_up(state, id).await.map(|()| true) };
    if row.try_get::<i64, _>("enabled")? != 1 {
        // Disabled meanwhile: what waits stays waiting, for when it is enabled again.
        return Ok(false);
    }
    let url: String = row.try_get("url")?;
    let secret = super::endpoints::open_secret(
        state,
        tenant,
        endpoint,
        &row.try_get::<String, _>("secret_key_id")?,
        &row.try_get::<String, _>("secret_sealed")?,
    )?;
    let timestamp = state.clock.now_ms().div_euclid(1000);
    let mut signature = super::signature(&secret, id, timestamp, &body);
    // During a rotation's overlap the old secret signs too (space-separated, as the specification allows).
    let previous_until: Option<i64> = row.try_get("previous_until")?;
    if let (Some(until), Some(key_id), Some(sealed)) = (
        previous_until,
        row.try_get::<Option<String>, _>("previous_secret_key_id")?,
        row.try_get::<Option<String>, _>("previous_secret_sealed")?,
    ) {
        if until > state.clock.now_ms() {
            let old = super::endpoints::open_secret(state, tenant, endpoint, &key_id, &sealed)?;
            signature = format!("{signature} {}", super::signature(&old, id, timestamp, &body));
        }
    }
    let started = Instant::now();
    let answer = send(state, &url, id, timestamp, &signature, body).await;
    let took = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let now = state.clock.now_ms();
    let failing_since: Option<i64> = row.try_get("failing_since")?;
    let mut tx = begin_write(&state.pool).await?;
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, tenant_id, attempted_at, status, duration_ms, response, \
         instance) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id)
    .bind(tenant)
    .bind(now)
    .bind(answer.status)
    .bind(took)
    .bind(&answer.text)
    .bind(state.exports.worker_id())
    .execute(&mut *tx)
    .await?;
    let attempts = attempts + 1;
    let mut next_may_go = false;
    let set = |status: &str, next: i64| {
        // Only a delivery still pending: another instance that took the endpoint over meanwhile (this one looked
        // gone) may have delivered it already, and a late failure here must not send it a third time.
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, done_at = $4 \
             WHERE id = $5 AND status = 'pending'",
        )
        .bind(status.to_owned())
        .bind(attempts)
        .bind(next)
        .bind((status != "pending").then_some(now))
        .bind(id.to_owned())
    };
    if (200..300).contains(&answer.status) {
        set("delivered", now).execute(&mut *tx).await?;
        next_may_go = true;
        sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1")
            .bind(endpoint)
            .execute(&mut *tx)
            .await?;
    } else if answer.status == 410 {
        set("failed", now).execute(&mut *tx).await?;
        disable(&mut tx, state, tenant, endpoint, &url, "the receiver answered 410 Gone", now).await?;
    } else if failing_since.is_some_and(|since| now - since >= DISABLE_AFTER_MS) {
        set("failed", now).execute(&mut *tx).await?;
        disable(&mut tx, state, tenant, endpoint, &url, "every delivery failed for 5 days", now).await?;
    } else {
        match SCHEDULE_MS.get(usize::try_from(attempts - 1).unwrap_or(usize::MAX)) {
            Some(wait) => {
                let jitter = (rand::random::<f64>() - 0.5) * 0.2;
                let wait = (*wait as f64 * (1.0 + jitter)) as i64;
                let wait = answer.retry_after_ms.map_or(wait, |r| wait.max(r.min(10 * HOUR_MS)));
                set("pending", now + wait).execute(&mut *tx).await?;
            }
            None => {
                set("failed", now).execute(&mut *tx).await?;
                next_may_go = true;
            }
        }
        sqlx::query("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL")
            .bind(now)
            .bind(endpoint)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(next_may_go)
}

async fn give_up(state: &AppState, id: &str) -> Result<(), AppError> {
    sqlx::query("UPDATE webhook_deliveries SET status = 'failed', done_at = $1 WHERE id = $2")
        .bind(state.clock.now_ms())
        .bind(id)
        .execute(&state.pool)
        .await?;
    Ok(())
}

/// Disables an endpoint (its pending deliveries given up): `webhook.disabled`, and its admins told.
async fn disable(
    conn: &mut sqlx::AnyConnection,
    state: &AppState,
    tenant: &str,
    endpoint: &str,
    url: &str,
    why: &str,
    now: i64,
) -> Result<(), AppError> {
    sqlx::query("UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1 WHERE id = $2")
        .bind(why)
        .bind(endpoint)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', done_at = $1 WHERE endpoint_id = $2 AND status = 'pending'",
    )
    .bind(now)
    .bind(endpoint)
    .execute(&mut *conn)
    .await?;
    let tenant_id = TenantId(tenant.to_owned());
    let meta = RequestMeta { ip: String::new(), user_agent: String::new() };
    let detail = format!("{url}: {why}");
    let ev = NewEvent {
        tenant_id: Some(&tenant_id),
        account_id: None,
        actor: "rampart",
        action: "webhook.disabled",
        outcome: Outcome::Success,
        meta: &meta,
        detail: &detail,
        key_id: None,
    };
    audit::record(conn, &state.keys, now, &ev).await?;
    let admins: Vec<String> = sqlx::query_scalar(
        "SELECT a.email FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1 \
         AND m.deactivated_at IS NULL AND m.role IN ('owner', 'admin')",
    )
    .bind(tenant)
    .fetch_all(&mut *conn)
    .await?;
    let name: String =
        sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1").bind(tenant).fetch_one(&mut *conn).await?;
    let alert = crate::backend::alerts::Alert {
        kind: "webhook_disabled",
        summary: "A webhook endpoint was disabled".to_owned(),
        lines: vec![
            format!("The webhook endpoint {url} of {name} was disabled: {why}."),
            "Security events are no longer sent to it. Fix the receiver, then add the endpoint again.".to_owned(),
        ],
    };
    crate::backend::alerts::enqueue(conn, now, &tenant_id, &name, &admins, &alert).await?;
    Ok(())
}

/// The most receivers whose connections are kept.
const CLIENTS_MAX: usize = 1_000;

/// A client for `host` pinned to its checked address `addr`, kept per (host, address) so that deliveries to one
/// receiver reuse their connections. A host that resolves elsewhere later gets another client: every attempt
/// still connects only to the address it checked.
fn client_for(host: &str, addr: std::net::SocketAddr) -> Result<reqwest13::Client, reqwest13::Error> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CLIENTS: OnceLock<Mutex<HashMap<(String, std::net::SocketAddr), reqwest13::Client>>> = OnceLock::new();
    let clients = CLIENTS.get_or_init(Mutex::default);
    let key = (host.to_owned(), addr);
    if let Some(c) = clients.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(c);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut builder = reqwest13::Client::builder()
        .redirect(reqwest13::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(15))
        .pool_max_idle_per_host(2)
        .user_agent("rampart-webhooks");
    if !host.is_empty() && host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_err() {
        builder = builder.resolve(host, addr);
    }
    let client = builder.build()?;
    if let Ok(mut m) = clients.lock() {
        if m.len() >= CLIENTS_MAX {
            m.clear();
        }
        m.insert(key, client.clone());
    }
    Ok(client)
}

/// One POST to the checked address.
async fn send(state: &AppState, url: &str, id: &str, timestamp: i64, signature: &str, body: String) -> Answer {
    let refused = |text: String| Answer { status: 0, text, retry_after_ms: None };
    let (parsed, addr) = match address::resolve(url, state.webhooks.allow_loopback).await {
        Ok(x) => x,
        Err(why) => return refused(format!("not sent: {why}")),
    };
    let client = match client_for(parsed.host_str().unwrap_or_default(), addr) {
        Ok(c) => c,
        Err(e) => return refused(format!("not sent: {e}")),
    };
    let res = client
        .post(parsed)
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let mut res = match res {
        Ok(r) => r,
        Err(e) => {
            return refused(format!(
                "no answer: {}",
                if e.is_timeout() { "timed out after 15 s".to_owned() } else { e.to_string() }
            ))
        }
    };
    let status = i64::from(res.status().as_u16());
    let retry_after_ms = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .map(|s| s.saturating_mul(1000));
    let mut kept = Vec::new();
    while kept.len() < KEEP_BYTES {
        match res.chunk().await {
            Ok(Some(c)) => kept.extend_from_slice(&c[..c.len().min(KEEP_BYTES - kept.len())]),
            _ => break,
        }
    }
    Answer { status, text: String::from_utf8_lossy(&kept).into_owned(), retry_after_ms }
}
