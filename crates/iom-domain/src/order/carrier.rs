//! Shipments whose label iom bought from a carrier, and what the carrier's tracker says of them.
//!
//! A bought label is a shipment made: the parcel's lines count as shipped from the moment its
//! label exists (the node prints it and hands the parcel over), so the order is `shipped` or
//! `partially_shipped` at once. Tracking then moves the shipment's own `tracking_status`, and
//! `delivered` records the delivery of the shipment's lines as `POST /orders/{id}/deliveries`
//! does.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{LineQuantityRequest, Order, ShipmentRequest};
use crate::{DomainError, EventDraft};

/// What iom bought for a shipment: the carrier's service, its price and the label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShipmentLabel {
    /// The carrier instance (provider) the label was bought through.
    pub provider: String,
    /// The shipment's id at the carrier service (EasyPost `shp_…`).
    pub carrier_shipment_id: String,
    pub service: String,
    #[schema(value_type = String)]
    pub cost: Decimal,
    pub currency: String,
    /// The service's transit time in days, as the carrier quoted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_days: Option<u32>,
    /// The label's file format: `pdf`, `zpl` or `png`.
    pub format: String,
    /// When the lines were promised to arrive (the earliest promise among them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_delivery_at: Option<DateTime<Utc>>,
}

/// Where a parcel is, as iom follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackingStatus {
    InTransit,
    OutForDelivery,
    Delivered,
    /// The carrier could not deliver (a failure, a return to sender): someone has to act.
    Exception,
}

impl TrackingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TrackingStatus::InTransit => "in_transit",
            TrackingStatus::OutForDelivery => "out_for_delivery",
            TrackingStatus::Delivered => "delivered",
            TrackingStatus::Exception => "exception",
        }
    }

    /// How far along the way: a tracker event that arrives late (in transit after out for
    /// delivery) does not move a parcel back.
    fn progress(self) -> u8 {
        match self {
            TrackingStatus::InTransit | TrackingStatus::Exception => 1,
            TrackingStatus::OutForDelivery => 2,
            TrackingStatus::Delivered => 3,
        }
    }

    /// The business event announcing this status: `shipment.in_transit`, …, `shipment.exception`.
    pub fn event_type(self) -> String {
        format!("shipment.{}", self.as_str())
    }
}

impl std::fmt::Display for TrackingStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Order {
    /// Records a shipment whose label was bought: as [`Order::record_shipment`], with the label
    /// and under `reference` (the purchase's idempotency key), so that recording the same
    /// purchase again ships nothing more.
    pub fn record_labelled_shipment(
        &mut self,
        request: ShipmentRequest,
        label: ShipmentLabel,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if self.shipment_by_reference(reference).is_some() {
            return Ok(Vec::new());
        }
        self.record_shipment_as(request, Some(reference.to_owned()), Some(label), now)
    }

    /// Applies what a carrier's tracker says of shipment `shipment_id`. The same status again,
    /// anything after `delivered`, and a status behind the one known change nothing. `delivered`
    /// records the delivery of the shipment's lines not delivered yet.
    pub fn track_shipment(
        &mut self,
        shipment_id: &str,
        status: TrackingStatus,
        detail: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let Some(index) = self.shipments.iter().position(|s| s.id == shipment_id) else {
            return Err(DomainError::invalid(
                "shipment_id",
                format!("the order has no shipment {shipment_id}"),
            ));
        };
        let current = self.shipments[index].tracking_status;
        let stale = match current {
            None => false,
            Some(TrackingStatus::Delivered) => true,
            Some(known) => {
                known == status
                    || (status != TrackingStatus::Exception && status.progress() < known.progress())
            }
        };
        if stale {
            return Ok(Vec::new());
        }
        let mut next = self.clone();
        let mut events = next.change(now, |order, events| {
            let shipment = &mut order.shipments[index];
            shipment.tracking_status = Some(status);
            if status == TrackingStatus::Delivered {
                shipment.delivered_at = Some(now);
            }
            let data = json!({
                "shipment_id": shipment.id, "node": shipment.node, "carrier": shipment.carrier,
                "tracking": shipment.tracking, "status": status, "previous": current,
                "detail": detail,
            });
            events.push(order.event(&status.event_type(), data));
            Ok(())
        })?;
        if status == TrackingStatus::Delivered {
            let lines: Vec<LineQuantityRequest> = next.shipments[index]
                .lines
                .iter()
                .filter_map(|lq| {
                    let line = next.line(lq.line_no)?;
                    let open = line.shipped_quantity - line.delivered_quantity;
                    let quantity = lq.quantity.min(open);
                    (quantity > 0).then(|| LineQuantityRequest {
                        line_no: Some(i64::from(lq.line_no)),
                        quantity: Some(i64::from(quantity)),
                    })
                })
                .collect();
            // Delivered already by hand (`POST /deliveries`): the status is all that is new.
            if !lines.is_empty() {
                events.extend(next.record_delivery(Some(lines), now)?);
            }
        }
        *self = next;
        Ok(events)
    }

    /// The shipment that carries tracking code `tracking`, if any.
    pub fn shipment_by_tracking(&self, tracking: &str) -> Option<&super::Shipment> {
        self.shipments
            .iter()
            .find(|s| s.tracking.as_deref() == Some(tracking))
    }
}
