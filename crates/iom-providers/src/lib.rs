//! The inbound half of iom's data pipeline: parsers that turn what channels send into the
//! canonical [`iom_domain::OrderIntake`] (and, for shipment confirmations, into
//! [`shipment::ShipmentNotice`]), and the value mappings that translate a source's codes into
//! iom's. A pure library, with no HTTP and no database: the server hands it raw documents and
//! stores what comes out, so every parser can be tested against real documents alone.
//!
//! - [`x12`]: ANSI X12 EDI: 850 purchase orders in, 856 and 945 shipment confirmations in, 997
//!   functional acknowledgements out.
//! - [`jq`]: jq transformations, with default programs for Shopify, BigCommerce and Amazon.
//! - [`csv`]: orders from spreadsheets, one row per line.
//! - [`ubl`]: UBL 2.1 Order XML.
//! - [`mapping`]: value mappings per provider instance.
//! - [`types`]: the built-in provider types as definitions.
//! - [`inbound`]: a raw document to orders, shipments and a 997, for one instance.
//! - [`shopify`]: Shopify webhooks by topic (`X-Shopify-Topic`).
//! - [`secrets`]: connection secrets sealed at rest, and HMAC signatures.
//! - [`avatax`]: AvaTax's transaction documents and answers.
//! - [`stripe`]: Stripe's PaymentIntents bodies and answers, and what a shipment captures.
//! - [`notify`]: notification templates (MiniJinja), checked when saved and rendered per event.
//!
//! Parsers do not validate business rules; their output goes through
//! [`iom_domain::OrderIntake::validate`] like any order posted to the API, so a document from a
//! file and an API call are judged the same way.

pub mod avatax;
pub mod csv;
pub mod easypost;
pub mod inbound;
pub mod jq;
pub mod mapping;
pub mod notify;
pub mod refund;
pub mod secrets;
pub mod shipment;
pub mod shopify;
pub mod stripe;
pub mod types;
pub mod ubl;
pub mod x12;

pub use mapping::{Mappings, UnmappedValues};
pub use refund::{RefundNotice, RefundNoticeLine};
pub use shipment::{ShipmentLine, ShipmentNotice};
