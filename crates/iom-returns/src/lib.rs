//! Returns, the whole path: authorisation (eligibility judged by `iom-domain`), where to return
//! (the nearest node that accepts returns, by `iom-dom`'s great-circle distance), receipt with
//! disposition (restocked units go on-hand through the inventory ledger in the same transaction),
//! refund, close, cancel, exchanges, and refunds a channel reports (Shopify).
//!
//! Each operation is one store transaction: the return, its order's return figures, the stock put
//! back, the exchange order and the events announcing all of it commit together or not at all.
//! The `*_in` functions take the caller's transaction, so the provider pipeline applies a
//! channel's refund in the transaction that logs the document.

pub mod channel;
pub mod locate;
pub mod service;

pub use service::{Authorized, RefundRequest, Returns};

/// The return flow (type `return`), for the flow executor to run once it drives return flows.
pub const RETURN_FLOW: &str = include_str!("../flows/return.yaml");
