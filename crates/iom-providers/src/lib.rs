//! The inbound half of iom's data pipeline: parsers that turn what channels send into the
//! canonical [`iom_domain::OrderIntake`] (and, for shipment confirmations, into
//! [`shipment::ShipmentNotice`]). Pure library: no HTTP, no database; the server feeds it raw
//! documents and stores what comes out.
//!
//! - [`x12`]: ANSI X12 EDI (850 in; 856, 945 shipment confirmations in; 997 acknowledgements out).
//! - [`shipment`]: the canonical shipment confirmation.

pub mod jq;
pub mod shipment;
pub mod x12;
