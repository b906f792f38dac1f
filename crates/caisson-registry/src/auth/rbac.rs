//! Pure access decisions: who may do what in which namespace.

use caisson_registry_store::{RobotScope, Role};
use serde::{Deserialize, Serialize};

/// A repository action, as in token scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "pull" => Some(Action::Pull),
            "push" => Some(Action::Push),
            "delete" => Some(Action::Delete),
            _ => None,
        }
    }
}

/// Who is asking, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    User {
        name: String,
        system_admin: bool,
    },
    Robot {
        name: String,
        scopes: Vec<RobotScope>,
    },
}

impl Principal {
    /// The audit actor string.
    pub fn actor(&self) -> String {
        match self {
            Principal::Anonymous => "anonymous".into(),
            Principal::User { name, .. } => format!("user:{name}"),
            Principal::Robot { name, .. } => format!("robot:{name}"),
        }
    }

    pub fn is_system_admin(&self) -> bool {
        matches!(
            self,
            Principal::User {
                system_admin: true,
                ..
            }
        )
    }
}

/// Actions a role grants on its namespace's repositories.
pub fn role_actions(role: Role) -> &'static [Action] {
    match role {
        Role::Reader => &[Action::Pull],
        Role::Writer => &[Action::Pull, Action::Push],
        Role::Maintainer | Role::Admin => &[Action::Pull, Action::Push, Action::Delete],
    }
}

/// Whether `principal` may perform `action` in a namespace where it holds
/// `role` (users) and which is `public` or not.
pub fn allowed(
    principal: &Principal,
    namespace: &str,
    role: Option<Role>,
    public: bool,
    action: Action,
) -> bool {
    if action == Action::Pull && public {
        return true;
    }
    match principal {
        Principal::Anonymous => false,
        Principal::User { system_admin, .. } => {
            *system_admin || role.is_some_and(|r| role_actions(r).contains(&action))
        }
        Principal::Robot { scopes, .. } => scopes
            .iter()
            .any(|s| s.namespace == namespace && s.actions.iter().any(|a| a == action.as_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_matrix() {
        let u = Principal::User {
            name: "u".into(),
            system_admin: false,
        };
        let cases = [
            (None, [false, false, false]),
            (Some(Role::Reader), [true, false, false]),
            (Some(Role::Writer), [true, true, false]),
            (Some(Role::Maintainer), [true, true, true]),
            (Some(Role::Admin), [true, true, true]),
        ];
        for (role, expect) in cases {
            for (a, e) in [Action::Pull, Action::Push, Action::Delete]
                .into_iter()
                .zip(expect)
            {
                assert_eq!(allowed(&u, "ns", role, false, a), e, "{role:?} {a:?}");
            }
        }
        assert!(allowed(
            &Principal::Anonymous,
            "ns",
            None,
            true,
            Action::Pull
        ));
        assert!(!allowed(
            &Principal::Anonymous,
            "ns",
            None,
            true,
            Action::Push
        ));
        let r = Principal::Robot {
            name: "robot$ci".into(),
            scopes: vec![RobotScope {
                namespace: "ns".into(),
                actions: vec!["pull".into(), "push".into()],
            }],
        };
        assert!(allowed(&r, "ns", None, false, Action::Push));
        assert!(!allowed(&r, "other", None, false, Action::Pull));
        assert!(!allowed(&r, "ns", None, false, Action::Delete));
    }
}
