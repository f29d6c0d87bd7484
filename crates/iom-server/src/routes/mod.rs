pub mod events;
pub mod health;
pub mod orders;
pub mod providers;
pub mod subscriptions;
