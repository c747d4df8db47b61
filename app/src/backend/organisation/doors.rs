//! The ways in a member made that work without them: public vault links, invitations and machine enrolment
//! tokens. Each is an admin's to make, so none outlasts its maker's power to make it: deactivation, removal,
//! erasure and a demotion below admin end the open ones that member made (an owner made admin loses the
//! invitations that make owners), in the same transaction as the change, and the panic button ends every open
//! one of the tenant. Ended means revoked: the next use is refused as a revoked link, invitation or token.
//! Made through a key, a link belongs to the key's maker.

use crate::backend::platform::ids::{MembershipId, TenantId};
use crate::model::AppError;
use sqlx::AnyConnection;

/// How many of each were ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Closed {
    pub links: u64,
    pub invitations: u64,
    pub enrolment_tokens: u64,
}

impl Closed {
    /// For the event that ended them: "2 vault link(s), 1 invitation(s), 0 machine enrolment token(s) revoked".
    pub fn describe(&self) -> String {
        format!(
            "{} vault link(s), {} invitation(s), {} machine enrolment token(s) revoked",
            self.links, self.invitations, self.enrolment_tokens
        )
    }

    pub fn any(&self) -> bool {
        *self != Self::default()
    }
}

/// Which open doors a statement ends: one member's, or the whole tenant's.
#[derive(Clone, Copy)]
enum Whose<'a> {
    Member(&'a MembershipId),
    Tenant,
}

/// Ends every open door `membership` made, in the caller's transaction.
pub async fn close_made_by(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    membership: &MembershipId,
    now: i64,
) -> Result<Closed, AppError> {
    close(conn, tenant, Whose::Member(membership), now).await
}

/// Ends every open door of the tenant, in the caller's transaction (the panic button).
pub async fn close_all(conn: &mut AnyConnection, tenant: &TenantId, now: i64) -> Result<Closed, AppError> {
    close(conn, tenant, Whose::Tenant, now).await
}

/// Ends the open invitations `membership` made that make owners (an owner made admin can no longer invite one).
pub async fn close_owner_invitations_by(
    conn: &mut AnyConnection,
    tenant: &TenantId,
    membership: &MembershipId,
    now: i64,
) -> Result<u64, AppError> {
    let done = sqlx::query(
        "UPDATE invitations SET revoked_at = $1 WHERE tenant_id = $2 AND invited_by_membership = $3 \
         AND role = 'owner' AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(tenant.as_str())
    .bind(membership.as_str())
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

async fn close(conn: &mut AnyConnection, tenant: &TenantId, whose: Whose<'_>, now: i64) -> Result<Closed, AppError> {
    // (table, its maker column, what "still open" means besides not revoked). An expired invitation counts:
    // sending it again brings it back.
    const DOORS: [(&str, &str, &str); 3] = [
        ("vault_links", "created_membership_id", " AND expires_at > $1"),
        ("invitations", "invited_by_membership", " AND accepted_at IS NULL"),
        ("machine_tokens", "created_by_membership", " AND used_at IS NULL AND expires_at > $1"),
    ];
    let mut ended = [0u64; 3];
    for ((table, maker, open), n) in DOORS.iter().zip(ended.iter_mut()) {
        let by = match whose {
            Whose::Member(_) => format!(" AND {maker} = $3"),
            Whose::Tenant => String::new(),
        };
        let sql = format!("UPDATE {table} SET revoked_at = $1 WHERE tenant_id = $2{by} AND revoked_at IS NULL{open}");
        let mut q = sqlx::query(&sql).bind(now).bind(tenant.as_str());
        if let Whose::Member(m) = whose {
            q = q.bind(m.as_str());
        }
        *n = q.execute(&mut *conn).await?.rows_affected();
    }
    let [links, invitations, enrolment_tokens] = ended;
    Ok(Closed { links, invitations, enrolment_tokens })
}
