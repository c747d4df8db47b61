//! `/members`: the organisation's members with role, grants, two-factor status and last sign-in, and its
//! invitations. Owners and admins act on a member (role and grants, sessions, deactivation, removal, two-factor
//! reset, erasure) on the member's own page (`member`), which each row links to; the list shows only what the
//! viewer may do, and the server checks again.

use crate::api::invitations::{list_invitations, InviteMember, ResendInvitation, RevokeInvitation};
use crate::api::members::list_members;
use crate::components::{error_notices, Console, ErrorNotice, GrantChecks, Hydrated, TableWrap};
use crate::model::{format_utc, push_escaped, MembersView, Role};
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
    let invite = ServerAction::<InviteMember>::new();
    let resend = ServerAction::<ResendInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    // With JavaScript the page stays mounted after an action: the lists reload when one completes.
    let data = Resource::new(move || invite.version().get(), |_| list_members());
    let invitations = Resource::new(
        move || (invite.version().get(), resend.version().get(), revoke.version().get()),
        |_| list_invitations(),
    );
    let query = use_query_map();
    let errors = move || {
        error_notices([
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
                            let rows = rows_html(&v);
                            view! {
                            {v.tenant_requires_two_factor.then(|| view! {
                                <p class="notice ok">"Two-factor authentication is required for every member."</p>
                            })}
                            <TableWrap label="Members">
                                <table aria-label="Members">
                                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Role and features"</th>
                                        <th scope="col">"Two-factor"</th><th scope="col">"Last sign-in"</th>
                                        <th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                    <tbody inner_html=rows></tbody>
                                </table>
                            </TableWrap>
                            {v.can_manage.then(|| view! {
                                <p class="hint">"Inviting an admin or owner, or granting features, needs you to "
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

/// The list's rows as one string. As views, 51 rows were most of the page's render; they are text and one link
/// each, so they are written straight out (every value escaped), the same on the server and in the browser.
fn rows_html(v: &MembersView) -> String {
    let mut out = String::with_capacity(v.members.len() * 360);
    for m in &v.members {
        let active = m.deactivated_at.is_none();
        out.push_str(if active { "<tr>" } else { r#"<tr class="inactive">"# });
        out.push_str(r#"<td class="email">"#);
        push_escaped(&mut out, &m.email);
        if m.is_me {
            out.push_str(" (you)");
        }
        if !active {
            out.push_str(r#" <strong class="tag">deactivated</strong>"#);
        }
        out.push_str(r#"</td><td><span class="role-summary">"#);
        push_escaped(&mut out, &m.role_summary());
        out.push_str("</span></td><td>");
        out.push_str(if m.two_factor_enabled { "On" } else { "Off" });
        out.push_str("</td><td>");
        match m.last_sign_in_at {
            Some(at) => out.push_str(&format_utc(at)),
            None => out.push_str("never"),
        }
        out.push_str(r#"</td><td class="actions">"#);
        if v.may_manage(m) {
            out.push_str(r#"<a href="/members/"#);
            push_escaped(&mut out, &m.membership_id);
            out.push_str(r#"">Manage<span class="sr-only"> "#);
            push_escaped(&mut out, &m.email);
            out.push_str("</span></a>");
        }
        out.push_str("</td></tr>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::rows_html;
    use crate::model::{MemberView, MembersView, Permission};

    fn member(id: &str, email: &str, role: &str) -> MemberView {
        MemberView {
            membership_id: id.to_owned(),
            email: email.to_owned(),
            role: role.to_owned(),
            grants: Vec::new(),
            deactivated_at: None,
            two_factor_enabled: false,
            last_sign_in_at: None,
            is_me: false,
        }
    }

    #[test]
    fn rows_escape_every_value_and_link_only_whom_the_viewer_may_manage() {
        let mut me = member("m-1", "me@example.com", "admin");
        me.is_me = true;
        let mut emp = member("m-2", "o'<b>\"x\"</b>&@example.com", "member");
        emp.grants = vec![Permission::VaultRead];
        emp.two_factor_enabled = true;
        emp.last_sign_in_at = Some(0);
        let mut gone = member("m-3", "gone@example.com", "member");
        gone.deactivated_at = Some(1);
        let owner = member("m-4", "owner@example.com", "owner");
        let v = MembersView {
            members: vec![me, emp, gone, owner],
            can_manage: true,
            viewer_is_owner: false,
            tenant_requires_two_factor: false,
        };
        let html = rows_html(&v);
        assert_eq!(html.matches("<tr").count(), 4);
        assert!(html.contains("o&#39;&lt;b&gt;&quot;x&quot;&lt;/b&gt;&amp;@example.com"), "{html}");
        assert!(!html.contains("<b>"), "nothing a member's email holds becomes markup");
        assert!(html.contains("me@example.com (you)"));
        assert!(html.contains(
            r#"<tr class="inactive"><td class="email">gone@example.com <strong class="tag">deactivated</strong>"#
        ));
        assert!(html.contains(r#"<span class="role-summary">member · Vault (read)</span>"#), "{html}");
        assert!(html.contains(r#"<span class="role-summary">owner</span>"#));
        assert!(html.contains("<td>On</td><td>1970-01-01 00:00:00 UTC</td>"));
        // An admin manages members, deactivated ones too, but neither themselves nor an owner.
        assert!(html.contains(r#"<a href="/members/m-2">Manage<span class="sr-only"> o&#39;"#));
        assert!(html.contains(r#"<a href="/members/m-3">"#));
        assert!(!html.contains(r#"href="/members/m-1""#) && !html.contains(r#"href="/members/m-4""#));
        let owner_view = MembersView { viewer_is_owner: true, ..v.clone() };
        assert!(rows_html(&owner_view).contains(r#"href="/members/m-4""#), "owners manage owners");
        let read_only = MembersView { can_manage: false, ..v };
        assert!(!rows_html(&read_only).contains("Manage"), "no link without the right to manage");
    }
}
