//! Accounts: roles and the parsed parts of a signup.

use super::check::Check;
use crate::error::FieldProblem;

crate::text_enum! {
    /// What an account may do.
    pub enum Role {
        User = "USER",
        /// Door staff: a fan's rights today; scanning and check-in data when they land.
        Staff = "STAFF",
        Admin = "ADMIN",
    }
}

/// An account as the service shows it (never with its password hash).
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// A syntactically valid, lower-cased email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Option<Email> {
        let email = raw.trim().to_lowercase();
        let (local, domain) = email.split_once('@')?;
        let valid = !local.is_empty()
            && local.len() <= 64
            && email.len() <= 254
            && !domain.is_empty()
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        valid.then_some(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const USERNAME_LEN: (usize, usize) = (2, 20);
pub const PASSWORD_LEN: (usize, usize) = (8, 100);

/// Checks an email field; the error names the field.
pub fn check_email(check: &mut Check, field: &str, raw: Option<String>) -> Option<Email> {
    let raw = check.text(field, raw, 1, 254)?;
    let email = Email::parse(&raw);
    if email.is_none() {
        check.fail(field, FieldProblem::Email);
    }
    email
}

/// Checks a new password (not trimmed: spaces are part of a password).
pub fn check_password(check: &mut Check, field: &str, raw: Option<String>) -> Option<String> {
    let (min, max) = PASSWORD_LEN;
    match raw {
        None => {
            check.fail(field, FieldProblem::Required);
            None
        }
        Some(p) if p.chars().count() < min || p.chars().count() > max => {
            check.fail(field, FieldProblem::Length { min, max });
            None
        }
        Some(p) => Some(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(Email::parse(" Fan@Example.COM ").unwrap().as_str(), "fan@example.com");
        assert_eq!(Email::parse("admin@admin").unwrap().as_str(), "admin@admin");
        for bad in ["", "fan", "@x.com", "fan@", "fan@.com", "a b@x.com", "a@b@c"] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
    }
}
