//! The step-up form: password, plus a code when the member has an authenticator; returns to `next`.

use crate::api::security::StepUp;
use crate::components::{ErrorNotice, PasswordField};
use leptos::prelude::*;

/// Counts successful step-ups, for a page that shows the step-up state and stays mounted (with JavaScript
/// the redirect back to the same page does not reload it).
#[derive(Debug, Clone, Copy)]
pub struct SteppedUpSignal(pub RwSignal<u32>);

#[component]
pub fn StepUpForm(next: String, with_code: bool) -> impl IntoView {
    let action = ServerAction::<StepUp>::new();
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(()))) {
            if let Some(done) = use_context::<SteppedUpSignal>() {
                done.0.update(|n| *n += 1);
            }
        }
    });
    view! {
        {move || action.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
        <ActionForm action=action attr:class="form" attr:aria-label="Confirm it's you">
            <input type="hidden" name="next" value=next/>
            <PasswordField id="step_up_password" name="password" label="Your password" autocomplete="current-password"/>
            {with_code.then(|| view! {
                <div class="field">
                    <label for="step_up_code">"Authentication code"</label>
                    <input id="step_up_code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"
                        required maxlength="32" spellcheck="false" autocapitalize="off"/>
                </div>
            })}
            <button type="submit" disabled=move || action.pending().get()>"Confirm"</button>
        </ActionForm>
    }
}
