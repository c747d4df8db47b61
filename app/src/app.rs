//! The document shell (server-rendered) and the router. Every route renders with `SsrMode::Async`, so the
//! complete page is in the first response and forms work without JavaScript.

use crate::components::HydrateOnIntent;
use crate::pages::{
    AccessEventPage, AccessHistoryPage, ApiReferencePage, ApprovalsPage, ChainKeyPage, ClosurePage, ConfirmAccessPage,
    ConsentPage, DataExportPage, EmergencyPage, ForgotPasswordPage, HomePage, InvitePage, KeyPage, KeysPage,
    MachinesPage, MemberPage, MemberSessionsPage, MembersPage, NetworkPage, NotFoundPage, OrganisationsPage,
    OverviewPage, RecoveryCodesPage, ResetPasswordPage, SecurityPage, SessionsPage, SetupPage, SignInPage,
    SignInTwoFactorPage, SshKeysPage, TwoFactorSetupPage, VaultFilePage, VaultKeyPage, VaultPage, WebhookPage,
    WebhooksPage,
};
use leptos::either::Either;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app. The CSP nonce minted by the server's headers middleware is handed to
/// Leptos so the hydration script carries it.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[allow(unused_mut)]
    let mut on_intent = false;
    #[cfg(feature = "ssr")]
    if let Some(parts) = use_context::<http::request::Parts>() {
        if let Some(nonce) = parts.extensions.get::<crate::backend::platform::request::CspNonce>() {
            provide_context(leptos::nonce::Nonce::from_value(nonce.0.clone()));
        }
        on_intent = crate::components::hydrates_on_intent(parts.uri.path());
    }
    let stylesheet = format!("/{}/rampart.css", options.site_pkg_dir);
    let scripts = if on_intent {
        Either::Left(view! { <HydrateOnIntent options/> })
    } else {
        Either::Right(view! { <HydrationScripts options/> })
    };
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <link rel="stylesheet" id="leptos" href=stylesheet/>
                {scripts}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: routes to pages.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Rampart"/>
        <a class="skip" href="#main">"Skip to content"</a>
        <Router>
            <Routes fallback=NotFoundPage>
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
                <Route path=path!("/setup/:token") view=SetupPage ssr=SsrMode::Async/>
                <Route path=path!("/overview") view=OverviewPage ssr=SsrMode::Async/>
                <Route path=path!("/access-history") view=AccessHistoryPage ssr=SsrMode::Async/>
                <Route path=path!("/access-history/chain-key") view=ChainKeyPage ssr=SsrMode::Async/>
                <Route path=path!("/access-history/:id") view=AccessEventPage ssr=SsrMode::Async/>
                <Route path=path!("/sign-in/two-factor") view=SignInTwoFactorPage ssr=SsrMode::Async/>
                <Route path=path!("/two-factor/setup") view=TwoFactorSetupPage ssr=SsrMode::Async/>
                <Route path=path!("/two-factor/recovery-codes") view=RecoveryCodesPage ssr=SsrMode::Async/>
                <Route path=path!("/security") view=SecurityPage ssr=SsrMode::Async/>
                <Route path=path!("/security/network") view=NetworkPage ssr=SsrMode::Async/>
                <Route path=path!("/security/emergency") view=EmergencyPage ssr=SsrMode::Async/>
                <Route path=path!("/organisation/closure") view=ClosurePage ssr=SsrMode::Async/>
                <Route path=path!("/confirm-access") view=ConfirmAccessPage ssr=SsrMode::Async/>
                <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/reset-password/:token") view=ResetPasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/members") view=MembersPage ssr=SsrMode::Async/>
                <Route path=path!("/members/:id") view=MemberPage ssr=SsrMode::Async/>
                <Route path=path!("/members/:id/sessions") view=MemberSessionsPage ssr=SsrMode::Async/>
                <Route path=path!("/sessions") view=SessionsPage ssr=SsrMode::Async/>
                <Route path=path!("/invite/:token") view=InvitePage ssr=SsrMode::Async/>
                <Route path=path!("/organisations") view=OrganisationsPage ssr=SsrMode::Async/>
                <Route path=path!("/keys") view=KeysPage ssr=SsrMode::Async/>
                <Route path=path!("/keys/:id") view=KeyPage ssr=SsrMode::Async/>
                <Route path=path!("/ssh-keys") view=SshKeysPage ssr=SsrMode::Async/>
                <Route path=path!("/settings/webhooks") view=WebhooksPage ssr=SsrMode::Async/>
                <Route path=path!("/settings/approvals") view=ApprovalsPage ssr=SsrMode::Async/>
                <Route path=path!("/settings/consent") view=ConsentPage ssr=SsrMode::Async/>
                <Route path=path!("/settings/webhooks/:id") view=WebhookPage ssr=SsrMode::Async/>
                <Route path=path!("/settings/machines") view=MachinesPage ssr=SsrMode::Async/>
                <Route path=path!("/api-reference") view=ApiReferencePage ssr=SsrMode::Async/>
                <Route path=path!("/data-export") view=DataExportPage ssr=SsrMode::Async/>
                <Route path=path!("/vault") view=VaultPage ssr=SsrMode::Async/>
                <Route path=path!("/vault/key") view=VaultKeyPage ssr=SsrMode::Async/>
                <Route path=path!("/vault/files/:id") view=VaultFilePage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}
