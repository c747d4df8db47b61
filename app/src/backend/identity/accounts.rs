//! Global accounts and their emails. An email is compared by its key: trimmed and lower-cased, which is what
//! the UNIQUE constraint sees on both databases.

use crate::model::AppError;

/// The most characters an email may have (RFC 5321 path limit).
const MAX_EMAIL: usize = 254;

/// The comparison key of an email.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an email's shape (one `@`, something on both sides, a dot in the domain, no spaces or controls) and
/// returns it trimmed.
pub fn validate_email(email: &str) -> Result<String, AppError> {
    let email = email.trim();
    let bad = || AppError::validation("email", "Enter a valid email address, like name@example.com.");
    if email.is_empty() || email.chars().count() > MAX_EMAIL {
        return Err(bad());
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || domain.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return Err(bad());
    }
    Ok(email.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_and_keyed() {
        assert_eq!(validate_email("  Alice@Example.com ").ok().as_deref(), Some("Alice@Example.com"));
        assert_eq!(email_key(" Alice@Example.COM"), "alice@example.com");
        for bad in ["", "alice", "alice@", "@example.com", "a@b", "a b@example.com", "a@@example.com", "a@example.com."]
        {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
