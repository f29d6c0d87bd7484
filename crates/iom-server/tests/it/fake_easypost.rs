//! A local EasyPost: the v2 endpoints iom uses (`POST /v2/shipments`, `GET /v2/shipments/{id}`,
//! `POST /v2/shipments/{id}/buy`) with HTTP Basic authentication, realistic JSON, label files, and
//! knobs to count buys, answer slowly or be down. Shared with the CLI's crash tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};

pub const API_KEY: &str = "EZTKtest123";

#[derive(Default)]
pub struct Fake {
    /// Every request: method and path, and its JSON body.
    pub requests: Vec<(String, Value)>,
    pub shipments: HashMap<String, Value>,
    /// Buys that succeeded (the carrier charged for them).
    pub buys: usize,
    /// How long a buy waits *after* buying before it answers.
    pub buy_delay: Duration,
    /// How long rates take.
    pub rates_delay: Duration,
    /// Every endpoint answers 503.
    pub down: bool,
    next: usize,
}

#[derive(Clone)]
pub struct FakeEasyPost {
    pub url: String,
    pub state: Arc<Mutex<Fake>>,
}

impl FakeEasyPost {
    pub async fn start() -> FakeEasyPost {
        let state = Arc::new(Mutex::new(Fake::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v2/shipments", post(create))
            .route("/v2/shipments/{id}", get(retrieve))
            .route("/v2/shipments/{id}/buy", post(buy))
            .route("/labels/{file}", get(label))
            .route("/v2/addresses", get(addresses))
            .with_state((state.clone(), url.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeEasyPost { url, state }
    }

    pub fn buys(&self) -> usize {
        self.state.lock().unwrap().buys
    }

    pub fn requests(&self, prefix: &str) -> Vec<(String, Value)> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .cloned()
            .collect()
    }

    pub fn set(&self, f: impl FnOnce(&mut Fake)) {
        f(&mut self.state.lock().unwrap());
    }
}

type Shared = (Arc<Mutex<Fake>>, String);

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message, "errors": []}})),
    )
        .into_response()
}

/// EasyPost's Basic authentication: the API key as the user, no password.
fn authorised(headers: &HeaderMap) -> bool {
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{API_KEY}:"));
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {expected}"))
}

fn guard(fake: &Fake, headers: &HeaderMap) -> Option<Response> {
    if fake.down {
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE.UNAVAILABLE",
            "down",
        ));
    }
    if !authorised(headers) {
        return Some(error(
            StatusCode::UNAUTHORIZED,
            "APIKEY.REQUIRED",
            "API key required",
        ));
    }
    None
}

const RATES: &[(&str, &str, &str, u32)] = &[
    ("USPS", "First", "4.10", 5),
    ("USPS", "Priority", "7.90", 2),
    ("UPS", "Ground", "9.50", 3),
    ("USPS", "Express", "26.35", 1),
];

/// `GET /v2/addresses`: the account's saved addresses (none here), as EasyPost lists them.
async fn addresses(State((state, _)): State<Shared>, headers: HeaderMap) -> Response {
    let mut fake = state.lock().unwrap();
    fake.requests
        .push(("GET /v2/addresses".into(), Value::Null));
    if let Some(refused) = guard(&fake, &headers) {
        return refused;
    }
    axum::Json(json!({"addresses": [], "has_more": false})).into_response()
}

async fn create(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    let delay = {
        let mut fake = state.lock().unwrap();
        fake.requests
            .push(("POST /v2/shipments".into(), body.0.clone()));
        if let Some(refused) = guard(&fake, &headers) {
            return refused;
        }
        fake.rates_delay
    };
    tokio::time::sleep(delay).await;
    let s = &body.0["shipment"];
    for field in ["to_address", "from_address", "parcel"] {
        if !s[field].is_object() {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "PARAMETER.REQUIRED",
                &format!("shipment.{field} is required"),
            );
        }
    }
    if !s["parcel"]["weight"].is_number() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "PARAMETER.REQUIRED",
            "parcel.weight is required",
        );
    }
    let mut fake = state.lock().unwrap();
    fake.next += 1;
    let id = format!("shp_{:032x}", fake.next);
    let rates: Vec<Value> = RATES
        .iter()
        .enumerate()
        .map(|(i, (carrier, service, rate, days))| {
            json!({"id": format!("rate_{}_{i}", fake.next), "object": "Rate", "mode": "test",
                   "shipment_id": id, "carrier": carrier, "service": service, "rate": rate,
                   "currency": "USD", "retail_rate": null, "list_rate": rate,
                   "delivery_days": days, "delivery_date": null, "delivery_date_guaranteed": false,
                   "est_delivery_days": days, "carrier_account_id": "ca_1"})
        })
        .collect();
    let shipment = json!({
        "id": id, "object": "Shipment", "mode": "test", "reference": s["reference"],
        "to_address": s["to_address"], "from_address": s["from_address"],
        "parcel": s["parcel"], "options": s["options"], "rates": rates,
        "selected_rate": null, "postage_label": null, "tracking_code": null, "tracker": null,
        "status": "unknown", "messages": [],
    });
    fake.shipments.insert(id, shipment.clone());
    (StatusCode::CREATED, axum::Json(shipment)).into_response()
}

async fn retrieve(
    State((state, _)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let mut fake = state.lock().unwrap();
    fake.requests
        .push((format!("GET /v2/shipments/{id}"), Value::Null));
    if let Some(refused) = guard(&fake, &headers) {
        return refused;
    }
    match fake.shipments.get(&id) {
        Some(s) => axum::Json(s.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "NOT_FOUND", "shipment not found"),
    }
}

async fn buy(
    State((state, url)): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::Json<Value>,
) -> Response {
    let (bought, delay) = {
        let mut fake = state.lock().unwrap();
        fake.requests
            .push((format!("POST /v2/shipments/{id}/buy"), body.0.clone()));
        if let Some(refused) = guard(&fake, &headers) {
            return refused;
        }
        let n = fake.buys + 1;
        let Some(shipment) = fake.shipments.get_mut(&id) else {
            return error(StatusCode::NOT_FOUND, "NOT_FOUND", "shipment not found");
        };
        if !shipment["postage_label"].is_null() {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.POSTAGE.EXISTS",
                "Shipment already has postage",
            );
        }
        let rate_id = body.0["rate"]["id"].as_str().unwrap_or_default();
        let Some(rate) = shipment["rates"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == rate_id)
            .cloned()
        else {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "SHIPMENT.RATE.INVALID",
                "rate not found",
            );
        };
        let tracking = format!("94001000000000000000{n:04}");
        let format = shipment["options"]["label_format"]
            .as_str()
            .unwrap_or("PNG")
            .to_ascii_lowercase();
        let mut label = json!({
            "object": "PostageLabel", "label_url": format!("{url}/labels/{id}.png"),
            "label_file_type": "image/png", "label_pdf_url": null, "label_zpl_url": null,
        });
        if format == "pdf" || format == "zpl" {
            label[format!("label_{format}_url")] = json!(format!("{url}/labels/{id}.{format}"));
        }
        shipment["selected_rate"] = rate;
        shipment["postage_label"] = label;
        shipment["tracking_code"] = json!(tracking);
        shipment["tracker"] = json!({"id": format!("trk_{n}"), "object": "Tracker",
            "tracking_code": tracking, "status": "pre_transit"});
        shipment["status"] = json!("unknown");
        let bought = shipment.clone();
        fake.buys = n;
        (bought, fake.buy_delay)
    };
    // Bought and charged: the answer comes later (or never, if the caller dies meanwhile).
    tokio::time::sleep(delay).await;
    axum::Json(bought).into_response()
}

async fn label(Path(file): Path<String>) -> Response {
    let media = match file.rsplit('.').next() {
        Some("pdf") => "application/pdf",
        Some("zpl") => "application/zpl",
        _ => "image/png",
    };
    let body = match media {
        "application/pdf" => format!("%PDF-1.4 label {file}").into_bytes(),
        "application/zpl" => format!("^XA^FD{file}^FS^XZ").into_bytes(),
        _ => b"\x89PNG\r\n\x1a\n".to_vec(),
    };
    ([(axum::http::header::CONTENT_TYPE, media)], body).into_response()
}

/// A tracker webhook as EasyPost sends it.
pub fn tracker_event(event_id: &str, tracking: &str, status: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "Event", "id": event_id, "mode": "test", "description": "tracker.updated",
        "previous_attributes": {"status": "pre_transit"}, "pending_urls": [], "completed_urls": [],
        "created_at": "2026-12-07T12:00:00Z", "updated_at": "2026-12-07T12:00:00Z",
        "result": {"object": "Tracker", "id": "trk_1", "mode": "test", "tracking_code": tracking,
                   "status": status, "status_detail": "arrived_at_facility", "carrier": "USPS",
                   "tracking_details": [], "updated_at": "2026-12-07T12:00:00Z"},
    }))
    .unwrap()
}
