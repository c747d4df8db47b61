//! The members page's "Erase personal data" form (owners and admins): pick a member who is not an owner, type
//! ERASE, submit. Works without JavaScript (a plain form post); the server checks the step-up and every rule.

use crate::api::members::EraseMember;
use crate::components::ErrorNotice;
use crate::model::{MemberView, Role};
use leptos::prelude::*;

/// The form; `members` are the tenant's members as listed (owners and the viewer are left out).
#[component]
pub fn EraseMemberForm(members: Vec<MemberView>, erase: ServerAction<EraseMember>) -> impl IntoView {
    let erasable: Vec<MemberView> =
        members.into_iter().filter(|m| !m.is_me && m.role != Role::Owner.as_str()).collect();
    (!erasable.is_empty()).then(|| {
        view! {
            <section aria-labelledby="erase-h">
                <h2 id="erase-h">"Erase personal data"</h2>
                <p>"Removes the member from the organisation and anonymises what it holds about them: their email, \
                    sessions, devices, invitations and alerts; their API keys are revoked. The access history keeps \
                    what they did under a pseudonym (erased-…), without addresses or browsers, and stays verifiable. \
                    This cannot be undone. It needs you to "
                    <a href="/confirm-access?next=/members">"confirm it's you"</a> " first."</p>
                {move || erase.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
                <ActionForm action=erase attr:class="form" attr:aria-label="Erase personal data">
                    <div class="field">
                        <label for="erase-member">"Member"</label>
                        <select id="erase-member" name="membership_id" required>
                            {erasable.into_iter().map(|m| view! {
                                <option value=m.membership_id.clone()>{m.email.clone()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="erase-confirm">"Type ERASE to confirm"</label>
                        <input id="erase-confirm" name="confirm" type="text" required autocomplete="off"
                            pattern="ERASE" spellcheck="false" autocapitalize="characters"/>
                    </div>
                    <super::ApprovalReason id="erase-reason"/>
                    <button type="submit" class="danger" disabled=move || erase.pending().get()>"Erase personal data"</button>
                </ActionForm>
            </section>
        }
    })
}
