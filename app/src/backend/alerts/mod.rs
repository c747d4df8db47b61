//! Security alerts by email, to the member concerned and to the tenant's security contact: 20 consecutive
//! failed sign-ins, a correct password followed by a wrong second factor, a sign-in from a new device, a TOTP
//! replay, a canary key's use.
//!
//! Policy: one digest, not a flood. Alerts are queued (`pending_alerts`) in the transaction of the act that
//! raises them; each recipient gets at most one alert email per tenant per 15-minute window: the first alert
//! goes out at once, what is raised inside the window goes out as one digest when it ends (`deliver_due`, run
//! by the server's alert job and after each raise). Claiming a window is one conditional write, so two
//! instances never both send. A message names the tenant and never contains a secret; an email that fails to
//! send is logged and not retried (the access history is the record).

pub mod notify;

use crate::backend::platform::ids::TenantId;
use crate::backend::platform::request::RequestMeta;
use crate::backend::AppState;
use crate::model::{format_utc, AppError};
use notify::Notice;
use sqlx::{AnyConnection, Row as _};

/// At most one alert email per recipient and tenant in this time.
pub const ALERT_WINDOW_MS: i64 = 15 * crate::backend::platform::clock::MINUTE_MS;

/// One alert: a short summary and the lines that explain it (IPs, times, user agents; never a secret).
#[derive(Debug, Clone)]
pub struct Alert {
    pub kind: &'static str,
    pub summary: String,
    pub lines: Vec<String>,
}

fn from(meta: &RequestMeta) -> String {
    format!("From IP address {} ({}).", meta.ip, shown_agent(&meta.user_agent))
}

/// A client's user agent as an email quotes it. Anyone can send any user agent without signing in, and alerts
/// and notices are genuine Rampart emails: so it is quoted, cut to 120 characters, and anything in it a mail
/// client would make a link defanged (`hxxps[://]evil[.]example/r`; a dot before a letter becomes `[.]`, so
/// a bare `evil.example` is no link either, while `Mozilla/5.0` and `Chrome/120.0.6099.109` read as they are).
pub fn shown_agent(agent: &str) -> String {
    if agent.trim().is_empty() {
        return "unknown browser".to_owned();
    }
    let cut: String = agent.chars().take(120).collect();
    let cut = cut.replace("http", "hxxp").replace("HTTP", "hXXP").replace("://", "[://]");
    let mut shown = String::with_capacity(cut.len() + 8);
    let mut chars = cut.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '.' && chars.peek().is_some_and(char::is_ascii_alphabetic) {
            shown.push_str("[.]");
        } else {
            shown.push(c);
        }
    }
    let more = if agent.chars().count() > 120 { "…" } else { "" };
    format!("user agent “{shown}{more}”")
}

impl Alert {
    /// The account had `count` consecutive failed sign-ins; `failures` are (time, IP, user agent, detail).
    pub fn consecutive_failures(account: &str, count: i64, failures: &[(i64, String, String, String)]) -> Self {
        let mut lines = vec![format!(
            "{count} sign-ins in a row failed for {account}. If these were not the member, someone is guessing \
             the password: the attempts are slowed down and, from unknown devices, stopped after 100."
        )];
        lines.extend(
            failures
                .iter()
                .map(|(at, ip, ua, detail)| format!("{}: {ip}, {} ({detail})", format_utc(*at), shown_agent(ua))),
        );
        Self { kind: "sign_in.failures", summary: format!("{count} consecutive failed sign-ins for {account}"), lines }
    }

    /// The password of `account` was right but the second factor wrong.
    pub fn wrong_second_factor(account: &str, meta: &RequestMeta) -> Self {
        Self {
            kind: "sign_in.second_factor",
            summary: format!("correct password, wrong second factor for {account}"),
            lines: vec![
                format!(
                    "Someone entered the correct password of {account} and then a wrong two-factor code. If this \
                     was not the member, the password is known to someone else: change it now."
                ),
                from(meta),
            ],
        }
    }

    /// `account` signed in from a device and IP it never signed in from before.
    pub fn new_device(account: &str, meta: &RequestMeta) -> Self {
        Self {
            kind: "sign_in.new_device",
            summary: format!("sign-in from a new device for {account}"),
            lines: vec![
                format!(
                    "{account} signed in from a browser and IP address not seen before. If this was not the \
                     member, reset the password and review the sessions."
                ),
                from(meta),
            ],
        }
    }

    /// A valid TOTP code of `account` was presented a second time.
    pub fn totp_replay(account: &str, meta: &RequestMeta) -> Self {
        Self {
            kind: "two_factor.replay",
            summary: format!("a sign-in code was used twice for {account}"),
            lines: vec![
                format!(
                    "Someone entered the password of {account} with a two-factor code that had already been used. \
                     The sign-in was refused. Someone may know the password and have seen a code: change the \
                     password now and review the sessions and access history."
                ),
                from(meta),
            ],
        }
    }

    /// `member` lost the role or grants that their keys `prefixes` need, and the keys were frozen.
    pub fn keys_frozen_on_demotion(member: &str, prefixes: &[&str], meta: &RequestMeta) -> Self {
        Self {
            kind: "key.freeze",
            summary: format!("{} API key(s) of {member} frozen after a change of role", prefixes.len()),
            lines: vec![
                format!(
                    "{member} no longer holds the access that their API keys {} need, so they were frozen: they \
                     are refused until an owner unfreezes them or the member regains that access. Revoke the ones \
                     no longer wanted.",
                    prefixes.iter().map(|p| format!("{p}\u{2026}")).collect::<Vec<_>>().join(", ")
                ),
                format!("Changed from IP address {}.", meta.ip),
            ],
        }
    }

    /// A canary API key was presented.
    pub fn canary_key(key: &str, description: &str, meta: &RequestMeta) -> Self {
        Self {
            kind: "key.canary",
            summary: format!("the canary API key {key}\u{2026} was used"),
            lines: vec![
                format!(
                    "Someone called the API with the canary key {key}\u{2026} (\u{201c}{description}\u{201d}). The \
                     request was refused. A canary key is never given to any client: find out how it got out and \
                     roll the real keys kept in the same place."
                ),
                from(meta),
            ],
        }
    }
}

/// The member's email and the tenant's security contact (if set and different).
pub async fn member_and_contact(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    member: &str,
) -> Result<Vec<String>, AppError> {
    let contact: String = sqlx::query("SELECT security_contact FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_one(&mut *conn)
        .await?
        .try_get("security_contact")?;
    let mut out = vec![member.to_owned()];
    if !contact.trim().is_empty() && !contact.trim().eq_ignore_ascii_case(member.trim()) {
        out.push(contact.trim().to_owned());
    }
    Ok(out)
}

/// Queues an alert about `tenant` for each of `recipients`, in the caller's transaction. Delivery follows
/// with `deliver_due` (after the commit).
pub async fn enqueue(
    conn: &mut AnyConnection,
    now: i64,
    tenant: &TenantId,
    tenant_name: &str,
    recipients: &[String],
    alert: &Alert,
) -> Result<(), AppError> {
    let body = alert.lines.join("\n");
    for to in recipients {
        sqlx::query(
            "INSERT INTO pending_alerts (id, recipient_key, recipient, tenant_id, tenant_name, kind, summary, body, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(crate::backend::platform::ids::new_event_id())
        .bind(crate::backend::identity::accounts::email_key(to))
        .bind(to)
        .bind(tenant.as_str())
        .bind(tenant_name)
        .bind(alert.kind)
        .bind(&alert.summary)
        .bind(&body)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Queues an alert for the member `email` of `tenant` and the tenant's security contact, in its own
/// transaction, then delivers what is due off the request path.
pub async fn raise_for_member(
    state: &AppState,
    tenant: &TenantId,
    tenant_name: &str,
    email: &str,
    alert: &Alert,
) -> Result<(), AppError> {
    let now = state.clock.now_ms();
    let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
    let to = member_and_contact(&mut tx, tenant, email).await?;
    enqueue(&mut tx, now, tenant, tenant_name, &to, alert).await?;
    tx.commit().await?;
    spawn_delivery(state);
    Ok(())
}

/// Delivers what is due in the background (so that no answer's timing depends on an alert).
pub fn spawn_delivery(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(err) = deliver_due(&state).await {
            tracing::warn!(error = %err, "alert delivery failed; the alert job retries");
        }
    });
}

struct Queued {
    recipient: String,
    tenant_name: String,
    summary: String,
    body: String,
    created_at: i64,
}

/// Sends every alert whose recipient's window is open: one email per recipient and tenant, a digest when
/// several alerts waited. Returns the number of emails sent.
pub async fn deliver_due(state: &AppState) -> Result<usize, AppError> {
    let now = state.clock.now_ms();
    let cutoff = now - ALERT_WINDOW_MS;
    let due = sqlx::query(
        "SELECT DISTINCT p.recipient_key, p.tenant_id FROM pending_alerts p LEFT JOIN alert_windows w \
         ON w.recipient_key = p.recipient_key AND w.tenant_id = p.tenant_id \
         WHERE p.sent_at IS NULL AND p.created_at <= $1 AND (w.last_sent_at IS NULL OR w.last_sent_at <= $2)",
    )
    .bind(now)
    .bind(cutoff)
    .fetch_all(&state.pool)
    .await?;
    let mut sent = 0;
    for row in due {
        let recipient_key: String = row.try_get("recipient_key")?;
        let tenant_id: String = row.try_get("tenant_id")?;
        let mut tx = crate::backend::platform::db::begin_write(&state.pool).await?;
        // The one write that decides who sends: the window must still be open.
        let claimed = sqlx::query(
            "INSERT INTO alert_windows (recipient_key, tenant_id, last_sent_at) VALUES ($1, $2, $3) \
             ON CONFLICT (recipient_key, tenant_id) DO UPDATE SET last_sent_at = $3 \
             WHERE alert_windows.last_sent_at <= $4",
        )
        .bind(&recipient_key)
        .bind(&tenant_id)
        .bind(now)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            tx.rollback().await?;
            continue;
        }
        let rows = sqlx::query(
            "SELECT recipient, tenant_name, summary, body, created_at FROM pending_alerts \
             WHERE recipient_key = $1 AND tenant_id = $2 AND sent_at IS NULL AND created_at <= $3 \
             ORDER BY created_at, id",
        )
        .bind(&recipient_key)
        .bind(&tenant_id)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let queued = rows
            .iter()
            .map(|r| {
                Ok(Queued {
                    recipient: r.try_get("recipient")?,
                    tenant_name: r.try_get("tenant_name")?,
                    summary: r.try_get("summary")?,
                    body: r.try_get("body")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let Some(first) = queued.first() else {
            tx.rollback().await?;
            continue;
        };
        sqlx::query(
            "UPDATE pending_alerts SET sent_at = $1 \
             WHERE recipient_key = $2 AND tenant_id = $3 AND sent_at IS NULL AND created_at <= $1",
        )
        .bind(now)
        .bind(&recipient_key)
        .bind(&tenant_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut items: Vec<(String, String)> =
            queued.iter().map(|q| (format!("{}: {}", format_utc(q.created_at), q.summary), q.body.clone())).collect();
        // A copy of the access history's head outside Rampart: a history cut short later no longer matches it.
        let (head_seq, head_mac) = crate::backend::audit::chain::current_head(&state.pool, &tenant_id).await?;
        if let Some(last) = items.last_mut() {
            last.1.push_str(&format!(
                "\n\nAt {} the organisation's access history ends at event #{head_seq} with MAC {head_mac}. Keep this \
                 email: a later history that lacks this event, or holds another MAC at #{head_seq}, was tampered with.",
                format_utc(now)
            ));
        }
        let notice = Notice::SecurityAlerts { items: &items };
        notify::send(state, &notice, &first.recipient, &first.tenant_name, &RequestMeta::default()).await;
        sent += 1;
    }
    Ok(sent)
}

/// Forgets alerts sent more than 30 days ago.
pub async fn forget_sent(state: &AppState) -> Result<u64, AppError> {
    let cutoff = state.clock.now_ms() - 30 * 24 * 60 * crate::backend::platform::clock::MINUTE_MS;
    let done = sqlx::query("DELETE FROM pending_alerts WHERE sent_at IS NOT NULL AND sent_at < $1")
        .bind(cutoff)
        .execute(&state.pool)
        .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::shown_agent;

    #[test]
    fn user_agents_are_quoted_cut_and_defanged() {
        assert_eq!(shown_agent(""), "unknown browser");
        let browser = "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0.6099.109 Safari/537.36";
        assert_eq!(shown_agent(browser), format!("user agent “{browser}”"), "a browser reads as it is");
        let bait = shown_agent("locked: go to https://evil.example/r or evil.example or WWW.EVIL.COM");
        assert!(!bait.contains("https://") && !bait.contains("evil.example") && !bait.contains("EVIL.COM"), "{bait}");
        assert!(bait.contains("hxxps[://]evil[.]example/r"), "{bait}");
        assert!(shown_agent(&"x".repeat(500)).chars().count() < 140, "cut");
    }
}
