//! What a data export holds besides the access history: the tenant's records as JSON documents, and the list of
//! vault versions to copy. Explicit column lists throughout, and what is left out is left out on purpose:
//! password hashes, TOTP secrets, recovery codes, API key digests, session ids and invitation tokens never leave
//! the server (they are credentials, not data about the tenant).

mod reach;

use crate::backend::AppState;
use crate::model::{allows, AppError, Permission, Role};
use serde_json::{json, Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row as _;

/// A column and how to read it.
#[derive(Debug, Clone, Copy)]
enum Col {
    Text(&'static str),
    Int(&'static str),
}

fn object(r: &AnyRow, cols: &[Col]) -> Result<Value, AppError> {
    let mut m = Map::new();
    for c in cols {
        let (name, v) = match *c {
            Col::Text(n) => (n, r.try_get::<Option<String>, _>(n)?.map_or(Value::Null, Value::from)),
            Col::Int(n) => (n, r.try_get::<Option<i64>, _>(n)?.map_or(Value::Null, Value::from)),
        };
        m.insert(name.to_owned(), v);
    }
    Ok(Value::Object(m))
}

async fn rows(state: &AppState, sql: &str, tenant_id: &str, cols: &[Col]) -> Result<Vec<Value>, AppError> {
    let rows = sqlx::query(sql).bind(tenant_id).fetch_all(&state.pool).await?;
    rows.iter().map(|r| object(r, cols)).collect()
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

/// The tenant's name (for the manifest and file names).
pub async fn tenant_name(state: &AppState, tenant_id: &str) -> Result<String, AppError> {
    Ok(sqlx::query("SELECT name FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or(AppError::NotFound)?
        .try_get("name")?)
}

/// The record documents, as (entry name, JSON bytes), in archive order.
pub async fn documents(state: &AppState, tenant_id: &str) -> Result<Vec<(&'static str, Vec<u8>)>, AppError> {
    use Col::{Int, Text};
    let tenant = rows(
        state,
        "SELECT id, name, created_at, require_two_factor, key_max_age_days, key_disable_unused_days, \
         security_contact, audit_retention_days, console_allowed_ips, ssh_key_policy, ssh_cert_minutes, \
         sftp_require_certs, sftp_paused_at, four_eyes, support_allowed, support_vault_allowed, \
         support_exports_allowed, last_panic_at, closure_requested_at, closes_at FROM tenants WHERE id = $1",
        tenant_id,
        &[
            Text("id"),
            Text("name"),
            Int("created_at"),
            Int("require_two_factor"),
            Int("key_max_age_days"),
            Int("key_disable_unused_days"),
            Text("security_contact"),
            Int("audit_retention_days"),
            Text("console_allowed_ips"),
            Text("ssh_key_policy"),
            Int("ssh_cert_minutes"),
            Int("sftp_require_certs"),
            Int("sftp_paused_at"),
            Int("four_eyes"),
            Int("support_allowed"),
            Int("support_vault_allowed"),
            Int("support_exports_allowed"),
            Int("last_panic_at"),
            Int("closure_requested_at"),
            Int("closes_at"),
        ],
    )
    .await?
    .into_iter()
    .next()
    .ok_or(AppError::NotFound)?;
    let members = rows(
        state,
        "SELECT m.id AS membership_id, m.account_id, a.email, m.role, m.grants, m.created_at, m.last_sign_in_at, \
         m.deactivated_at, a.created_at AS account_created_at, a.password_set_at, \
         (SELECT t.enabled_at FROM totp_factors t WHERE t.account_id = a.id) AS two_factor_enabled_at \
         FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.tenant_id = $1 \
         ORDER BY m.created_at, m.id",
        tenant_id,
        &[
            Text("membership_id"),
            Text("account_id"),
            Text("email"),
            Text("role"),
            Text("grants"),
            Int("created_at"),
            Int("last_sign_in_at"),
            Int("deactivated_at"),
            Int("account_created_at"),
            Int("password_set_at"),
            Int("two_factor_enabled_at"),
        ],
    )
    .await?;
    let roles = roles_document(&members);
    let keys = rows(
        state,
        "SELECT id, kind, label, description, owner_membership_id, created_by, scopes, allowed_ips, \
         allowed_referers, rate_per_hour, created_at, expires_at, revoked_at, frozen_at, generation, display_prefix, \
         prev_display_prefix, prev_expires_at, rolled_at, last_used_at, last_used_ip, last_used_ua, machines_only \
         FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant_id,
        &[
            Text("id"),
            Text("kind"),
            Text("label"),
            Text("description"),
            Text("owner_membership_id"),
            Text("created_by"),
            Text("scopes"),
            Text("allowed_ips"),
            Text("allowed_referers"),
            Int("rate_per_hour"),
            Int("created_at"),
            Int("expires_at"),
            Int("revoked_at"),
            Int("frozen_at"),
            Int("generation"),
            Text("display_prefix"),
            Text("prev_display_prefix"),
            Int("prev_expires_at"),
            Int("rolled_at"),
            Int("last_used_at"),
            Text("last_used_ip"),
            Text("last_used_ua"),
            Int("machines_only"),
        ],
    )
    .await?;
    let sessions = rows(
        state,
        "SELECT s.account_id, a.email, s.ip, s.user_agent, s.authenticated_at, s.created_at, s.updated_at, \
         s.expires_at FROM sessions s LEFT JOIN accounts a ON a.id = s.account_id WHERE s.tenant_id = $1 \
         ORDER BY s.created_at, s.account_id",
        tenant_id,
        &[
            Text("account_id"),
            Text("email"),
            Text("ip"),
            Text("user_agent"),
            Int("authenticated_at"),
            Int("created_at"),
            Int("updated_at"),
            Int("expires_at"),
        ],
    )
    .await?;
    let invitations = rows(
        state,
        "SELECT id, email, role, grants, invited_by, created_at, expires_at, accepted_at, revoked_at \
         FROM invitations WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant_id,
        &[
            Text("id"),
            Text("email"),
            Text("role"),
            Text("grants"),
            Text("invited_by"),
            Int("created_at"),
            Int("expires_at"),
            Int("accepted_at"),
            Int("revoked_at"),
        ],
    )
    .await?;
    let blocks = rows(
        state,
        "SELECT id, cidr, reason, created_by, created_at, expires_at FROM ip_blocks WHERE tenant_id = $1 \
         ORDER BY created_at, id",
        tenant_id,
        &[Text("id"), Text("cidr"), Text("reason"), Text("created_by"), Int("created_at"), Int("expires_at")],
    )
    .await?;
    let allow: Vec<&str> = tenant["console_allowed_ips"]
        .as_str()
        .unwrap_or("")
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let ip_rules = json!({ "console_allow_list": allow, "blocks": blocks });
    let machines = rows(
        state,
        "SELECT id, name, source_range, cert_days, created_by, created_at, revoked_at, revoked_by, last_seen_at, \
         last_seen_ip FROM machines WHERE tenant_id = $1 ORDER BY created_at, id",
        tenant_id,
        &[
            Text("id"),
            Text("name"),
            Text("source_range"),
            Int("cert_days"),
            Text("created_by"),
            Int("created_at"),
            Int("revoked_at"),
            Text("revoked_by"),
            Int("last_seen_at"),
            Text("last_seen_ip"),
        ],
    )
    .await?;
    let certificates = rows(
        state,
        "SELECT fingerprint, machine_id, serial, not_before, not_after, issued_at, replaced_at FROM machine_certs \
         WHERE tenant_id = $1 ORDER BY issued_at, fingerprint",
        tenant_id,
        &[
            Text("fingerprint"),
            Text("machine_id"),
            Int("serial"),
            Int("not_before"),
            Int("not_after"),
            Int("issued_at"),
            Int("replaced_at"),
        ],
    )
    .await?;
    let machines = json!({ "machines": machines, "certificates": certificates });
    let mut documents = vec![
        ("tenant.json", bytes(&tenant)),
        ("members.json", bytes(&Value::from(members))),
        ("roles.json", bytes(&roles)),
        ("api-keys.json", bytes(&Value::from(keys))),
        ("sessions.json", bytes(&Value::from(sessions))),
        ("invitations.json", bytes(&Value::from(invitations))),
        ("ip-rules.json", bytes(&ip_rules)),
        ("machines.json", bytes(&machines)),
    ];
    documents.extend(reach::documents(state, tenant_id).await?);
    Ok(documents)
}

/// Every role with the features it has, and every member's grants and effective features.
fn roles_document(members: &[Value]) -> Value {
    let names = |list: Vec<Permission>| list.into_iter().map(|p| p.as_str()).collect::<Vec<_>>();
    let roles: Vec<Value> = Role::ALL
        .into_iter()
        .map(|r| {
            let by_role = Permission::ALL.into_iter().filter(|p| allows(r, &[], *p)).collect();
            json!({ "role": r.as_str(), "administers": r.is_admin(), "features": names(by_role),
                    "grantable": r == Role::Member })
        })
        .collect();
    let grants: Vec<Value> = members
        .iter()
        .map(|m| {
            let role = Role::parse(m["role"].as_str().unwrap_or("")).unwrap_or(Role::Auditor);
            let granted = Permission::parse_list(m["grants"].as_str().unwrap_or(""));
            let effective = Permission::ALL.into_iter().filter(|p| allows(role, &granted, *p)).collect();
            json!({ "membership_id": m["membership_id"], "email": m["email"], "role": role.as_str(),
                    "grants": names(granted), "features": names(effective) })
        })
        .collect();
    json!({ "roles": roles, "member_grants": grants })
}

/// One stored version of a vault file, to copy into the archive.
#[derive(Debug, Clone)]
pub struct VaultItem {
    pub path: String,
    pub deleted_at: Option<i64>,
    pub current: bool,
    pub number: i64,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub blob: String,
    pub key_version: i64,
    pub created_at: i64,
    pub created_by: String,
}

impl VaultItem {
    /// Where it goes: `vault/<path>` (current), `vault-deleted/<path>` (current, in the bin),
    /// `vault-versions/<path>/v<N>` (older versions).
    pub fn entry_name(&self) -> String {
        match (self.current, self.deleted_at.is_some()) {
            (true, false) => format!("vault/{}", self.path),
            (true, true) => format!("vault-deleted/{}", self.path),
            (false, _) => format!("vault-versions/{}/v{}", self.path, self.number),
        }
    }
}

/// Every version of every vault file of the tenant (files in the bin too), by path and number.
pub async fn vault_items(state: &AppState, tenant_id: &str) -> Result<Vec<VaultItem>, AppError> {
    let rows = sqlx::query(
        "SELECT o.path, o.deleted_at, o.current_version_id, v.id, v.number, v.size, v.sha256, v.content_type, \
         v.blob, v.key_version, v.created_at, v.created_by FROM vault_objects o JOIN vault_versions v \
         ON v.object_id = o.id AND v.tenant_id = o.tenant_id WHERE o.tenant_id = $1 ORDER BY o.path, v.number",
    )
    .bind(tenant_id)
    .fetch_all(&state.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(VaultItem {
                path: r.try_get("path")?,
                deleted_at: r.try_get("deleted_at")?,
                current: r.try_get::<String, _>("current_version_id")? == r.try_get::<String, _>("id")?,
                number: r.try_get("number")?,
                size: r.try_get("size")?,
                sha256: r.try_get("sha256")?,
                content_type: r.try_get("content_type")?,
                blob: r.try_get("blob")?,
                key_version: r.try_get("key_version")?,
                created_at: r.try_get("created_at")?,
                created_by: r.try_get("created_by")?,
            })
        })
        .collect()
}

/// `vault-index.json`: every file with its versions, where each one is in the archive, and which are deleted.
pub fn vault_index(items: &[VaultItem], restore_days: i64) -> Vec<u8> {
    let mut files: Vec<Value> = Vec::new();
    let mut last_path: Option<&str> = None;
    for it in items {
        if last_path != Some(it.path.as_str()) {
            files.push(json!({
                "path": it.path,
                "deleted": it.deleted_at.is_some(),
                "deleted_at": it.deleted_at,
                "purge_at": it.deleted_at.map(|d| d + restore_days * crate::backend::platform::clock::DAY_MS),
                "versions": [],
            }));
            last_path = Some(it.path.as_str());
        }
        if let Some(Value::Array(v)) = files.last_mut().and_then(|f| f.get_mut("versions")) {
            v.push(json!({
                "number": it.number,
                "current": it.current,
                "entry": it.entry_name(),
                "size": it.size,
                "sha256": it.sha256,
                "content_type": it.content_type,
                "created_at": it.created_at,
                "created_by": it.created_by,
            }));
        }
    }
    bytes(&json!({ "files": files }))
}

/// `manifest.json`: what the archive holds, entry by entry (everything before the manifest itself).
/// `who` is the export's id, its tenant's id and who asked for it.
pub(super) fn manifest_json(
    who: (&str, &str, &str),
    tenant_name: &str,
    now: i64,
    entries: &[super::zip::Written],
) -> Vec<u8> {
    let (export_id, tenant_id, requested_by) = who;
    let entries: Vec<serde_json::Value> =
        entries.iter().map(|w| serde_json::json!({ "name": w.name, "size": w.size, "sha256": w.sha256 })).collect();
    let doc = serde_json::json!({
        "format": "rampart-data-export-v1",
        "export_id": export_id,
        "tenant_id": tenant_id,
        "tenant_name": tenant_name,
        "requested_by": requested_by,
        "created_at_ms": now,
        "created_at": crate::model::format_rfc3339(now),
        "signature": "manifest.sig: base64 Ed25519 (RFC 8032) over these exact bytes; key: signing-key.pub",
        "entries": entries,
    });
    serde_json::to_vec_pretty(&doc).unwrap_or_default()
}
