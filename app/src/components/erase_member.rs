//! A member's page's "Erase personal data" form (owners and admins, for a member who is not an owner): type
//! ERASE, submit. Works without JavaScript (a plain form post); the server checks the step-up and every rule.

use crate::api::members::EraseMember;
use crate::components::ErrorNotice;
use crate::model::MemberView;
use leptos::prelude::*;

/// The form for `member` (the page offers it only for a member the viewer manages who is not an owner).
#[component]
pub fn EraseMemberForm(member: MemberView, erase: ServerAction<EraseMember>) -> impl IntoView {
    let next = format!("/confirm-access?next=/members/{}", member.membership_id);
    view! {
        <section aria-labelledby="erase-h">
            <h2 id="erase-h">"Erase personal data"</h2>
            <p>"Removes the member from the organisation and anonymises what it holds about them: their email, \
                sessions, devices, invitations and alerts; their API keys are revoked. The access history keeps \
                what they did under a pseudonym (erased-…), without addresses or browsers, and stays verifiable. \
                This cannot be undone. It needs you to "
                <a href=next>"confirm it's you"</a> " first."</p>
            {move || erase.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <ActionForm action=erase attr:class="form" attr:aria-label=format!("Erase personal data of {}", member.email)>
                <input type="hidden" name="membership_id" value=member.membership_id.clone()/>
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
}
