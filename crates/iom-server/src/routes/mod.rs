pub mod events;
pub mod health;
pub mod orders;
