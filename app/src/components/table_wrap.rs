//! A table's scroll container. A table wider than the screen scrolls inside it; the container takes focus
//! (`tabindex="0"`) and is a named region, so keyboard users can scroll it too and screen readers say what it
//! holds (WCAG 2.1.1; axe's `scrollable-region-focusable`).

use leptos::prelude::*;

#[component]
pub fn TableWrap(#[prop(into)] label: String, children: Children) -> impl IntoView {
    view! { <div class="table-wrap" role="region" aria-label=label tabindex="0">{children()}</div> }
}
