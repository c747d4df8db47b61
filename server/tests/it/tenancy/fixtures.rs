//! Records of tenant A the matrices aim at.

use super::CANARY;
use crate::common::TestApp;

/// A machine of the member's tenant (with a certificate) and an enrolment token, both named after the canary.
pub async fn machine_of(app: &TestApp, membership: &str) -> (String, String) {
    let machine = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO machines (id, tenant_id, name, source_range, cert_days, created_by, created_at) \
         SELECT $1, tenant_id, $2, '', 30, 'matrix', 0 FROM memberships WHERE id = $3",
    )
    .bind(&machine)
    .bind(format!("{CANARY} machine"))
    .bind(membership)
    .execute(&app.state.pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO machine_certs (fingerprint, machine_id, tenant_id, serial, not_before, not_after, issued_at) \
         SELECT $1, id, tenant_id, 1, 0, 9999999999999, 0 FROM machines WHERE id = $2",
    )
    .bind(format!("matrix-{machine}"))
    .bind(&machine)
    .execute(&app.state.pool)
    .await
    .unwrap();
    let token = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO machine_tokens (id, tenant_id, token_hash, name, source_range, cert_days, created_by, \
         created_at, expires_at) SELECT $1, tenant_id, $1, $2, '', 30, 'matrix', 0, 9999999999999 \
         FROM memberships WHERE id = $3",
    )
    .bind(&token)
    .bind(format!("{CANARY} token"))
    .bind(membership)
    .execute(&app.state.pool)
    .await
    .unwrap();
    (machine, token)
}
