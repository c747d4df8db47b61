//! The emails Rampart sends to members: security notices, alerts and reset links. Each names the tenant, comes
//! as plain text and HTML, and never contains a password, a code or a secret (only links with single-use
//! tokens). Sending failures are logged and do not undo the act they report: the audit event is the record.

use crate::backend::platform::mail::Email;
use crate::backend::platform::request::RequestMeta;
use crate::backend::platform::text::escape_html;
use crate::backend::AppState;

/// What a message is about.
#[derive(Debug, Clone)]
pub enum Notice<'a> {
    /// A valid TOTP code was presented a second time: someone may know the password and the code.
    TotpReplay,
    /// Two-factor authentication was switched on for the account.
    TwoFactorEnabled,
    /// Two-factor authentication was switched off by the member.
    TwoFactorDisabled,
    /// An admin removed the member's authenticator; enrollment follows at the next sign-in.
    TwoFactorResetByAdmin { admin: &'a str },
    /// New recovery codes replaced the old set.
    RecoveryCodesRegenerated,
    /// The password was changed from the console.
    PasswordChanged,
    /// The password was set from a reset link.
    PasswordReset,
    /// A password-reset link (30 minutes, single use).
    PasswordResetLink { link: &'a str },
    /// An invitation to join the tenant (72 hours, single use).
    Invitation { link: &'a str, inviter: &'a str, role: &'a str },
    /// A canary API key was presented: whoever holds it got it from somewhere it should never have been.
    CanaryKeyUsed { key: &'a str, description: &'a str },
    /// The member's data export is ready to download (24 hours, by the requester only).
    DataExportReady { link: &'a str, until: &'a str, by_key: bool },
    /// Security alerts (one, or a digest of those raised in one window): (time and summary, details).
    SecurityAlerts { items: &'a [(String, String)] },
    /// An owner asked for the organisation's closure: everything is deleted after `closes_at` (UTC text).
    ClosureRequested { closes_at: &'a str },
    /// The pending closure was cancelled.
    ClosureCancelled,
}

fn compose(notice: &Notice<'_>, tenant: &str, meta: &RequestMeta) -> (String, Vec<String>, Option<(String, String)>) {
    let origin = format!("Request from IP address {} ({}).", meta.ip, super::shown_agent(&meta.user_agent));
    match notice {
        Notice::ClosureRequested { closes_at } => (
            format!("{tenant} is closing on {closes_at}"),
            vec![
                format!(
                    "An owner of {tenant} asked for the organisation to be closed. On {closes_at} the organisation \
                     and all its data in Rampart (members, API keys, access history, vault) will be deleted for good."
                ),
                "Until then the console and the API of the organisation are closed. An owner can cancel the \
                 closure from the console's closure page; if you did not expect this, contact your owners now."
                    .to_owned(),
            ],
            None,
        ),
        Notice::ClosureCancelled => (
            format!("{tenant}: the closure was cancelled"),
            vec![format!(
                "An owner cancelled the closure of {tenant}. The console and the API work again; nothing was deleted."
            )],
            None,
        ),
        Notice::TotpReplay => (
            format!("Security alert for {tenant}: a sign-in code was used twice"),
            vec![
                "Someone entered your password together with a two-factor code that had already been used.".to_owned(),
                "The sign-in was refused. If this was not you, someone may know your password and have seen your \
                 code: change your password now and review your sessions and access history."
                    .to_owned(),
                origin,
            ],
            None,
        ),
        Notice::TwoFactorEnabled => (
            format!("{tenant}: two-factor authentication is on"),
            vec![
                "Two-factor authentication was switched on for your account. Keep your recovery codes somewhere safe."
                    .to_owned(),
                origin,
            ],
            None,
        ),
        Notice::TwoFactorDisabled => (
            format!("{tenant}: two-factor authentication was switched off"),
            vec![
                "Two-factor authentication was switched off for your account. If this was not you, reset your \
                 password now and contact your administrator."
                    .to_owned(),
                origin,
            ],
            None,
        ),
        Notice::TwoFactorResetByAdmin { admin } => (
            format!("{tenant}: your two-factor authentication was reset"),
            vec![
                format!("{admin} removed your authenticator and recovery codes."),
                "At your next sign-in you will set up a new authenticator. Your sessions were signed out.".to_owned(),
            ],
            None,
        ),
        Notice::RecoveryCodesRegenerated => (
            format!("{tenant}: new recovery codes"),
            vec!["A new set of recovery codes was generated; the old codes no longer work.".to_owned(), origin],
            None,
        ),
        Notice::PasswordChanged => (
            format!("{tenant}: your password was changed"),
            vec![
                "Your password was changed. If this was not you, reset it now and contact your administrator."
                    .to_owned(),
                origin,
            ],
            None,
        ),
        Notice::PasswordReset => (
            format!("{tenant}: your password was reset"),
            vec![
                "Your password was set from a reset link and every session was signed out. Signing in still needs \
                 your second factor."
                    .to_owned(),
                origin,
            ],
            None,
        ),
        Notice::Invitation { link, inviter, role } => (
            format!("{inviter} invites you to {tenant} on Rampart"),
            vec![
                format!("{inviter} invites you to join {tenant} in Rampart, its security console, as {role}."),
                "The link works once, for 72 hours. If you did not expect this, ignore this message.".to_owned(),
            ],
            Some(("Accept the invitation".to_owned(), (*link).to_owned())),
        ),
        Notice::CanaryKeyUsed { key, description } => (
            format!("Security alert for {tenant}: a canary API key was used"),
            vec![
                format!("Someone called the API with the canary key {key}… (\u{201c}{description}\u{201d}). The request was refused."),
                "A canary key is never given to any client: whoever used it found it where it was planted. Find out \
                 how it got out, and roll the real keys kept in the same place."
                    .to_owned(),
                origin,
            ],
            None,
        ),
        Notice::SecurityAlerts { items } => {
            let subject = match items {
                [(summary, _)] => format!(
                    "Security alert for {tenant}: {}",
                    summary.split_once(": ").map(|(_, s)| s).unwrap_or(summary)
                ),
                _ => format!("Security alerts for {tenant}: {} events", items.len()),
            };
            let mut paragraphs = vec![if items.len() == 1 {
                "Rampart noticed this about an account in your organisation:".to_owned()
            } else {
                format!(
                    "Rampart noticed these {} events about accounts in your organisation (one message per 15 minutes at most):",
                    items.len()
                )
            }];
            for (summary, details) in items.iter() {
                paragraphs.push(summary.clone());
                paragraphs.extend(details.lines().map(str::to_owned));
            }
            paragraphs.push("The access history of the console shows every event in full.".to_owned());
            (subject, paragraphs, None)
        }
        Notice::DataExportReady { link, until, by_key } => (
            format!("{tenant}: your data export is ready"),
            vec![
                format!("The export of all of {tenant}'s data that you asked for is ready. It can be downloaded until {until}, and only by you{}; then it is deleted.",
                    if *by_key { " (the API key that asked for it)" } else { "" }),
                "If you did not ask for it, tell your administrator: the access history shows who did.".to_owned(),
            ],
            (!*by_key).then(|| ("Open the data export page".to_owned(), (*link).to_owned())),
        ),
        Notice::PasswordResetLink { link } => (
            format!("{tenant}: reset your password"),
            vec![
                "Someone asked to reset the password of your account. The link works once, for 30 minutes.".to_owned(),
                "If you did not ask for it, ignore this message: your password stays as it is.".to_owned(),
                origin,
            ],
            Some(("Reset your password".to_owned(), (*link).to_owned())),
        ),
    }
}

/// Builds the message (pure, so it is tested without sending).
pub fn build(notice: &Notice<'_>, to: &str, tenant: &str, meta: &RequestMeta) -> Email {
    let (subject, paragraphs, action) = compose(notice, tenant, meta);
    let mut text = format!("Rampart - {tenant}\n\n");
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif;max-width:40em\"><p><strong>Rampart</strong> - {}</p>",
        escape_html(tenant)
    );
    for p in &paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape_html(p)));
    }
    if let Some((label, link)) = &action {
        text.push_str(&format!("{label}: {link}\n\n"));
        html.push_str(&format!("<p><a href=\"{}\">{}</a></p>", escape_html(link), escape_html(label)));
    }
    text.push_str("-- Rampart security console\n");
    html.push_str("<p>-- Rampart security console</p></body></html>");
    Email { to: to.to_owned(), subject, text, html }
}

/// Sends a notice; a failure is logged, never shown to the member or allowed to undo the act.
pub async fn send(state: &AppState, notice: &Notice<'_>, to: &str, tenant: &str, meta: &RequestMeta) {
    let email = build(notice, to, tenant, meta);
    if let Err(err) = state.mailer.send(&email).await {
        tracing::warn!(error = %err, subject = %email.subject, "email not sent");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_tenant_and_escape_html() {
        let meta = RequestMeta { ip: "203.0.113.5".into(), user_agent: "<script>".into() };
        let e = build(&Notice::TotpReplay, "a@example.com", "Acme & Co", &meta);
        assert!(e.subject.contains("Acme & Co"));
        assert!(e.text.contains("Acme & Co") && e.text.contains("203.0.113.5"));
        assert!(e.html.contains("Acme &amp; Co") && !e.html.contains("<script>"));
        let link = "https://rampart.example/reset-password/abc";
        let e = build(&Notice::PasswordResetLink { link }, "a@example.com", "Acme", &meta);
        assert!(e.text.contains(link) && e.html.contains(link));
    }

    #[test]
    fn alert_digests_list_every_alert_once_and_escape_what_attackers_send() {
        let items = vec![
            ("2026-11-26 03:00:00 UTC: one".to_owned(), "from <b>evil</b>".to_owned()),
            ("2026-11-26 03:05:00 UTC: two".to_owned(), "line a\nline b".to_owned()),
        ];
        let meta = RequestMeta::default();
        let e = build(&Notice::SecurityAlerts { items: &items }, "a@example.com", "Acme", &meta);
        assert_eq!(e.subject, "Security alerts for Acme: 2 events");
        assert!(e.text.contains("03:00:00 UTC: one") && e.text.contains("line b"));
        assert!(e.html.contains("&lt;b&gt;evil") && !e.html.contains("<b>evil"));
        let e = build(&Notice::SecurityAlerts { items: &items[..1] }, "a@example.com", "Acme", &meta);
        assert_eq!(e.subject, "Security alert for Acme: one");
    }
}
