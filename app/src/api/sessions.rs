//! Signed-in sessions: your own, and (admins) a member's in this tenant.

use crate::model::{AppError, MemberSessionsView, SessionView};
use leptos::prelude::*;

/// The signed-in account's sessions, this one marked.
#[server(prefix = "/api", endpoint = "list_my_sessions")]
pub async fn list_my_sessions() -> Result<Vec<SessionView>, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    use crate::backend::identity::sessions;
    finish(
        async {
            let current = sessions::current_id_hash(&session()?);
            sessions::list_own(&state()?, &tenant_ctx()?, current.as_deref()).await
        }
        .await,
    )
}

/// Ends one of your sessions (this one too, if chosen: that is signing out).
#[server(prefix = "/api", endpoint = "revoke_my_session")]
pub async fn revoke_my_session(id: String) -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::identity::sessions;
    finish(
        async {
            sessions::revoke_own(&state()?, &meta()?, &tenant_ctx()?, &id).await?;
            let this = sessions::current_id_hash(&session()?);
            leptos_axum::redirect(if this.as_deref() == Some(id.as_str()) {
                "/sign-in"
            } else {
                "/sessions?revoked=1"
            });
            Ok(())
        }
        .await,
    )
}

/// Signs out every session of your account except this one.
#[server(prefix = "/api", endpoint = "revoke_other_sessions")]
pub async fn revoke_other_sessions() -> Result<(), AppError> {
    use super::ssr::{finish, meta, session, state, tenant_ctx};
    use crate::backend::identity::sessions;
    finish(
        async {
            let keep = sessions::current_id_hash(&session()?).unwrap_or_default();
            sessions::revoke_others(&state()?, &meta()?, &tenant_ctx()?, &keep).await?;
            leptos_axum::redirect("/sessions?others=1");
            Ok(())
        }
        .await,
    )
}

/// A member's sessions in this tenant (owners and admins).
#[server(prefix = "/api", endpoint = "list_member_sessions")]
pub async fn list_member_sessions(membership_id: String) -> Result<MemberSessionsView, AppError> {
    use super::ssr::{finish, session, state, tenant_ctx};
    use crate::backend::{identity::sessions, platform::ids::MembershipId};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let current = sessions::current_id_hash(&session()?);
            let id = MembershipId(membership_id);
            let (email, list) = sessions::list_member(&state()?, &ctx, &admin, &id, current.as_deref()).await?;
            Ok(MemberSessionsView { membership_id: id.0, email, sessions: list })
        }
        .await,
    )
}

/// Ends one session of a member, or all of them in this tenant when `id` is empty (owners and admins).
#[server(prefix = "/api", endpoint = "revoke_member_sessions")]
pub async fn revoke_member_sessions(membership_id: String, id: Option<String>) -> Result<(), AppError> {
    use super::ssr::{finish, meta, state, tenant_ctx};
    use crate::backend::{identity::sessions, platform::ids::MembershipId};
    finish(
        async {
            let ctx = tenant_ctx()?;
            let admin = ctx.require_admin()?;
            let one = id.as_deref().filter(|s| !s.is_empty());
            let membership = MembershipId(membership_id);
            sessions::revoke_member(&state()?, &meta()?, &ctx, &admin, &membership, one).await?;
            leptos_axum::redirect(&format!("/members/{}/sessions?revoked=1", membership.0));
            Ok(())
        }
        .await,
    )
}
