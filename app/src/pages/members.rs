//! `/members`: the organisation's members with role, grants, two-factor status and last sign-in. Owners and
//! admins deactivate, reactivate and remove members, see their sessions, reset their two-factor
//! authentication, and change roles and grants on each member's own page (`member`); the page shows only what
//! the viewer may do, and the server checks again.

use crate::api::invitations::{list_invitations, InviteMember, ResendInvitation, RevokeInvitation};
use crate::api::members::{
    list_members, DeactivateMember, EraseMember, ReactivateMember, RemoveMember, ResetMemberTwoFactor,
};
use crate::components::{error_notices, Console, EraseMemberForm, ErrorNotice, GrantChecks, Hydrated, TableWrap};
use crate::model::{format_utc, MemberView, Role};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

fn notice(q: &leptos_router::params::ParamsMap) -> Option<&'static str> {
    [
        ("saved", "The member's role and grants were saved."),
        ("deactivated", "The member was deactivated and signed out everywhere."),
        ("reactivated", "The member was reactivated. They sign in afresh."),
        ("removed", "The member was removed from the organisation."),
        (
            "erased",
            "The member was removed and their personal data erased; the access history names them by a pseudonym.",
        ),
        ("reset", "Two-factor authentication was reset. The member sets it up again at the next sign-in."),
        ("invited", "The invitation is on its way. The link works once, for 72 hours."),
        ("resent", "The invitation was sent again with a new link; the old link no longer works."),
        ("revoked", "The invitation was revoked."),
    ]
    .into_iter()
    .find(|(k, _)| q.get(k).is_some())
    .map(|(_, v)| v)
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let deactivate = ServerAction::<DeactivateMember>::new();
    let reactivate = ServerAction::<ReactivateMember>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let erase = ServerAction::<EraseMember>::new();
    let reset = ServerAction::<ResetMemberTwoFactor>::new();
    let invite = ServerAction::<InviteMember>::new();
    let resend = ServerAction::<ResendInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    // With JavaScript the page stays mounted after an action: the lists reload when one completes.
    let data = Resource::new(
        move || {
            (
                deactivate.version().get(),
                reactivate.version().get(),
                remove.version().get(),
                (erase.version().get(), reset.version().get()),
                invite.version().get(),
            )
        },
        |_| list_members(),
    );
    let invitations = Resource::new(
        move || (invite.version().get(), resend.version().get(), revoke.version().get()),
        |_| list_invitations(),
    );
    let query = use_query_map();
    let errors = move || {
        error_notices([
            deactivate.value().get().and_then(Result::err),
            reactivate.value().get().and_then(Result::err),
            remove.value().get().and_then(Result::err),
            reset.value().get().and_then(Result::err),
            invite.value().get().and_then(Result::err),
            resend.value().get().and_then(Result::err),
            revoke.value().get().and_then(Result::err),
        ])
    };
    view! {
        <Title text="Members · Rampart"/>
        <Hydrated/>
        <Console>
            <h1>"Members"</h1>
            {move || notice(&query.read()).map(|n| view! { <p class="notice ok" role="status">{n}</p> })}
            {errors}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(v) => Either::Left({
                            let rows = v.members.clone().into_iter().map(|m| {
                                let manage = v.can_manage && !m.is_me
                                    && (v.viewer_is_owner || m.role != Role::Owner.as_str());
                                member_row(m, manage, deactivate, reactivate, remove, reset)
                            }).collect_view();
                            view! {
                            {v.tenant_requires_two_factor.then(|| view! {
                                <p class="notice ok">"Two-factor authentication is required for every member."</p>
                            })}
                            <TableWrap label="Members">
                                <table aria-label="Members">
                                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Role and features"</th>
                                        <th scope="col">"Two-factor"</th><th scope="col">"Last sign-in"</th>
                                        <th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            </TableWrap>
                            {v.can_manage.then(|| view! { <EraseMemberForm members=v.members.clone() erase=erase/> })}
                            {v.can_manage.then(|| view! {
                                <p class="hint">"Granting admin or owner, changing grants and removing a member need you to "
                                    <a href="/confirm-access?next=/members">"confirm it's you"</a> " first."</p>
                                <section aria-labelledby="invite-h">
                                    <h2 id="invite-h">"Invite someone"</h2>
                                    <ActionForm action=invite attr:class="form" attr:aria-label="Invite someone">
                                        <div class="field">
                                            <label for="invite-email">"Email"</label>
                                            <input id="invite-email" name="email" type="email" required maxlength="254" autocomplete="off"/>
                                        </div>
                                        <div class="field">
                                            <label for="invite-role">"Role"</label>
                                            <select id="invite-role" name="role">
                                                {Role::ALL.into_iter().filter(|r| v.viewer_is_owner || *r != Role::Owner).map(|r| view! {
                                                    <option value=r.as_str() selected=r == Role::Member>{r.as_str()}</option>
                                                }).collect_view()}
                                            </select>
                                        </div>
                                        <GrantChecks id_prefix="invite"/>
                                        <button type="submit" disabled=move || invite.pending().get()>"Send invitation"</button>
                                    </ActionForm>
                                </section>
                            })}
                            <Suspense fallback=|| ()>
                                {move || Suspend::new(async move {
                                    invitations.await.ok().filter(|l| !l.is_empty()).map(|list| view! {
                                        <section aria-labelledby="pending-h">
                                            <h2 id="pending-h">"Pending invitations"</h2>
                                            <TableWrap label="Pending invitations">
                                                <table aria-label="Pending invitations">
                                                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Invited by"</th>
                                                        <th scope="col">"Expires"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                                    <tbody>
                                                        {list.into_iter().map(|i| { let (id1, id2, resend_label, revoke_label) = (i.id.clone(), i.id.clone(), format!("Resend to {}", i.email), format!("Revoke invitation of {}", i.email)); view! {
                                                            <tr>
                                                                <td class="email">{i.email.clone()}</td>
                                                                <td>{i.role}</td>
                                                                <td>{i.invited_by}</td>
                                                                <td>{if i.expired { "expired".to_owned() } else { format_utc(i.expires_at) }}</td>
                                                                <td class="actions">
                                                                    <ActionForm action=resend attr:class="inline">
                                                                        <input type="hidden" name="id" value=id1/>
                                                                        <button type="submit" class="secondary" aria-label=resend_label>"Resend"</button>
                                                                    </ActionForm>
                                                                    <ActionForm action=revoke attr:class="inline">
                                                                        <input type="hidden" name="id" value=id2/>
                                                                        <button type="submit" class="danger" aria-label=revoke_label>"Revoke"</button>
                                                                    </ActionForm>
                                                                </td>
                                                            </tr>
                                                        }}).collect_view()}
                                                    </tbody>
                                                </table>
                                            </TableWrap>
                                        </section>
                                    })
                                })}
                            </Suspense>
                            }
                        }),
                        Err(e) => Either::Right(view! { <ErrorNotice error=e/> }),
                    }
                })}
            </Suspense>
        </Console>
    }
}

#[allow(clippy::too_many_arguments)]
fn member_row(
    m: MemberView,
    manage: bool,
    deactivate: ServerAction<DeactivateMember>,
    reactivate: ServerAction<ReactivateMember>,
    remove: ServerAction<RemoveMember>,
    reset: ServerAction<ResetMemberTwoFactor>,
) -> impl IntoView {
    let active = m.deactivated_at.is_none();
    let summary = if m.role == Role::Member.as_str() {
        let names: Vec<&str> = m.grants.iter().map(|p| p.label()).collect();
        if names.is_empty() {
            "member · no features".to_owned()
        } else {
            format!("member · {}", names.join(", "))
        }
    } else {
        m.role.clone()
    };
    let id = m.membership_id.clone();
    let edit_id = m.membership_id.clone();
    let email = m.email.clone();
    let (l_sessions, l_deactivate, l_reactivate, l_remove, l_reset) = (
        format!("Sessions of {email}"),
        format!("Deactivate {email}"),
        format!("Reactivate {email}"),
        format!("Remove {email}"),
        format!("Reset two-factor for {email}"),
    );
    let change = format!(" the role of {email}");
    view! {
        <tr class:inactive=!active>
            <td class="email">{m.email.clone()}{m.is_me.then_some(" (you)")}
                {(!active).then(|| view! { " " <strong class="tag">"deactivated"</strong> })}</td>
            <td>
                <span class="role-summary">{summary}</span>
                {(manage && active).then(|| view! {
                    " " <a class="change" href=format!("/members/{edit_id}")>"Change"<span class="sr-only">{change}</span></a>
                })}
            </td>
            <td>{if m.two_factor_enabled { "On" } else { "Off" }}</td>
            <td>{m.last_sign_in_at.map(format_utc).unwrap_or_else(|| "never".to_owned())}</td>
            <td class="actions">
                {manage.then(|| {
                    let (i1, i2, i3, i4) = (id.clone(), id.clone(), id.clone(), id.clone());
                    view! {
                        <a href=format!("/members/{i1}/sessions") aria-label=l_sessions>"Sessions"</a>
                        {if active {
                            Either::Left(view! {
                                <ActionForm action=deactivate attr:class="inline">
                                    <input type="hidden" name="membership_id" value=i2/>
                                    <button type="submit" class="danger" aria-label=l_deactivate>"Deactivate"</button>
                                </ActionForm>
                            })
                        } else {
                            Either::Right(view! {
                                <ActionForm action=reactivate attr:class="inline">
                                    <input type="hidden" name="membership_id" value=i2/>
                                    <button type="submit" class="secondary" aria-label=l_reactivate>"Reactivate"</button>
                                </ActionForm>
                            })
                        }}
                        <ActionForm action=remove attr:class="inline">
                            <input type="hidden" name="membership_id" value=i3/>
                            <button type="submit" class="danger" aria-label=l_remove>"Remove"</button>
                        </ActionForm>
                        {m.two_factor_enabled.then(|| view! {
                            <ActionForm action=reset attr:class="inline">
                                <input type="hidden" name="membership_id" value=i4/>
                                <button type="submit" class="danger" aria-label=l_reset>"Reset two-factor"</button>
                            </ActionForm>
                        })}
                    }
                })}
            </td>
        </tr>
    }
}
