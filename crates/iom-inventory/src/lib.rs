//! The inventory engine: how changes move on-hand, whether a reservation fits, what can be
//! promised on each day (`engine`), and how feeds' change batches read (`request`). No I/O: the
//! application layer (`iom_app::inventory`) runs these decisions inside store transactions.

pub mod engine;
pub mod request;

pub use engine::{AtpDay, Change, ChangeKind, Position};
