//! EasyPost's v2 API as data: the bodies iom sends (`POST /v2/shipments`, `POST
//! /v2/shipments/{id}/buy`), what it reads of the answers (rates, the bought label, the tracking
//! code), which rate to buy, and tracker webhooks (`tracker.updated` events). No I/O: the calls
//! themselves are `iom_app::shipping`'s.

use chrono::{DateTime, Utc};
use iom_domain::{Address, TrackingStatus};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A parcel as EasyPost measures it: inches and ounces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Parcel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
    pub weight: f64,
}

/// An EasyPost address object from an iom address.
pub fn address(a: &Address, email: Option<&str>) -> Value {
    let mut v = json!({
        "name": a.name, "company": a.company, "street1": a.line1, "street2": a.line2,
        "city": a.city, "state": a.region, "zip": a.postal_code, "country": a.country.as_str(),
        "phone": a.phone, "email": email,
    });
    if let Value::Object(map) = &mut v {
        map.retain(|_, v| !v.is_null());
    }
    v
}

/// The body of `POST /v2/shipments`: EasyPost answers with the shipment and its rates.
/// `reference` is iom's idempotency key of the purchase, kept on the carrier's side too.
pub fn create_shipment(
    from: Value,
    to: Value,
    parcel: &Parcel,
    reference: &str,
    label_format: &str,
) -> Value {
    json!({"shipment": {
        "from_address": from,
        "to_address": to,
        "parcel": parcel,
        "reference": reference,
        "options": {"label_format": label_format},
    }})
}

/// The body of `POST /v2/shipments/{id}/buy`.
pub fn buy(rate_id: &str) -> Value {
    json!({"rate": {"id": rate_id}})
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub id: String,
    pub carrier: String,
    pub service: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    pub currency: String,
    #[serde(default)]
    pub delivery_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PostageLabel {
    #[serde(default)]
    pub label_url: Option<String>,
    #[serde(default)]
    pub label_pdf_url: Option<String>,
    #[serde(default)]
    pub label_zpl_url: Option<String>,
    #[serde(default)]
    pub label_file_type: Option<String>,
}

/// An EasyPost shipment, as much of it as iom reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Shipment {
    pub id: String,
    #[serde(default)]
    pub rates: Vec<Rate>,
    #[serde(default)]
    pub selected_rate: Option<Rate>,
    #[serde(default)]
    pub postage_label: Option<PostageLabel>,
    #[serde(default)]
    pub tracking_code: Option<String>,
}

impl Shipment {
    pub fn parse(body: &[u8]) -> Result<Shipment, String> {
        serde_json::from_slice(body).map_err(|e| format!("not an EasyPost shipment: {e}"))
    }

    /// Bought: it has a label (a second buy would be refused by EasyPost).
    pub fn is_bought(&self) -> bool {
        self.postage_label.is_some()
    }
}

impl PostageLabel {
    /// Where to fetch the label in `format` (`PDF`, `ZPL`, `PNG`), and the format it has there:
    /// the format's own URL when EasyPost made one, else `label_url` in its file type.
    pub fn url(&self, format: &str) -> Option<(String, String)> {
        let own = match format.to_ascii_lowercase().as_str() {
            "pdf" => self.label_pdf_url.clone(),
            "zpl" => self.label_zpl_url.clone(),
            _ => None,
        };
        if let Some(url) = own {
            return Some((url, format.to_ascii_lowercase()));
        }
        let url = self.label_url.clone()?;
        let kind = match self.label_file_type.as_deref() {
            Some(t) if t.contains("pdf") => "pdf",
            Some(t) if t.contains("zpl") => "zpl",
            Some(t) if t.contains("png") => "png",
            _ if url.ends_with(".pdf") => "pdf",
            _ if url.ends_with(".zpl") => "zpl",
            _ => "png",
        };
        Some((url, kind.to_owned()))
    }
}

/// The media type of a label of `format`.
pub fn label_media_type(format: &str) -> &'static str {
    match format {
        "pdf" => "application/pdf",
        "zpl" => "application/zpl",
        _ => "image/png",
    }
}

/// What to buy: the service named (an order's ship method mapped through the instance's
/// settings), else the cheapest rate arriving within `max_days`, else (no rate keeps the promise)
/// the fastest, cheapest among equals. `keeps_promise` says which.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice<'a> {
    pub rate: &'a Rate,
    pub keeps_promise: bool,
}

pub fn choose<'a>(
    rates: &'a [Rate],
    service: Option<&str>,
    max_days: Option<u32>,
) -> Result<Choice<'a>, String> {
    if rates.is_empty() {
        return Err("the carrier offered no rate for this parcel".into());
    }
    if let Some(wanted) = service {
        return rates
            .iter()
            .filter(|r| {
                r.service.eq_ignore_ascii_case(wanted)
                    || format!("{} {}", r.carrier, r.service).eq_ignore_ascii_case(wanted)
            })
            .min_by_key(|r| r.rate)
            .map(|rate| Choice {
                rate,
                keeps_promise: max_days.is_none_or(|m| rate.delivery_days.is_some_and(|d| d <= m)),
            })
            .ok_or_else(|| format!("the carrier offered no rate of service {wanted:?}"));
    }
    let keeping = rates
        .iter()
        .filter(|r| max_days.is_none_or(|m| r.delivery_days.is_some_and(|d| d <= m)))
        .min_by(|a, b| (a.rate, a.delivery_days).cmp(&(b.rate, b.delivery_days)));
    if let Some(rate) = keeping {
        return Ok(Choice {
            rate,
            keeps_promise: true,
        });
    }
    let fastest = rates
        .iter()
        .min_by_key(|r| (r.delivery_days.unwrap_or(u32::MAX), r.rate))
        .expect("not empty");
    Ok(Choice {
        rate: fastest,
        keeps_promise: false,
    })
}

/// What a tracker webhook says.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerNotice {
    pub event_id: Option<String>,
    pub tracking_code: String,
    /// EasyPost's status as sent (`in_transit`, `failure`, …).
    pub carrier_status: String,
    /// What it means for the shipment; `None` for statuses that move nothing (`pre_transit`).
    pub status: Option<TrackingStatus>,
    pub detail: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// Reads an EasyPost Event. `Ok(None)`: an event of another kind (a batch, a refund), nothing to
/// do; `Err`: not an Event at all, naming the JSON path.
pub fn tracker_event(body: &[u8]) -> Result<Option<TrackerNotice>, String> {
    let event: Value =
        serde_json::from_slice(body).map_err(|e| format!("the document is not JSON: {e}"))?;
    if event.get("object").and_then(Value::as_str) != Some("Event") {
        return Err("object: must be \"Event\"".into());
    }
    let description = event
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !description.starts_with("tracker.") {
        return Ok(None);
    }
    let result = event.get("result").unwrap_or(&Value::Null);
    if result.get("object").and_then(Value::as_str) != Some("Tracker") {
        return Err("result.object: must be \"Tracker\"".into());
    }
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let tracking_code = text(result, "tracking_code")
        .filter(|t| !t.is_empty())
        .ok_or("result.tracking_code: is required")?;
    let carrier_status = text(result, "status").ok_or("result.status: is required")?;
    Ok(Some(TrackerNotice {
        event_id: text(&event, "id"),
        status: tracking_status(&carrier_status),
        detail: text(result, "status_detail"),
        at: text(result, "updated_at").and_then(|t| t.parse().ok()),
        tracking_code,
        carrier_status,
    }))
}

/// EasyPost's tracker statuses as iom follows them.
pub fn tracking_status(status: &str) -> Option<TrackingStatus> {
    match status {
        "in_transit" | "available_for_pickup" => Some(TrackingStatus::InTransit),
        "out_for_delivery" => Some(TrackingStatus::OutForDelivery),
        "delivered" => Some(TrackingStatus::Delivered),
        "failure" | "return_to_sender" | "error" | "cancelled" => Some(TrackingStatus::Exception),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(id: &str, service: &str, price: &str, days: Option<u32>) -> Rate {
        Rate {
            id: id.into(),
            carrier: "USPS".into(),
            service: service.into(),
            rate: price.parse().unwrap(),
            currency: "USD".into(),
            delivery_days: days,
        }
    }

    #[test]
    fn cheapest_rate_that_keeps_the_promise() {
        let rates = [
            rate("a", "Ground", "5.10", Some(5)),
            rate("b", "Priority", "8.20", Some(2)),
            rate("c", "Express", "25.00", Some(1)),
            rate("d", "Mystery", "1.00", None),
        ];
        assert_eq!(choose(&rates, None, Some(2)).unwrap().rate.id, "b");
        assert_eq!(choose(&rates, None, None).unwrap().rate.id, "d");
        let late = choose(&rates, None, Some(0)).unwrap();
        assert_eq!((late.rate.id.as_str(), late.keeps_promise), ("c", false));
        assert_eq!(
            choose(&rates, Some("express"), Some(5)).unwrap().rate.id,
            "c"
        );
        assert!(choose(&rates, Some("Drone"), None).is_err());
    }

    #[test]
    fn tracker_events() {
        let body = br#"{"object":"Event","id":"evt_1","description":"tracker.updated",
            "result":{"object":"Tracker","tracking_code":"9400","status":"return_to_sender"}}"#;
        let notice = tracker_event(body).unwrap().unwrap();
        assert_eq!(notice.status, Some(TrackingStatus::Exception));
        assert_eq!(notice.tracking_code, "9400");
        let other = br#"{"object":"Event","description":"batch.created","result":{}}"#;
        assert_eq!(tracker_event(other).unwrap(), None);
        assert!(tracker_event(br#"{"object":"Tracker"}"#).is_err());
    }
}
