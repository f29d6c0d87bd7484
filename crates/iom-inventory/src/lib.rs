//! Inventory visibility. `engine` decides (no I/O): how changes move on-hand, whether a reservation
//! fits, what can be promised on each day. `service` runs those decisions inside store transactions,
//! so a balance, its ledger lines, the reservations and the events announcing them commit together.

pub mod engine;
pub mod request;
pub mod service;

pub use engine::{AtpDay, Change, ChangeKind, Position};
pub use service::Inventory;
