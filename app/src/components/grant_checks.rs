//! The feature grants of a member as checkboxes (`grant_<feature>`, ticked when granted): one field each, the
//! shape the invitation and member-change server functions take.

use crate::model::Permission;
use leptos::prelude::*;

#[component]
pub fn GrantChecks(
    /// Prefixes the inputs' ids, so two sets can share a page.
    id_prefix: &'static str,
    /// The features ticked at first.
    #[prop(optional)]
    granted: Vec<Permission>,
) -> impl IntoView {
    view! {
        <fieldset class="grants">
            <legend>"Features (for the member role)"</legend>
            {Permission::ALL.into_iter().map(|p| {
                let field = format!("grant_{}", p.as_str());
                let input_id = format!("{id_prefix}-{field}");
                view! {
                    <span class="check">
                        <input type="checkbox" id=input_id.clone() name=field value="on" checked=granted.contains(&p)/>
                        <label for=input_id>{p.label()}</label>
                    </span>
                }
            }).collect_view()}
        </fieldset>
    }
}
