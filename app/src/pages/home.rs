//! `/`: the console's front door sends a signed-in user to the overview (the server gate sends everyone else
//! to sign in).

use leptos::prelude::*;
use leptos_router::components::Redirect;

#[component]
pub fn HomePage() -> impl IntoView {
    view! { <Redirect path="/overview"/> }
}
