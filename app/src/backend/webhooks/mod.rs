//! Security events pushed out, signed (the Standard Webhooks specification): a tenant's admins register
//! endpoints with the action families they want (`endpoints`); every access-history event of the tenant that an
//! enabled endpoint wants gets a delivery row in the same transaction as the event (`enqueue`, called by
//! `audit::chain::append`: nothing recorded is lost to a crash); the worker (`deliver`) sends them, signed, to
//! checked public addresses only (`address`), in the order of the events per endpoint, retrying on the Standard
//! Webhooks schedule.
//!
//! A delivery's body is the event as the access history holds it, its chain `seq` and `mac` included, so a
//! receiver can check it against an export. Headers: `webhook-id` (the same on every retry), `webhook-timestamp`
//! (Unix seconds), `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the
//! endpoint's secret (`whsec_` + base64 of 32 random bytes, shown once, kept sealed: Rampart signs with it).

pub mod address;
pub mod claim;
pub mod deliver;
pub mod endpoints;
pub mod history;

use base64::Engine as _;
use hmac::Mac as _;
use sqlx::AnyConnection;

/// The operator's webhook settings.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    /// Plain `http` and loopback addresses allowed as targets (for tests only).
    pub allow_loopback: bool,
    /// Endpoints this instance delivers to at once (0: none; its job does not run).
    pub parallel: usize,
}

/// The Standard Webhooks signature of a delivery: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

/// The secret's bytes (`whsec_` + base64).
pub fn secret_bytes(secret: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_")?).ok()
}

/// The family of an action: what comes before its first dot (`sign_in`, `key`, `member`, `vault`, …).
pub fn family(action: &str) -> &str {
    action.split('.').next().unwrap_or(action)
}

/// Which of `tenants` have an enabled endpoint (read on the caller's transaction).
pub async fn tenants_with_endpoints(conn: &mut AnyConnection, tenants: &[&str]) -> Result<Vec<String>, sqlx::Error> {
    let mut found = Vec::new();
    // A bounded number of parameters per statement, and a list padded to a power of two with its last tenant
    // again: each text stays prepared on its connection, so seven texts serve every batch instead of one per
    // count of tenants (as the history's inserts, `audit::chain::insert_sizes`).
    for chunk in tenants.chunks(64) {
        let Some(last) = chunk.last() else { continue };
        let marks = chunk.len().next_power_of_two();
        let mut sql =
            "SELECT DISTINCT tenant_id FROM webhook_endpoints WHERE enabled = 1 AND tenant_id IN (".to_owned();
        for i in 1..=marks {
            sql.push_str(if i == 1 { "$1" } else { ", $" });
            if i > 1 {
                sql.push_str(&i.to_string());
            }
        }
        sql.push(')');
        let mut q = sqlx::query_scalar::<_, String>(&sql);
        for t in chunk.iter().chain(std::iter::repeat_n(last, marks - chunk.len())) {
            q = q.bind(*t);
        }
        found.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(found)
}

/// Queues a delivery of the event `event_id` (chain `seq`, `action`) of `tenant` to each of its enabled
/// endpoints that wants the action's family, on the caller's transaction (the event's own).
pub async fn enqueue(
    conn: &mut AnyConnection,
    tenant: &str,
    event_id: &str,
    seq: i64,
    action: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, seq, status, attempts, \
         next_attempt_at, created_at) SELECT 'msg_' || $1 || '_' || w.id, w.tenant_id, w.id, $1, $2, 'pending', 0, \
         $3, $3 FROM webhook_endpoints w WHERE w.tenant_id = $4 AND w.enabled = 1 \
         AND (w.events = '*' OR (',' || w.events || ',') LIKE $5)",
    )
    .bind(event_id)
    .bind(seq)
    .bind(now)
    .bind(tenant)
    .bind(format!("%,{},%", family(action)))
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification.
        let secret = super::secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            super::signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(super::family("sign_in.password"), "sign_in");
    }
}
