//! The SSH keys page's SFTP part: how to connect (user name, host, port, host key fingerprint, the command
//! lines with a key and with a certificate), and for owners and admins the organisation's live sessions, each
//! with an "End" button, and "Resume SFTP" after a panic.

use crate::api::ssh::{EndSftpSession, ResumeSftp};
use crate::components::{ErrorNotice, TableWrap};
use crate::model::{format_utc, AppError, SftpAccessView};
use leptos::prelude::*;

/// The SFTP section.
pub fn sftp_section(
    s: SftpAccessView,
    admin: bool,
    end: ServerAction<EndSftpSession>,
    resume: ServerAction<ResumeSftp>,
) -> impl IntoView {
    let error_of =
        move |e: Option<Result<(), AppError>>| e.and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> });
    let with_key = format!("sftp -P {} -o User={} {}", s.port, s.user, s.host);
    let with_cert =
        format!("sftp -P {} -o CertificateFile=~/.ssh/id_ed25519-cert.pub -o User={} {}", s.port, s.user, s.host);
    let sessions = s.sessions.clone();
    view! {
        <section aria-labelledby="sftp-h">
            <h2 id="sftp-h">"SFTP"</h2>
            <p>"Your files in the vault over SFTP, with one of your keys"
                {if s.require_certs { " — this organisation requires a short-lived certificate" } else { "" }} ":"</p>
            <pre class="wrap" aria-label="SFTP command"><code>{with_key}</code></pre>
            <p>"With a certificate saved beside the key:"</p>
            <pre class="wrap" aria-label="SFTP command with a certificate"><code>{with_cert}</code></pre>
            <p>"User name: " <code>{s.user.clone()}</code> ". Server key fingerprint (check it on the first \
                connection): " <code>{s.host_key_fingerprint.clone()}</code></p>
            {s.paused.then(|| view! {
                <p class="notice warn" role="status">"SFTP is paused since the panic button was pressed: nobody \
                    gets in until an administrator resumes it. Certificates issued before the panic stay refused."</p>
            })}
            {(admin && s.paused).then(|| view! {
                {move || error_of(resume.value().get())}
                <ActionForm action=resume attr:class="inline">
                    <button type="submit">"Resume SFTP"</button>
                </ActionForm>
            })}
            {admin.then(|| view! {
                <h3>"Live sessions"</h3>
                {move || error_of(end.value().get())}
                {if sessions.is_empty() {
                    leptos::either::Either::Left(view! { <p>"No one is connected."</p> })
                } else {
                    leptos::either::Either::Right(view! {
                        <TableWrap label="Live SFTP sessions">
                            <table>
                                <caption class="visually-hidden">"Live SFTP sessions"</caption>
                                <thead><tr>
                                    <th scope="col">"Who"</th><th scope="col">"By"</th><th scope="col">"From"</th>
                                    <th scope="col">"Since"</th><th scope="col">"In / out"</th><th scope="col">""</th>
                                </tr></thead>
                                <tbody>
                                    {sessions.into_iter().map(|x| {
                                        let label = format!("End the session of {}", x.actor);
                                        view! {
                                            <tr>
                                                <td>{x.actor}</td>
                                                <td>{x.via}" "<code>{x.key_fingerprint}</code></td>
                                                <td>{x.ip}" "<small>{x.client}</small></td>
                                                <td>{format_utc(x.started_at)}</td>
                                                <td>{format!("{} / {} bytes", x.bytes_in, x.bytes_out)}</td>
                                                <td>{if x.ending {
                                                    leptos::either::Either::Left(view! { "Ending…" })
                                                } else {
                                                    leptos::either::Either::Right(view! {
                                                        <ActionForm action=end attr:class="inline">
                                                            <input type="hidden" name="sftp_session_id" value=x.id/>
                                                            <button type="submit" class="secondary" aria-label=label>"End"</button>
                                                        </ActionForm>
                                                    })
                                                }}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </TableWrap>
                    })
                }}
            })}
        </section>
    }
}
