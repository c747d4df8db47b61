//! `/api/v1/machines`: enrolment with a one-time token and renewal over mutual TLS. Neither takes an API key:
//! enrolment is authenticated by its token (`Authorization: Bearer rmp_enrol_…`), renewal by the client
//! certificate the connection presented. Both take a CSR (`application/pkcs10`, PEM or DER) and answer the
//! new certificate followed by the organisation's machine CA (`application/pem-certificate-chain`), with the
//! machine's id in `Rampart-Machine-Id`.

use super::{error_response, read_limited, ApiError};
use app::backend::machines::{enrol, ClientCertificate};
use app::backend::platform::request::{ClientIp, RequestMeta};
use app::backend::AppState;
use app::model::AppError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};

fn is_pkcs10(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/pkcs10")))
}

fn unsupported() -> Response {
    let mut res = error_response(
        &AppError::validation("content-type", "Send the CSR as application/pkcs10 (PEM or DER)."),
        false,
    );
    *res.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    res
}

fn chain(enrolled: &enrol::Enrolled, status: StatusCode) -> Response {
    let body = format!("{}{}", enrolled.certificate.pem, enrolled.ca_pem);
    let mut res = (status, [(header::CONTENT_TYPE, "application/pem-certificate-chain")], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&enrolled.machine_id) {
        res.headers_mut().insert("rampart-machine-id", v);
    }
    res
}

fn client_ip(req: &Request) -> std::net::IpAddr {
    req.extensions().get::<ClientIp>().map(|c| c.0).unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]))
}

/// Enrols a machine with a one-time token from the console's Machines page.
#[utoipa::path(
    post, path = "/machines/enrol", tag = "machines",
    summary = "Enrol a machine: a one-time token and a CSR in, a client certificate out",
    description = "The machine makes its own key and sends a PKCS#10 CSR (PEM or DER) with the enrolment token \
                   in `Authorization: Bearer rmp_enrol_…`. Only the CSR's public key is used: the certificate's \
                   subject and SAN are Rampart's (the machine's name and id, the organisation's id), with the \
                   clientAuth EKU. The token is spent by the first enrolment that succeeds; an invalid CSR spends \
                   nothing. The answer is the certificate followed by the organisation's machine CA.",
    request_body(content = String, content_type = "application/pkcs10", description = "A PKCS#10 CSR, PEM or DER"),
    security(("enrolment_token" = [])),
    responses(
        (status = 201, description = "The certificate, then the CA (PEM)", content_type = "application/pem-certificate-chain", body = String,
            headers(("rampart-machine-id" = String, description = "The new machine's id"))),
        (status = 401, description = "An unknown, spent, revoked or expired token, or an address outside the machine's range"),
        (status = 422, description = "Not a CSR, or its signature does not match its key"),
    )
)]
pub async fn enrol_machine(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&req);
    let meta = RequestMeta::of(req.extensions(), req.headers());
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let now = state.clock.now_ms();
    let Some(token) = token.filter(|t| t.starts_with("rmp_enrol_") && t.len() <= 100) else {
        return refuse_unknown(&state, ip, now);
    };
    if !is_pkcs10(&req) {
        return unsupported();
    }
    let body = match read_limited(req).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    match enrol::enrol(&state, &meta, ip, &token, &body).await {
        Ok(enrolled) => chain(&enrolled, StatusCode::CREATED),
        Err(AppError::Unauthenticated) => refuse_unknown(&state, ip, now),
        Err(err) => ApiError(err).into_response(),
    }
}

/// A token that matched nothing, or no token: counted per address like unrecognised keys (429 past the limit).
fn refuse_unknown(state: &AppState, ip: std::net::IpAddr, now: i64) -> Response {
    match app::backend::keys::verify::note_unknown(state, ip, now, true) {
        app::backend::keys::verify::UnknownKey::Throttled { retry_after } => {
            error_response(&AppError::RateLimited { retry_after }, false)
        }
        _ => error_response(&AppError::Unauthenticated, false),
    }
}

/// Renews the presenting machine's certificate.
#[utoipa::path(
    post, path = "/machines/renew", tag = "machines",
    summary = "Renew a machine certificate over mutual TLS",
    description = "Over a connection presenting the machine's current certificate (not revoked, not ended), a \
                   CSR for the same or a new key gets a certificate as long as the first. The presented \
                   certificate keeps working for one more day, then it is refused.",
    request_body(content = String, content_type = "application/pkcs10", description = "A PKCS#10 CSR, PEM or DER"),
    security(("machine_certificate" = [])),
    responses(
        (status = 201, description = "The new certificate, then the CA (PEM)", content_type = "application/pem-certificate-chain", body = String,
            headers(("rampart-machine-id" = String, description = "The machine's id"))),
        (status = 401, description = "No certificate, or not an active machine's"),
        (status = 422, description = "Not a CSR, or its signature does not match its key"),
    )
)]
pub async fn renew_machine(State(state): State<AppState>, req: Request) -> Response {
    let ip = client_ip(&req);
    let meta = RequestMeta::of(req.extensions(), req.headers());
    let certificate = req.extensions().get::<ClientCertificate>().map(|c| c.0.clone());
    let Some(certificate) = certificate else {
        return error_response(&AppError::Unauthenticated, false);
    };
    if !is_pkcs10(&req) {
        return unsupported();
    }
    let body = match read_limited(req).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    match enrol::renew(&state, &meta, ip, Some(&certificate), &body).await {
        Ok(renewed) => chain(&renewed, StatusCode::CREATED),
        Err(err) => ApiError(err).into_response(),
    }
}
