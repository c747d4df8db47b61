//! Request bodies of the REST API: JSON within the size limit and without unknown fields, whole numbers as
//! JSON Schema counts them, and errors that never repeat what the client sent.

use super::ApiError;
use crate::errors::error_response;
use app::model::AppError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

/// Largest JSON body the API accepts.
pub const MAX_BODY: usize = 64 * 1024;
/// A body over the limit is still read (and dropped) up to this size, so the client sees the 413 instead of a
/// connection reset in the middle of its upload; anything larger is cut off.
const DRAIN_MAX: usize = 1024 * 1024;

/// A JSON body: `application/json`, within the size limit, no unknown fields (the types say
/// `deny_unknown_fields`); anything else is 415, 413 or 422, and nothing changes.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
                ct.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            let mut res =
                error_response(&AppError::validation("content-type", "Send the body as application/json."), false);
            *res.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
            return Err(res);
        }
        let _ = state;
        let bytes = read_limited(req).await?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError(AppError::validation("body", json_error(&e))).into_response())
    }
}

/// Whole numbers as JSON Schema counts them: `272` and `272.0` alike (serde's `i64` refuses the second).
pub mod whole {
    use serde::de::{Deserialize as _, Deserializer, Error as _};

    fn of<E: serde::de::Error>(n: &serde_json::Number) -> Result<i64, E> {
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        match n.as_f64() {
            #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(f as i64),
            _ => Err(E::custom("expected a whole number")),
        }
    }

    /// A required whole number.
    pub fn required<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        of(&serde_json::Number::deserialize(d).map_err(D::Error::custom)?)
    }

    /// An optional whole number (`null` or absent: none); use with `#[serde(default)]`.
    pub fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?.as_ref().map(of).transpose()
    }
}

/// A JSON error in words that never repeat a value the client sent (a secret pasted into the wrong field would
/// come back in the answer, and be logged by whatever logs answers): serde's quoted values become a type name.
fn json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    // serde_json quotes values as `string "…"` (Debug, escapes inside) and variants as `…`; field names in
    // `unknown field` and `missing field` are the schema's or the client's key, kept for a useful message.
    while let Some(i) = rest.find("string \"") {
        out.push_str(&rest[..i]);
        out.push_str("a string");
        let after = &rest[i + "string \"".len()..];
        let mut end = None;
        let mut escaped = false;
        for (j, c) in after.char_indices() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(j + 1);
                    break;
                }
                _ => {}
            }
        }
        rest = end.map_or("", |j| &after[j..]);
    }
    out.push_str(rest);
    let out = match out.find("unknown variant `") {
        Some(i) => {
            let tail = &out[i + "unknown variant `".len()..];
            let tail = tail.find('`').map_or("", |j| &tail[j + 1..]);
            format!("{}an unknown value{tail}", &out[..i])
        }
        None => out,
    };
    format!("Invalid JSON body: {out}")
}

pub async fn read_limited(req: Request) -> Result<Bytes, Response> {
    use http_body_util::BodyExt as _;
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_MAX) {
        return Err(too_large());
    }
    let mut body = req.into_body();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| ApiError(AppError::validation("body", "The body could not be read.")).into_response())?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= MAX_BODY {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_MAX {
                return Err(too_large());
            }
        }
    }
    if seen > MAX_BODY {
        return Err(too_large());
    }
    Ok(Bytes::from(buf))
}

fn too_large() -> Response {
    let msg = format!("The body is larger than {} KiB.", MAX_BODY / 1024);
    let mut res = error_response(&AppError::validation("body", msg), false);
    *res.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    res
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_errors_never_repeat_the_values_sent() -> Result<(), String> {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            n: i64,
            kind: Kind,
        }
        #[derive(Debug, serde::Deserialize)]
        #[serde(rename_all = "lowercase")]
        enum Kind {
            Read,
        }
        for body in [r#"{"n": "s3cr\"et-1", "kind": "read"}"#, r#"{"n": 1, "kind": "s3cr\"et-1"}"#] {
            let Err(e) = serde_json::from_str::<Body>(body) else { return Err("accepted".to_owned()) };
            let msg = super::json_error(&e);
            assert!(!msg.contains("s3cr") && !msg.contains("et-1"), "{msg}");
            assert!(msg.starts_with("Invalid JSON body: "), "{msg}");
        }
        let Err(e) = serde_json::from_str::<Body>(r#"{"n": "x", "kind": "read"}"#) else { return Err("ok".into()) };
        assert!(super::json_error(&e).contains("invalid type: a string, expected i64"), "{}", super::json_error(&e));
        Ok(())
    }
}
