use thiserror::Error;

/// A rule of the domain was broken by the caller's input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// One field is wrong; `message` says how to fix it.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The request is well-formed but contradicts existing state (e.g. a dependency cycle).
    #[error("{0}")]
    Conflict(String),
    /// Password hashing failed inside the hash library (not the user's fault).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { field, message: message.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
