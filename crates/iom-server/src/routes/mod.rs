pub mod events;
pub mod health;
pub mod inventory;
pub mod orders;
