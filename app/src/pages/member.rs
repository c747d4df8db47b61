//! `/members/:id`: an owner or admin changes one member's role and feature grants. The members list links
//! here rather than carrying an editor in every row (a 51-member list was 192 KB, three quarters of it the
//! editors); the form posts to the same server function and comes back to the list.

use crate::api::members::{list_members, UpdateMember};
use crate::components::{Console, ErrorNotice, GrantChecks, Hydrated};
use crate::model::{AppError, MemberView, Role};
use leptos::either::EitherOf3;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn MemberPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let update = ServerAction::<UpdateMember>::new();
    let data = Resource::new(move || (id(), update.version().get()), |_| list_members());
    view! {
        <Title text="Change a member · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Change a member"</h1>
            {move || update.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let found = data.await.map(|v| {
                        let m = v.members.iter().find(|m| m.membership_id == id()).cloned();
                        let manage = m.as_ref().is_some_and(|m| {
                            v.can_manage && !m.is_me && m.deactivated_at.is_none()
                                && (v.viewer_is_owner || m.role != Role::Owner.as_str())
                        });
                        (m, manage, v.viewer_is_owner)
                    });
                    match found {
                        Ok((Some(m), true, viewer_is_owner)) => EitherOf3::A(role_form(m, viewer_is_owner, update)),
                        Ok(_) => EitherOf3::B(view! { <ErrorNotice error=AppError::NotFound/> }),
                        Err(e) => EitherOf3::C(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
            <p><a href="/members">"Back to members"</a></p>
        </Console>
    }
}

/// The role and grants of one member, as a form that works without JavaScript.
fn role_form(m: MemberView, viewer_is_owner: bool, update: ServerAction<UpdateMember>) -> impl IntoView {
    let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| viewer_is_owner || *r != Role::Owner).collect();
    let current_role = m.role.clone();
    let grants = m.grants.clone();
    view! {
        <p>"Role and features of " <strong class="email">{m.email.clone()}</strong> "."</p>
        <ActionForm action=update attr:class="form member-edit" attr:aria-label=format!("Role of {}", m.email)>
            <input type="hidden" name="membership_id" value=m.membership_id.clone()/>
            <div class="field">
                <label for="member-role">"Role"</label>
                <select id="member-role" name="role">
                    {roles.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=current_role == r.as_str()>{r.as_str()}</option>
                    }).collect_view()}
                </select>
            </div>
            <GrantChecks id_prefix="member" granted=grants/>
            <p class="hint">"Granting admin or owner and changing grants need you to "
                <a href=format!("/confirm-access?next=/members/{}", m.membership_id)>"confirm it's you"</a> " first."</p>
            <button type="submit" disabled=move || update.pending().get()>"Save"</button>
        </ActionForm>
    }
}
