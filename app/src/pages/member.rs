//! `/members/:id`: an owner or admin manages one member — role and feature grants, sessions, deactivation or
//! reactivation, two-factor reset, removal, erasure. The members list links here rather than carrying an
//! editor and four forms in every row (a 51-member list was 192 KB, then 73 KB; most of its render was those
//! forms). Every form works without JavaScript, posts to the server function that checks everything again,
//! and comes back to the list.

use crate::api::members::{
    list_members, DeactivateMember, EraseMember, ReactivateMember, RemoveMember, ResetMemberTwoFactor, UpdateMember,
};
use crate::components::{error_notices, Console, EraseMemberForm, ErrorNotice, GrantChecks, Hydrated};
use crate::model::{AppError, MemberView, Role};
use leptos::either::{Either, EitherOf3};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The page's server actions, created once so their results (and no-JS errors) show at the top.
#[derive(Clone, Copy)]
struct Actions {
    update: ServerAction<UpdateMember>,
    deactivate: ServerAction<DeactivateMember>,
    reactivate: ServerAction<ReactivateMember>,
    reset: ServerAction<ResetMemberTwoFactor>,
    remove: ServerAction<RemoveMember>,
    erase: ServerAction<EraseMember>,
}

#[component]
pub fn MemberPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let a = Actions {
        update: ServerAction::new(),
        deactivate: ServerAction::new(),
        reactivate: ServerAction::new(),
        reset: ServerAction::new(),
        remove: ServerAction::new(),
        erase: ServerAction::new(),
    };
    let data = Resource::new(
        move || (id(), a.update.version().get(), a.deactivate.version().get(), a.reactivate.version().get()),
        |_| list_members(),
    );
    let errors = move || {
        error_notices([
            a.update.value().get().and_then(Result::err),
            a.deactivate.value().get().and_then(Result::err),
            a.reactivate.value().get().and_then(Result::err),
            a.reset.value().get().and_then(Result::err),
            a.remove.value().get().and_then(Result::err),
        ])
    };
    view! {
        <Title text="Manage a member · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Manage a member"</h1>
            {errors}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let found = data.await.map(|v| {
                        let m = v.members.iter().find(|m| m.membership_id == id()).filter(|m| v.may_manage(m)).cloned();
                        (m, v.viewer_is_owner)
                    });
                    match found {
                        Ok((Some(m), viewer_is_owner)) => EitherOf3::A(manage(m, viewer_is_owner, a)),
                        Ok((None, _)) => EitherOf3::B(view! { <ErrorNotice error=AppError::NotFound/> }),
                        Err(e) => EitherOf3::C(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
            <p><a href="/members">"Back to members"</a></p>
        </Console>
    }
}

/// Everything the viewer may do to `m`.
fn manage(m: MemberView, viewer_is_owner: bool, a: Actions) -> impl IntoView {
    let active = m.deactivated_at.is_none();
    let email = m.email.clone();
    let id = m.membership_id.clone();
    let (i1, i2, i3) = (id.clone(), id.clone(), id.clone());
    let erasable = m.role != Role::Owner.as_str();
    let (l_sessions, l_deactivate, l_reactivate, l_reset, l_remove) = (
        format!("Sessions of {email}"),
        format!("Deactivate {email}"),
        format!("Reactivate {email}"),
        format!("Reset two-factor for {email}"),
        format!("Remove {email}"),
    );
    let status = if active { "" } else { " Deactivated: they cannot sign in, and the keys they made were revoked." };
    view! {
        <p><strong class="email">{email}</strong> " · " {m.role_summary()} " · two-factor "
            {if m.two_factor_enabled { "on" } else { "off" }} "." {status}</p>
        {active.then(|| role_form(m.clone(), viewer_is_owner, a.update))}
        <section aria-labelledby="access-h">
            <h2 id="access-h">"Access"</h2>
            <p class="hint">"Removing a member and resetting two-factor authentication need you to "
                <a href=format!("/confirm-access?next=/members/{id}")>"confirm it's you"</a> " first."</p>
            <p><a href=format!("/members/{id}/sessions") aria-label=l_sessions>"Sessions"</a>
                " — see where they are signed in and end a session."</p>
            <div class="actions">
                {if active {
                    Either::Left(view! {
                        <ActionForm action=a.deactivate attr:class="inline">
                            <input type="hidden" name="membership_id" value=i1/>
                            <button type="submit" class="danger" aria-label=l_deactivate>"Deactivate"</button>
                        </ActionForm>
                    })
                } else {
                    Either::Right(view! {
                        <ActionForm action=a.reactivate attr:class="inline">
                            <input type="hidden" name="membership_id" value=i1/>
                            <button type="submit" class="secondary" aria-label=l_reactivate>"Reactivate"</button>
                        </ActionForm>
                    })
                }}
                {m.two_factor_enabled.then(|| view! {
                    <ActionForm action=a.reset attr:class="inline">
                        <input type="hidden" name="membership_id" value=i2/>
                        <button type="submit" class="danger" aria-label=l_reset>"Reset two-factor"</button>
                    </ActionForm>
                })}
                <ActionForm action=a.remove attr:class="inline">
                    <input type="hidden" name="membership_id" value=i3/>
                    <button type="submit" class="danger" aria-label=l_remove>"Remove"</button>
                </ActionForm>
            </div>
        </section>
        {erasable.then(|| view! { <EraseMemberForm member=m erase=a.erase/> })}
    }
}

/// The role and grants of one member, as a form that works without JavaScript.
fn role_form(m: MemberView, viewer_is_owner: bool, update: ServerAction<UpdateMember>) -> impl IntoView {
    let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| viewer_is_owner || *r != Role::Owner).collect();
    let current_role = m.role.clone();
    let grants = m.grants.clone();
    view! {
        <section aria-labelledby="role-h">
        <h2 id="role-h">"Role and features"</h2>
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
        </section>
    }
}
