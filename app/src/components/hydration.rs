//! How a page loads the app. Signed-in pages load it at once (Leptos' `HydrationScripts`: the script and the
//! WebAssembly are preloaded with the page). The pages a person opens signed out — usually their first visit —
//! are plain forms that work without it, so they load it only when the visitor starts using the page (focus,
//! pointer, key, touch): a visit that only looks costs the page and its stylesheet, and the app downloads while
//! the visitor types, ready (and cached) for the console that follows.

use leptos::prelude::*;

/// The signed-out pages that hydrate on intent.
pub fn hydrates_on_intent(path: &str) -> bool {
    matches!(path, "/sign-in" | "/sign-in/two-factor" | "/forgot-password")
        || ["/setup/", "/reset-password/", "/invite/"].iter().any(|prefix| path.starts_with(prefix))
}

/// Loads and hydrates the app on the visitor's first focus, pointer press, key press or touch (or at once if
/// something is already focused). Same files and start-up as `HydrationScripts`, nothing preloaded.
#[component]
pub fn HydrateOnIntent(options: LeptosOptions) -> impl IntoView {
    let nonce = leptos::nonce::use_nonce();
    let pkg = format!("/{}", options.site_pkg_dir);
    let js = format!("{pkg}/{}.js", options.output_name);
    // cargo-leptos names the WebAssembly after the output; a plain cargo build keeps wasm-bindgen's `_bg`.
    let suffix = if option_env!("LEPTOS_OUTPUT_NAME").is_none() { "_bg" } else { "" };
    let wasm = format!("{pkg}/{}{suffix}.wasm", options.output_name);
    view! {
        <script type="module" nonce=nonce data-hydrate="on-intent">
            {format!("{ON_INTENT}({js:?}, {wasm:?});")}
        </script>
    }
}

const ON_INTENT: &str = r#"(function (js, wasm) {
	const events = ["focusin", "pointerdown", "keydown", "touchstart"];
	let started = false;
	const hydrate = () => {
		if (started) return;
		started = true;
		for (const e of events) removeEventListener(e, hydrate, true);
		import(js).then((mod) => mod.default({ module_or_path: wasm }).then(() => mod.hydrate()));
	};
	for (const e of events) addEventListener(e, hydrate, { capture: true, passive: true });
	if (document.activeElement && document.activeElement !== document.body) hydrate();
})"#;

#[cfg(test)]
mod tests {
    use super::hydrates_on_intent;

    #[test]
    fn only_the_signed_out_forms_hydrate_on_intent() {
        for path in
            ["/sign-in", "/sign-in/two-factor", "/forgot-password", "/setup/t0k", "/reset-password/t", "/invite/t"]
        {
            assert!(hydrates_on_intent(path), "{path}");
        }
        for path in ["/", "/overview", "/members", "/sign-in/elsewhere", "/setup", "/security", "/confirm-access"] {
            assert!(!hydrates_on_intent(path), "{path}");
        }
    }
}
