//! Who may do what. A token carries a [`Role`]; every use case an edge offers asks for an
//! [`Access`], and the role decides. The HTTP API, the web UI and the command line apply the same
//! rules.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, including configuration and tokens.
    Admin,
    /// Runs the day: reads everything, acts on orders (hold, release, cancel), works tasks.
    Operator,
    /// A system that feeds iom: captures orders, reports shipments and deliveries, cancels.
    Integration,
    /// Customer service: reads everything, enters and acts on orders (hold, release, cancel) and
    /// returns; no configuration, no stock.
    Service,
    /// Reads only.
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "integration" => Some(Role::Integration),
            "service" => Some(Role::Service),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Integration => "integration",
            Role::Service => "service",
            Role::Viewer => "viewer",
        }
    }
}

/// What a call needs permission for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Feeding facts in: orders, shipments, deliveries, cancellations from the channel.
    Capture,
    /// Operational decisions: holds and their release.
    Operate,
    /// Feeding facts in about orders and returns (entering an order, authorising or receiving a
    /// return): `Capture`, and customer service too.
    CaptureOrders,
    /// Acting on orders and returns (hold, release, cancel, refund): `Operate`, and customer
    /// service too.
    OperateOrders,
    /// Configuration and tokens.
    Configure,
}

impl Access {
    pub fn allowed(self, role: Role) -> bool {
        match self {
            Access::Read => true,
            Access::Capture => matches!(role, Role::Admin | Role::Operator | Role::Integration),
            Access::Operate => matches!(role, Role::Admin | Role::Operator),
            Access::CaptureOrders => matches!(
                role,
                Role::Admin | Role::Operator | Role::Integration | Role::Service
            ),
            Access::OperateOrders => matches!(role, Role::Admin | Role::Operator | Role::Service),
            Access::Configure => role == Role::Admin,
        }
    }
}

/// A new random token: 32 bytes from the OS generator, hex with a recognisable prefix.
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("iom_{}", hex::encode(bytes))
}
