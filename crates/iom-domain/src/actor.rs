//! Who did something: every business event and every configuration change names its actor.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The kind of an [`Actor`].
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    ToSchema,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ActorKind {
    /// A person signed in to the web UI (`id`: their e-mail).
    User,
    /// An API token (`id`: its name).
    Token,
    /// A flow run acting on its order (`id`: the flow's name).
    Flow,
    /// A provider instance whose document or webhook caused it (`id`: the instance's name).
    Provider,
    /// iom itself: a background worker, a sweeper, the command line (`id` says which).
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// `{"kind":"token","id":"shop-eu"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Actor {
        Actor {
            kind,
            id: id.into(),
        }
    }

    pub fn user(email: impl Into<String>) -> Actor {
        Actor::new(ActorKind::User, email)
    }

    pub fn token(name: impl Into<String>) -> Actor {
        Actor::new(ActorKind::Token, name)
    }

    pub fn flow(name: impl Into<String>) -> Actor {
        Actor::new(ActorKind::Flow, name)
    }

    pub fn provider(instance: impl Into<String>) -> Actor {
        Actor::new(ActorKind::Provider, instance)
    }

    pub fn system(what: impl Into<String>) -> Actor {
        Actor::new(ActorKind::System, what)
    }

    /// As stored: the kind and the id in two columns, read back with [`Actor::from_parts`].
    pub fn from_parts(kind: &str, id: &str) -> Option<Actor> {
        Some(Actor::new(kind.parse().ok()?, id))
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.id)
    }
}
