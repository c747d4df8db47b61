//! The records of the ways into the tenant and of the acts guarding them: SSH keys (and the GitHub accounts they
//! sync from), SSH certificates and SFTP sessions, webhook endpoints and their deliveries, four-eyes approvals,
//! support requests, and the vault's folders and public links. The same rule as the other documents: explicit
//! columns, no credential (no webhook secret, no approval's sealed secret, no link token or support link, no
//! certificate authority key).

use super::{bytes, rows, Col};
use crate::backend::AppState;
use crate::model::AppError;
use serde_json::json;

/// `ssh.json`, `webhooks.json`, `approvals.json`, `support.json`, `vault-records.json`.
pub(super) async fn documents(state: &AppState, tenant: &str) -> Result<Vec<(&'static str, Vec<u8>)>, AppError> {
    use Col::{Int, Text};
    let keys = rows(
        state,
        "SELECT id, membership_id, source, github_key_id, key_type, bits, fingerprint, public_key, comment, state, \
         state_reason, first_seen_at, last_synced_at, last_used_at FROM ssh_keys WHERE tenant_id = $1 \
         ORDER BY first_seen_at, id",
        tenant,
        &[
            Text("id"),
            Text("membership_id"),
            Text("source"),
            Int("github_key_id"),
            Text("key_type"),
            Int("bits"),
            Text("fingerprint"),
            Text("public_key"),
            Text("comment"),
            Text("state"),
            Text("state_reason"),
            Int("first_seen_at"),
            Int("last_synced_at"),
            Int("last_used_at"),
        ],
    )
    .await?;
    let github = rows(
        state,
        "SELECT membership_id, github_user, github_user_id, linked_at, last_success_at, last_error \
         FROM ssh_github_links WHERE tenant_id = $1 ORDER BY linked_at, membership_id",
        tenant,
        &[
            Text("membership_id"),
            Text("github_user"),
            Int("github_user_id"),
            Int("linked_at"),
            Int("last_success_at"),
            Text("last_error"),
        ],
    )
    .await?;
    let certificates = rows(
        state,
        "SELECT serial, membership_id, fingerprint, principal, valid_after, valid_before, certificate, issued_at \
         FROM ssh_certificates WHERE tenant_id = $1 ORDER BY serial",
        tenant,
        &[
            Int("serial"),
            Text("membership_id"),
            Text("fingerprint"),
            Text("principal"),
            Int("valid_after"),
            Int("valid_before"),
            Text("certificate"),
            Int("issued_at"),
        ],
    )
    .await?;
    let sessions = rows(
        state,
        "SELECT id, membership_id, actor, via, key_fingerprint, cert_serial, ip, client, started_at, last_seen_at, \
         bytes_in, bytes_out, ended_at, end_reason FROM sftp_sessions WHERE tenant_id = $1 ORDER BY started_at, id",
        tenant,
        &[
            Text("id"),
            Text("membership_id"),
            Text("actor"),
            Text("via"),
            Text("key_fingerprint"),
            Int("cert_serial"),
            Text("ip"),
            Text("client"),
            Int("started_at"),
            Int("last_seen_at"),
            Int("bytes_in"),
            Int("bytes_out"),
            Int("ended_at"),
            Text("end_reason"),
        ],
    )
    .await?;
    let ssh =
        json!({ "keys": keys, "github_accounts": github, "certificates": certificates, "sftp_sessions": sessions });
    let endpoints = rows(
        state,
        "SELECT id, url, description, events, enabled, created_at, created_by, failing_since, disabled_reason \
         FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant,
        &[
            Text("id"),
            Text("url"),
            Text("description"),
            Text("events"),
            Int("enabled"),
            Int("created_at"),
            Text("created_by"),
            Int("failing_since"),
            Text("disabled_reason"),
        ],
    )
    .await?;
    let deliveries = rows(
        state,
        "SELECT id, endpoint_id, event_id, seq, status, attempts, created_at, done_at FROM webhook_deliveries \
         WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant,
        &[
            Text("id"),
            Text("endpoint_id"),
            Text("event_id"),
            Int("seq"),
            Text("status"),
            Int("attempts"),
            Int("created_at"),
            Int("done_at"),
        ],
    )
    .await?;
    let webhooks = json!({ "endpoints": endpoints, "deliveries": deliveries });
    let approvals = rows(
        state,
        "SELECT id, summary, reason, requested_by, requester_membership_id, created_at, expires_at, state, \
         decided_by, decider_membership_id, decided_at, outcome FROM approvals WHERE tenant_id = $1 \
         ORDER BY created_at, id",
        tenant,
        &[
            Text("id"),
            Text("summary"),
            Text("reason"),
            Text("requested_by"),
            Text("requester_membership_id"),
            Int("created_at"),
            Int("expires_at"),
            Text("state"),
            Text("decided_by"),
            Text("decider_membership_id"),
            Int("decided_at"),
            Text("outcome"),
        ],
    )
    .await?;
    let support = rows(
        state,
        "SELECT id, operator, reason, hours, created_at, state, decided_by, decided_at, until, allow_vault, \
         allow_exports FROM support_requests WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant,
        &[
            Text("id"),
            Text("operator"),
            Text("reason"),
            Int("hours"),
            Int("created_at"),
            Text("state"),
            Text("decided_by"),
            Int("decided_at"),
            Int("until"),
            Int("allow_vault"),
            Int("allow_exports"),
        ],
    )
    .await?;
    let folders = rows(
        state,
        "SELECT folder, created_at, created_by FROM vault_folders WHERE tenant_id = $1 ORDER BY folder",
        tenant,
        &[Text("folder"), Int("created_at"), Text("created_by")],
    )
    .await?;
    let links = rows(
        state,
        "SELECT l.id, o.path, l.version_id, l.single_use, l.uses, l.expires_at, l.revoked_at, l.created_at, \
         l.created_by FROM vault_links l LEFT JOIN vault_objects o ON o.id = l.object_id AND o.tenant_id = l.tenant_id \
         WHERE l.tenant_id = $1 ORDER BY l.created_at, l.id",
        tenant,
        &[
            Text("id"),
            Text("path"),
            Text("version_id"),
            Int("single_use"),
            Int("uses"),
            Int("expires_at"),
            Int("revoked_at"),
            Int("created_at"),
            Text("created_by"),
        ],
    )
    .await?;
    let vault = json!({ "folders": folders, "links": links });
    Ok(vec![
        ("ssh.json", bytes(&ssh)),
        ("webhooks.json", bytes(&webhooks)),
        ("approvals.json", bytes(&approvals.into())),
        ("support.json", bytes(&support.into())),
        ("vault-records.json", bytes(&vault)),
    ])
}
