pub mod events;
pub mod fulfillment;
pub mod health;
pub mod inventory;
pub mod nodes;
pub mod orders;
pub mod providers;
pub mod subscriptions;
