//! The canonical shipment confirmation: what a warehouse, 3PL or drop-ship vendor reports as
//! shipped, whatever format it came in (X12 856 or 945 today). One notice covers one order, so
//! that the order's shipment (`POST /api/v1/orders/{id}/shipments`) can be recorded from it
//! directly once `order_ref` is resolved to an order.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentNotice {
    /// The order the shipment belongs to, as the partner knows it: for an 856 the PO number
    /// (PRF01), for a 945 the depositor's order number (W0602, which carries the order number iom
    /// sent in its 940).
    pub order_ref: String,
    /// The customer's purchase order number when the document carries one apart from
    /// `order_ref` (945 W0606); for an 856 the same as `order_ref`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_order: Option<String>,
    /// The partner's id of the shipment (856 BSN02, 945 W0604), useful to recognise a resend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    /// Where the goods left from, as the partner names it (its ship-from code or name); the
    /// provider's node mapping turns it into an iom node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub lines: Vec<ShipmentLine>,
    /// Carrier code, usually a SCAC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_date: Option<NaiveDate>,
    /// Everything else worth keeping (bill of lading, container serial numbers, …).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    /// The order line, when the partner echoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_no: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}
