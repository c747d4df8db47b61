//! A table of sessions (browser, system, IP, organisation, signed in, last active) with a per-row action.

use super::TableWrap;
use crate::model::{format_utc, SessionView};
use leptos::prelude::*;

#[component]
pub fn SessionsTable(
    sessions: Vec<SessionView>,
    revoke: impl Fn(String) -> AnyView + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <TableWrap label="Sessions">
            <table aria-label="Sessions">
                <thead><tr>
                    <th scope="col">"Browser"</th><th scope="col">"IP address"</th><th scope="col">"Organisation"</th>
                    <th scope="col">"Signed in"</th><th scope="col">"Last active"</th>
                    <th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {sessions.into_iter().map(|s| view! {
                        <tr>
                            <td>{s.browser} " on " {s.os}{s.current.then(|| view! { " " <strong class="tag">"this browser"</strong> })}</td>
                            <td><code>{s.ip}</code></td>
                            <td>{s.tenant_name}</td>
                            <td>{format_utc(s.signed_in_at)}</td>
                            <td>{format_utc(s.last_active_at)}</td>
                            <td>{(!s.current).then(|| revoke(s.id.clone()))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </TableWrap>
    }
}
