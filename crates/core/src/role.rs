//! Roles and what each may do. Roles are ordered: every role can do what the ones below it can.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything a team member may see.
    Viewer,
    /// Acts on incidents: acknowledge, resolve, add notes.
    Responder,
    /// Configures the catalogue, monitors, schedules and integrations.
    Manager,
    /// Manages users, every API token, settings and the audit log.
    Admin,
}

/// Something a request wants to do; each maps to the least role allowed to do it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Read,
    Respond,
    Configure,
    Administer,
}

impl Permission {
    pub fn least_role(self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::Respond => Role::Responder,
            Permission::Configure => Role::Manager,
            Permission::Administer => Role::Admin,
        }
    }
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Responder, Role::Manager, Role::Admin];

    pub fn allows(self, permission: Permission) -> bool {
        self >= permission.least_role()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Manager => "manager",
            Role::Admin => "admin",
        }
    }

    /// A token may narrow its owner's role but never widen it.
    pub fn capped_by(self, cap: Option<Role>) -> Role {
        cap.map_or(self, |cap| self.min(cap))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| {
            crate::Error::invalid("role", format!("unknown role {s:?}; use viewer, responder, manager or admin"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_cumulative() {
        assert!(Role::Admin.allows(Permission::Configure));
        assert!(Role::Manager.allows(Permission::Respond));
        assert!(!Role::Responder.allows(Permission::Configure));
        assert!(!Role::Viewer.allows(Permission::Respond));
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Manager.allows(Permission::Administer));
    }

    #[test]
    fn token_cap_never_widens() {
        assert_eq!(Role::Viewer.capped_by(Some(Role::Admin)), Role::Viewer);
        assert_eq!(Role::Admin.capped_by(Some(Role::Viewer)), Role::Viewer);
        assert_eq!(Role::Manager.capped_by(None), Role::Manager);
    }

    #[test]
    fn parses_and_rejects() {
        assert_eq!("manager".parse::<Role>(), Ok(Role::Manager));
        assert!("root".parse::<Role>().is_err());
    }
}
