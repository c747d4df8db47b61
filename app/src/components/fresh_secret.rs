//! A secret shown exactly once (a new API key or a rolled one), with a copy button once JavaScript runs.

use crate::model::FreshKeyView;
use leptos::prelude::*;

#[component]
pub fn FreshSecret(fresh: FreshKeyView) -> impl IntoView {
    let copied = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let secret = fresh.secret.clone();
    view! {
        <section class="notice ok fresh-secret" role="status" aria-labelledby="fresh-h">
            <h2 id="fresh-h">"New secret for “" {fresh.description} "”"</h2>
            <p>"Copy it now: this is the only time it is shown. Rampart keeps only a fingerprint of it."</p>
            <p><code class="secret" data-testid="fresh-secret">{fresh.secret}</code></p>
            <Show when=move || hydrated.get()>
                {
                    let secret = secret.clone();
                    view! {
                        <button type="button" class="secondary" on:click=move |_| {
                            copy_text(&secret);
                            copied.set(true);
                        }>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                    }
                }
            </Show>
        </section>
    }
}

/// A `data:` URL that downloads `text` as a plain-text file (works without JavaScript): every byte but letters,
/// digits and `-` percent-encoded.
pub fn text_download_href(text: &str) -> String {
    let encoded: String = text
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'-' { char::from(b).to_string() } else { format!("%{b:02X}") })
        .collect();
    format!("data:text/plain;charset=utf-8,{encoded}")
}

/// Puts text on the clipboard (browser only).
#[cfg(feature = "hydrate")]
pub fn copy_text(text: &str) {
    if let Some(window) = web_sys::window() {
        let _ = window.navigator().clipboard().write_text(text);
    }
}

/// Puts text on the clipboard (browser only).
#[cfg(not(feature = "hydrate"))]
pub fn copy_text(_text: &str) {}
