//! A labelled password input. Paste is allowed; once the page is interactive a "Show" button reveals what
//! was typed (NIST 800-63B-4 §3.1.1.2 recommends offering it). No `minlength`: the server's refusal says
//! exactly why, which the browser's generic bubble would pre-empt.

use leptos::prelude::*;

#[component]
pub fn PasswordField(
    id: &'static str,
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] hint: Option<String>,
) -> impl IntoView {
    let shown = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let hint_id = format!("{id}-hint");
    let has_hint = hint.is_some();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <div class="password-row">
                <input
                    id=id
                    name=name
                    type=move || if shown.get() { "text" } else { "password" }
                    autocomplete=autocomplete
                    required
                    maxlength="1024"
                    aria-describedby=has_hint.then(|| hint_id.clone())
                    spellcheck="false"
                    autocapitalize="off"
                />
                <Show when=move || hydrated.get()>
                    <button
                        type="button"
                        class="secondary"
                        aria-controls=id
                        aria-pressed=move || shown.get().to_string()
                        on:click=move |_| shown.update(|s| *s = !*s)
                    >
                        {move || if shown.get() { "Hide" } else { "Show" }}
                    </button>
                </Show>
            </div>
            {hint.map(|h| view! { <p class="hint" id=format!("{id}-hint")>{h}</p> })}
        </div>
    }
}
