//! People who sign in, and the rules for their names and passwords.

use crate::role::Role;
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub role: Role,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How people read a person's name: the display name, or the username when it has none.
pub fn shown_name(username: &str, display_name: &str) -> String {
    if display_name.trim().is_empty() { username.to_owned() } else { display_name.to_owned() }
}

impl User {
    /// See [`shown_name`].
    pub fn shown_name(&self) -> String {
        shown_name(&self.username, &self.display_name)
    }
}

pub const USERNAME_MAX: usize = 64;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 256;

pub fn username(value: &str) -> Result<String> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.len() <= USERNAME_MAX
        && v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'));
    if !ok {
        return Err(Error::invalid(
            "username",
            format!("use 1 to {USERNAME_MAX} lowercase letters, digits, '.', '_' or '-'"),
        ));
    }
    Ok(v.to_owned())
}

pub fn password(value: &str) -> Result<()> {
    let n = value.chars().count();
    if n < PASSWORD_MIN {
        return Err(Error::invalid("password", format!("must be at least {PASSWORD_MIN} characters")));
    }
    if n > PASSWORD_MAX {
        return Err(Error::invalid("password", format!("must be at most {PASSWORD_MAX} characters")));
    }
    Ok(())
}

/// An optional e-mail address: empty means none.
pub fn email(value: Option<&str>) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => crate::validate::email("email", v).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(username("alice.ops").is_ok());
        assert!(username("Alice").is_err());
        assert!(username("").is_err());
        assert!(username("a b").is_err());
    }

    #[test]
    fn passwords_and_emails() {
        assert!(password("short").is_err());
        assert!(password("long enough").is_ok());
        assert_eq!(email(Some("")), Ok(None));
        assert!(email(Some("ops@example.com")).is_ok());
        assert!(email(Some("not-an-email")).is_err());
    }
}

/// An API token as listed; the secret itself is shown once at creation and never stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    pub id: Uuid,
    pub user_id: Uuid,
    pub username: String,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub hint: String,
    /// Optional cap on the owner's role.
    pub role: Option<Role>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub const TOKEN_NAME_MAX: usize = 80;
