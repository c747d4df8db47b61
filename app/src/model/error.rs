//! The one error type every layer speaks. Messages are safe to show: internal causes stay in the server log,
//! reachable through the operation id.

use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};
use std::fmt;

/// An error a user or an API client may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppError {
    /// No valid session or key.
    Unauthenticated,
    /// Signed in, but not allowed.
    Forbidden,
    /// Allowed, but only after re-entering the password (+ second factor) within the last 10 minutes.
    StepUpRequired,
    /// Absent, or in another tenant (the two are indistinguishable on purpose).
    NotFound,
    /// Bad input; nothing was changed.
    Validation { field: String, msg: String },
    /// The change collides with existing state.
    Conflict { msg: String },
    /// Too many attempts; retry after this many seconds.
    RateLimited { retry_after: u64 },
    /// A dependency (the database) is down or saturated; retrying later will work.
    Unavailable,
    /// A bug or an unexpected failure, logged under this operation id.
    Internal { op_id: String },
}

impl AppError {
    /// A validation error on one field.
    pub fn validation(field: &str, msg: impl Into<String>) -> Self {
        Self::Validation { field: field.to_owned(), msg: msg.into() }
    }

    /// The HTTP status code this error is answered with, on pages, server functions and the REST API alike.
    pub fn status_code(&self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::Forbidden | Self::StepUpRequired => 403,
            Self::NotFound => 404,
            Self::Validation { .. } => 422,
            Self::Conflict { .. } => 409,
            Self::RateLimited { .. } => 429,
            Self::Unavailable => 503,
            Self::Internal { .. } => 500,
        }
    }

    /// The `Retry-After` seconds this error is answered with, where the client should come back later.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after } => Some(*retry_after),
            Self::Unavailable => Some(5),
            _ => None,
        }
    }

    /// A stable machine-readable code for JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::StepUpRequired => "step_up_required",
            Self::NotFound => "not_found",
            Self::Validation { .. } => "validation",
            Self::Conflict { .. } => "conflict",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal { .. } => "internal",
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthenticated => f.write_str("Please sign in."),
            Self::Forbidden => f.write_str("You are not allowed to do this."),
            Self::StepUpRequired => f.write_str("Please confirm it's you: enter your password again to continue."),
            Self::NotFound => f.write_str("Not found."),
            Self::Validation { msg, .. } => f.write_str(msg),
            Self::Conflict { msg } => f.write_str(msg),
            Self::RateLimited { retry_after } => {
                write!(f, "Too many attempts. Try again in {retry_after} seconds.")
            }
            Self::Unavailable => f.write_str("Rampart is temporarily unavailable. Please try again in a moment."),
            Self::Internal { op_id } => write!(f, "Something went wrong (ref {op_id})."),
        }
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Malformed or missing arguments are the client's fault: say so without echoing them.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                Self::validation("form", "The form was incomplete or malformed.")
            }
            // On the server this is a request body that could not be read as text (not UTF-8, cut short): the
            // client's fault, never a 500. (In the browser it would be a reply it could not read.)
            #[cfg(feature = "ssr")]
            ServerFnErrorErr::Deserialization(_) => {
                Self::validation("form", "The request body could not be read: send UTF-8 form data.")
            }
            ServerFnErrorErr::Request(_) => Self::Unavailable,
            _ => Self::Internal { op_id: "client".to_owned() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_its_status() {
        let cases = [
            (AppError::Unauthenticated, 401),
            (AppError::Forbidden, 403),
            (AppError::StepUpRequired, 403),
            (AppError::NotFound, 404),
            (AppError::validation("email", "bad"), 422),
            (AppError::Conflict { msg: "x".into() }, 409),
            (AppError::RateLimited { retry_after: 3 }, 429),
            (AppError::Unavailable, 503),
            (AppError::Internal { op_id: "abc".into() }, 500),
        ];
        for (err, status) in cases {
            assert_eq!(err.status_code(), status, "{err:?}");
            let retry = matches!(status, 429 | 503);
            assert_eq!(err.retry_after().is_some(), retry, "{err:?}");
        }
        assert_eq!(AppError::RateLimited { retry_after: 3 }.retry_after(), Some(3));
    }

    #[test]
    fn internal_errors_show_only_the_reference() {
        let msg = AppError::Internal { op_id: "7f3a".into() }.to_string();
        assert_eq!(msg, "Something went wrong (ref 7f3a).");
    }

    #[test]
    fn errors_round_trip_through_the_server_fn_encoding() {
        let err = AppError::validation("password", "Too short");
        let back = AppError::de(err.ser());
        assert_eq!(back, err);
    }
}
