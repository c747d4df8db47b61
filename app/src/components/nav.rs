//! The console's navigation: a sidebar of grouped links that folds into a menu on narrow screens. Each link
//! keeps the rule its page applies (a feature grant, or being an admin); a group whose links are all hidden
//! loses its heading too. The server checks again on every call: hiding a link protects nothing.
//!
//! The fold works without JavaScript: a checkbox and its label (the "Menu" button) sit before the links, and
//! the stylesheet shows the links when it is checked (only below the sidebar's breakpoint; above it they are
//! always shown and the toggle is hidden). `<details>` would announce better, but browsers and
//! assistive technology treat the content of a closed `<details>` as hidden even where CSS shows it, which
//! would hide the wide-screen sidebar from screen readers.

use crate::model::{Me, Permission};
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// One link of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NavLink {
    pub href: &'static str,
    pub label: &'static str,
    /// Marked current only on exactly its own path (`/security` is not current on `/security/network`).
    pub exact: bool,
}

/// A titled group of links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavGroup {
    /// The heading's element id, which names the group's list.
    pub id: &'static str,
    pub label: &'static str,
    pub links: Vec<NavLink>,
}

/// The groups and links this member may see, in order; groups with no visible link are left out.
pub fn nav_groups(me: &Me) -> Vec<NavGroup> {
    let has = |p: Permission| me.features.contains(&p);
    let link = |href, label| NavLink { href, label, exact: false };
    let shown = |links: Vec<(NavLink, bool)>| links.into_iter().filter_map(|(l, shown)| shown.then_some(l)).collect();
    let groups = vec![
        NavGroup {
            id: "nav-team",
            label: "Team",
            links: shown(vec![
                (link("/members", "Members"), has(Permission::Team)),
                (link("/sessions", "Sessions"), true),
            ]),
        },
        NavGroup {
            id: "nav-access",
            label: "Access",
            links: shown(vec![
                (link("/keys", "API keys"), has(Permission::ApiKeys)),
                (link("/ssh-keys", "SSH keys"), has(Permission::SshKeys)),
                (link("/settings/machines", "Machines"), me.is_admin),
            ]),
        },
        NavGroup {
            id: "nav-data",
            label: "Data",
            links: shown(vec![
                (link("/vault", "Vault"), has(Permission::VaultRead)),
                (link("/data-export", "Data export"), has(Permission::Export)),
            ]),
        },
        NavGroup {
            id: "nav-security",
            label: "Security",
            links: shown(vec![
                (link("/access-history", "Access history"), has(Permission::AccessHistory)),
                (link("/security/network", "Network"), me.is_admin),
                (link("/security/emergency", "Emergency"), me.is_admin),
                (link("/settings/webhooks", "Webhooks"), me.is_admin),
                (link("/settings/approvals", "Approvals"), me.is_admin),
                (link("/settings/consent", "Consent"), me.role == "owner"),
                (NavLink { exact: true, ..link("/security", "Security settings") }, true),
            ]),
        },
    ];
    groups.into_iter().filter(|g| !g.links.is_empty()).collect()
}

/// Whether the link to `href` is the current page's at `path`: its own path, or (unless `exact`) a path
/// below it, segment by segment (`/keys` is current on `/keys/k1`, not on `/keys-old`).
pub fn is_current(path: &str, href: &str, exact: bool) -> bool {
    let path = path.trim_end_matches('/');
    let href = href.trim_end_matches('/');
    path == href || (!exact && path.strip_prefix(href).is_some_and(|rest| rest.starts_with('/')))
}

/// The sidebar for `me`. The current page's link carries `aria-current="page"`, kept up to date on client
/// navigation from the one location the router holds. Plain `<a>`s (the router still takes their clicks):
/// the router's `<A>` resolved each href reactively, a seventh of an overview render for 17 links.
#[component]
pub fn ConsoleNav(me: Me) -> impl IntoView {
    let groups = nav_groups(&me);
    let path = use_location().pathname;
    let current =
        move |href: &'static str, exact: bool| move || is_current(&path.read(), href, exact).then_some("page");
    view! {
        <nav class="sidebar" aria-label="Console">
            <input type="checkbox" id="nav-toggle" class="nav-toggle" aria-controls="nav-links" autocomplete="off"/>
            <label for="nav-toggle" class="nav-toggle-label">"Menu"</label>
            <div class="nav-links" id="nav-links">
                <ul class="nav-list">
                    <li><a href="/overview" aria-current=current("/overview", false)>"Overview"</a></li>
                </ul>
                {groups.into_iter().map(|g| view! {
                    <div class="nav-group">
                        <span class="nav-heading" id=g.id>{g.label}</span>
                        <ul class="nav-list" aria-labelledby=g.id>
                            {g.links.into_iter().map(|l| view! {
                                <li><a href=l.href aria-current=current(l.href, l.exact)>{l.label}</a></li>
                            }).collect_view()}
                        </ul>
                    </div>
                }).collect_view()}
            </div>
        </nav>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me(features: Vec<Permission>, is_admin: bool) -> Me {
        Me {
            email: "a@b.example".to_owned(),
            tenant_name: "T".to_owned(),
            role: if is_admin { "admin" } else { "member" }.to_owned(),
            features,
            is_admin,
            tenant_count: 1,
            support: None,
        }
    }

    fn labels(groups: &[NavGroup]) -> Vec<(&str, Vec<&str>)> {
        groups.iter().map(|g| (g.label, g.links.iter().map(|l| l.label).collect())).collect()
    }

    #[test]
    fn a_link_is_current_on_its_path_and_below_it_unless_exact() {
        assert!(is_current("/keys", "/keys", false));
        assert!(is_current("/keys/", "/keys", false));
        assert!(is_current("/keys/k1/edit", "/keys", false));
        assert!(!is_current("/keys-old", "/keys", false));
        assert!(!is_current("/overview", "/keys", false));
        assert!(is_current("/security", "/security", true));
        assert!(!is_current("/security/network", "/security", true));
        assert!(is_current("/security/network", "/security/network", false));
    }

    #[test]
    fn an_admin_with_every_feature_sees_every_group_and_link() {
        let groups = nav_groups(&me(Permission::ALL.to_vec(), true));
        assert_eq!(
            labels(&groups),
            vec![
                ("Team", vec!["Members", "Sessions"]),
                ("Access", vec!["API keys", "SSH keys", "Machines"]),
                ("Data", vec!["Vault", "Data export"]),
                (
                    "Security",
                    vec!["Access history", "Network", "Emergency", "Webhooks", "Approvals", "Security settings"]
                ),
            ]
        );
        // Consent is the owners' alone.
        let owner = Me { role: "owner".to_owned(), ..me(Permission::ALL.to_vec(), true) };
        let security = nav_groups(&owner).into_iter().find(|g| g.label == "Security").unwrap();
        assert!(security.links.iter().any(|l| l.label == "Consent"));
    }

    #[test]
    fn a_member_without_grants_sees_no_empty_group() {
        let groups = nav_groups(&me(vec![], false));
        assert_eq!(labels(&groups), vec![("Team", vec!["Sessions"]), ("Security", vec!["Security settings"])]);
    }

    #[test]
    fn each_link_follows_its_own_grant() {
        let groups = nav_groups(&me(vec![Permission::AccessHistory, Permission::Export], false));
        assert_eq!(
            labels(&groups),
            vec![
                ("Team", vec!["Sessions"]),
                ("Data", vec!["Data export"]),
                ("Security", vec!["Access history", "Security settings"]),
            ]
        );
    }

    #[test]
    fn only_the_settings_link_is_exact() {
        let groups = nav_groups(&me(Permission::ALL.to_vec(), true));
        let exact: Vec<&str> = groups.iter().flat_map(|g| &g.links).filter(|l| l.exact).map(|l| l.href).collect();
        assert_eq!(exact, vec!["/security"]);
    }
}
