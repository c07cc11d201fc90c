use thiserror::Error;

/// A rule of the domain was broken by the caller's input.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// One field is wrong; `message` says how to fix it.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// Several fields are wrong at once (at least two, in input order), so a form can mark them
    /// all in one round trip instead of one per submit.
    #[error("{}", join(.0))]
    Fields(Vec<FieldProblem>),
    /// The request is well-formed but contradicts existing state (e.g. a dependency cycle).
    #[error("{0}")]
    Conflict(String),
    /// Password hashing failed inside the hash library (not the user's fault).
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// One wrong field and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub message: String,
}

fn join(problems: &[FieldProblem]) -> String {
    let parts: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect();
    parts.join("; ")
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { field, message: message.into() }
    }

    /// Every field problem this error names (empty for conflicts and internal failures).
    pub fn problems(&self) -> Vec<FieldProblem> {
        match self {
            Error::Invalid { field, message } => vec![FieldProblem { field, message: message.clone() }],
            Error::Fields(v) => v.clone(),
            Error::Conflict(_) | Error::Hash(_) => Vec::new(),
        }
    }
}

/// Collects every field problem of an input before answering, so the caller hears about all of
/// them at once. The first problem per field wins; errors that are not about a field (conflicts,
/// hashing) are kept and returned ahead of field problems.
#[derive(Debug, Default)]
pub struct Problems {
    fields: Vec<FieldProblem>,
    other: Option<Error>,
}

impl Problems {
    /// The value when `r` is valid; otherwise records why and gives `None`.
    pub fn check<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e @ (Error::Conflict(_) | Error::Hash(_))) => {
                self.other.get_or_insert(e);
                None
            }
            Err(e) => {
                for p in e.problems() {
                    self.push(p.field, p.message);
                }
                None
            }
        }
    }

    /// Stores a valid value into `slot`, or records why it is not valid.
    pub fn set<T>(&mut self, slot: &mut T, r: Result<T>) {
        if let Some(v) = self.check(r) {
            *slot = v;
        }
    }

    pub fn push(&mut self, field: &'static str, message: impl Into<String>) {
        if !self.has(field) {
            self.fields.push(FieldProblem { field, message: message.into() });
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|p| p.field == field)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.other.is_none()
    }

    /// `Ok` when nothing was wrong; one problem stays a plain [`Error::Invalid`].
    pub fn finish(mut self) -> Result<()> {
        if let Some(e) = self.other {
            return Err(e);
        }
        match self.fields.len() {
            0 => Ok(()),
            1 => {
                let p = self.fields.remove(0);
                Err(Error::Invalid { field: p.field, message: p.message })
            }
            _ => Err(Error::Fields(self.fields)),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_every_field_once_in_order() {
        let mut p = Problems::default();
        let mut name = String::new();
        p.set(&mut name, Err(Error::invalid("name", "must not be empty")));
        p.push("url", "must start with http:// or https://");
        p.push("name", "second complaint is dropped");
        assert!(p.check(Ok(3)).is_some());
        let e = p.finish().unwrap_err();
        assert_eq!(e.to_string(), "name: must not be empty; url: must start with http:// or https://");
        assert_eq!(e.problems().len(), 2);
    }

    #[test]
    fn one_problem_stays_invalid_and_conflicts_come_first() {
        let mut p = Problems::default();
        p.push("tier", "must be 1 to 4");
        assert!(matches!(p.finish(), Err(Error::Invalid { field: "tier", .. })));
        let mut p = Problems::default();
        p.push("tier", "must be 1 to 4");
        p.check::<()>(Err(Error::Conflict("cycle".into())));
        assert_eq!(p.finish(), Err(Error::Conflict("cycle".into())));
        assert_eq!(Problems::default().finish(), Ok(()));
    }
}
