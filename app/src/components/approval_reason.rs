//! The reason field of a form whose act may need a second admin's approval (`/settings/approvals`).

use leptos::prelude::*;

/// An optional "why" shown to the approving admin when the organisation requires four-eyes approval.
#[component]
pub fn ApprovalReason(#[prop(into)] id: String) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>"Reason, for the approving admin if a second admin must approve (optional)"</label>
            <input id=id name="reason" type="text" maxlength="500"/>
        </div>
    }
}
