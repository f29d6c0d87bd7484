//! A local Stripe: the PaymentIntents endpoints iom uses (`POST /v1/payment_intents`, `…/capture`,
//! `…/cancel`, `POST /v1/refunds`) with Bearer authentication, form-encoded bodies checked field
//! by field, and idempotency as Stripe documents it: a request repeated under the same
//! `Idempotency-Key` gets the first answer back and moves no money; the same key with other
//! parameters is refused. Knobs to be down, or to answer only well after acting. Shared with the
//! CLI's crash tests.
//!
//! Authorisations lapse as Stripe's do: the charge (`expand[]=latest_charge`) says when in
//! `payment_method_details.card.capture_before`; a capture of an authorisation that lapsed
//! (`capture_window` in the past, or [`FakeStripe::expire`]) fails with
//! `charge_expired_for_capture` and leaves the PaymentIntent `canceled`. Without multicapture
//! (`multicapture: false`) a partial capture lets the rest go, and the next capture finds the
//! PaymentIntent `succeeded`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const SECRET_KEY: &str = "sk_test_iom123";

/// A request as received: path, form fields, and its idempotency key.
#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub form: Vec<(String, String)>,
    pub key: Option<String>,
}

impl Request {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub struct Fake {
    pub requests: Vec<Request>,
    pub intents: HashMap<String, Value>,
    pub refunds: Vec<Value>,
    /// Minor units moved for real (not replays): captured in all, refunded in all.
    pub captured: i64,
    pub refunded: i64,
    /// Requests that acted (not replays), by path prefix kind: `create`, `capture`, `cancel`,
    /// `refund`.
    pub acted: HashMap<&'static str, usize>,
    /// Every endpoint answers 503 (Stripe's `api_error`), acting on nothing.
    pub down: bool,
    /// How long a request waits *after* acting before it answers.
    pub answer_delay: Duration,
    /// How long a new authorisation may be captured (Stripe: about seven days for cards);
    /// `None`: seven days.
    pub capture_window: Option<chrono::Duration>,
    /// The card allows several captures of one authorisation; `None`: it does.
    pub no_multicapture: bool,
    /// Every new authorisation is declined.
    pub decline_all: bool,
    /// PaymentIntents whose authorisation lapsed.
    pub expired: std::collections::HashSet<String>,
    /// When each PaymentIntent's authorisation lapses (its charge's `capture_before`).
    capture_before: HashMap<String, i64>,
    /// Answers stored by idempotency key.
    replies: HashMap<String, Reply>,
    next: usize,
}

#[derive(Clone)]
pub struct FakeStripe {
    pub url: String,
    pub state: Arc<Mutex<Fake>>,
}

impl FakeStripe {
    pub async fn start() -> FakeStripe {
        let state = Arc::new(Mutex::new(Fake::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/v1/payment_intents", post(create))
            .route("/v1/payment_intents/{id}/capture", post(capture))
            .route("/v1/payment_intents/{id}/cancel", post(cancel))
            .route("/v1/refunds", post(refund))
            .route("/v1/balance", axum::routing::get(balance))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeStripe { url, state }
    }

    pub fn set(&self, f: impl FnOnce(&mut Fake)) {
        f(&mut self.state.lock().unwrap());
    }

    pub fn requests(&self, prefix: &str) -> Vec<Request> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.path.starts_with(prefix))
            .cloned()
            .collect()
    }

    pub fn acted(&self, kind: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .acted
            .get(kind)
            .copied()
            .unwrap_or(0)
    }

    pub fn captured(&self) -> i64 {
        self.state.lock().unwrap().captured
    }

    pub fn refunded(&self) -> i64 {
        self.state.lock().unwrap().refunded
    }

    /// The authorisation of `intent` lapses now.
    pub fn expire(&self, intent: &str) {
        self.state.lock().unwrap().expired.insert(intent.to_owned());
    }

    /// Every PaymentIntent, oldest first.
    pub fn intents(&self) -> Vec<Value> {
        let fake = self.state.lock().unwrap();
        let mut all: Vec<Value> = fake.intents.values().cloned().collect();
        all.sort_by_key(|i| i["id"].as_str().unwrap().to_owned());
        all
    }

    pub fn intent(&self) -> Value {
        let fake = self.state.lock().unwrap();
        assert_eq!(fake.intents.len(), 1, "one PaymentIntent");
        fake.intents.values().next().unwrap().clone()
    }
}

type Shared = Arc<Mutex<Fake>>;

/// What a key was first used with (path and form) and what it was answered (status, body).
type Reply = (String, Vec<(String, String)>, u16, Value);

fn error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> (u16, Value) {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    (status.as_u16(), json!({"error": error}))
}

fn invalid(param: &str, message: &str) -> (u16, Value) {
    let (status, mut body) = error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("parameter_invalid"),
        message,
    );
    body["error"]["param"] = json!(param);
    (status, body)
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn positive(form: &[(String, String)], name: &str) -> Result<i64, (u16, Value)> {
    field(form, name)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .ok_or_else(|| invalid(name, &format!("{name} must be a positive integer")))
}

/// What every request goes through: the log, being down, the key, the idempotency replay. Then
/// `act` runs (under the lock, so a key is acted on once), its answer is stored under the key,
/// and sent after `answer_delay`.
async fn handle(
    state: Shared,
    headers: HeaderMap,
    path: String,
    form: Vec<(String, String)>,
    kind: &'static str,
    act: impl FnOnce(&mut Fake, &[(String, String)]) -> (u16, Value),
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (status, body, delay) = {
        let mut fake = state.lock().unwrap();
        fake.requests.push(Request {
            path: path.clone(),
            form: form.clone(),
            key: key.clone(),
        });
        let bearer = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {SECRET_KEY}"));
        let (status, body) = if fake.down {
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                None,
                "temporarily unavailable",
            )
        } else if !bearer {
            error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                None,
                "Invalid API Key provided",
            )
        } else if let Some(key) = key.as_deref() {
            match fake.replies.get(key).cloned() {
                Some((p, f, status, body)) if p == path && f == form => (status, body),
                Some(_) => error(
                    StatusCode::BAD_REQUEST,
                    "idempotency_error",
                    None,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with.",
                ),
                None => {
                    let (status, body) = act(&mut fake, &form);
                    if status < 500 {
                        *fake.acted.entry(kind).or_default() += usize::from(status < 300);
                        fake.replies
                            .insert(key.to_owned(), (path.clone(), form, status, body.clone()));
                    }
                    (status, body)
                }
            }
        } else {
            // Stripe takes POSTs without a key; iom must never send one without.
            invalid("Idempotency-Key", "iom must send an Idempotency-Key")
        };
        (status, body, fake.answer_delay)
    };
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

/// `GET /v1/balance`: the account's balance, as Stripe answers it for a test-mode key; a read,
/// so no idempotency key. A wrong key gets Stripe's 401 with the key redacted.
async fn balance(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut fake = state.lock().unwrap();
    fake.requests.push(Request {
        path: "/v1/balance".into(),
        form: Vec::new(),
        key: None,
    });
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (status, body) = if fake.down {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            None,
            "temporarily unavailable",
        )
    } else if given != SECRET_KEY {
        let shown: String = given
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            &format!("Invalid API Key provided: sk_test_****{shown}"),
        )
    } else {
        let captured = fake.captured - fake.refunded;
        (
            200,
            json!({
                "object": "balance",
                "available": [{"amount": captured, "currency": "usd", "source_types": {"card": captured}}],
                "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
                "livemode": false,
            }),
        )
    };
    (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response()
}

async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    handle(
        state,
        headers,
        "/v1/payment_intents".into(),
        form,
        "create",
        |fake, form| {
            let amount = match positive(form, "amount") {
                Ok(a) => a,
                Err(e) => return e,
            };
            let currency = field(form, "currency").unwrap_or_default();
            if currency.len() != 3 || currency != currency.to_ascii_lowercase() {
                return invalid("currency", "currency must be a lowercase ISO code");
            }
            if field(form, "capture_method") != Some("manual") {
                return invalid("capture_method", "iom authorises with manual capture");
            }
            if field(form, "confirm") != Some("true") {
                return invalid("confirm", "iom confirms at creation");
            }
            let Some(method) = field(form, "payment_method") else {
                return invalid("payment_method", "payment_method is required to confirm");
            };
            fake.next += 1;
            let id = format!("pi_{:024}", fake.next);
            if method == "pm_card_chargeDeclined" || fake.decline_all {
                let (status, mut body) = error(
                    StatusCode::PAYMENT_REQUIRED,
                    "card_error",
                    Some("card_declined"),
                    "Your card was declined.",
                );
                body["error"]["decline_code"] = json!("generic_decline");
                return (status, body);
            }
            let window = fake
                .capture_window
                .unwrap_or_else(|| chrono::Duration::days(7));
            let capture_before = (chrono::Utc::now() + window).timestamp();
            let charge = json!({
                "id": format!("ch_{:024}", fake.next), "object": "charge", "amount": amount,
                "payment_method_details": {"type": "card", "card": {
                    "capture_before": capture_before,
                    "multicapture": {"status": if fake.no_multicapture { "unavailable" } else { "available" }},
                }},
            });
            let mut intent = json!({
                "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": amount,
                "amount_received": 0, "currency": currency, "capture_method": "manual",
                "status": "requires_capture", "payment_method": method,
                "latest_charge": charge["id"],
                "metadata": {"order_id": field(form, "metadata[order_id]"),
                             "renews": field(form, "metadata[renews]")},
            });
            fake.capture_before.insert(id.clone(), capture_before);
            fake.intents.insert(id, intent.clone());
            let expanded = form
                .iter()
                .any(|(k, v)| k == "expand[]" && v == "latest_charge");
            if expanded {
                intent["latest_charge"] = charge;
            }
            (200, intent)
        },
    )
    .await
}

async fn capture(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/capture");
    handle(state, headers, path, form, "capture", move |fake, form| {
        let amount = match positive(form, "amount_to_capture") {
            Ok(a) => a,
            Err(e) => return e,
        };
        let last = field(form, "final_capture") != Some("false") || fake.no_multicapture;
        let lapsed = fake.expired.contains(&id)
            || fake
                .capture_before
                .get(&id)
                .is_some_and(|t| *t <= chrono::Utc::now().timestamp());
        let Some(intent) = fake.intents.get_mut(&id) else {
            return error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                "No such payment_intent",
            );
        };
        if lapsed && intent["status"] == "requires_capture" {
            intent["status"] = json!("canceled");
            intent["amount_capturable"] = json!(0);
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("charge_expired_for_capture"),
                "The charge has expired and can no longer be captured.",
            );
        }
        if intent["status"] != "requires_capture" {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("payment_intent_unexpected_state"),
                "This PaymentIntent could not be captured because it has a status of succeeded.",
            );
        }
        let capturable = intent["amount_capturable"].as_i64().unwrap();
        if amount > capturable {
            return invalid(
                "amount_to_capture",
                "amount_to_capture is greater than the amount capturable",
            );
        }
        let received = intent["amount_received"].as_i64().unwrap() + amount;
        intent["amount_received"] = json!(received);
        if last {
            intent["amount_capturable"] = json!(0);
            intent["status"] = json!("succeeded");
        } else {
            intent["amount_capturable"] = json!(capturable - amount);
        }
        let answer = intent.clone();
        fake.captured += amount;
        (200, answer)
    })
    .await
}

async fn cancel(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let path = format!("/v1/payment_intents/{id}/cancel");
    handle(state, headers, path, form, "cancel", move |fake, _| {
        let Some(intent) = fake.intents.get_mut(&id) else {
            return error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("resource_missing"),
                "No such payment_intent",
            );
        };
        if intent["status"] != "requires_capture" {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                Some("payment_intent_unexpected_state"),
                "You cannot cancel this PaymentIntent because it has a status of succeeded.",
            );
        }
        intent["status"] = json!("canceled");
        intent["amount_capturable"] = json!(0);
        (200, intent.clone())
    })
    .await
}

async fn refund(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    handle(
        state,
        headers,
        "/v1/refunds".into(),
        form,
        "refund",
        |fake, form| {
            let amount = match positive(form, "amount") {
                Ok(a) => a,
                Err(e) => return e,
            };
            let Some(intent) = field(form, "payment_intent").and_then(|id| fake.intents.get(id))
            else {
                return invalid("payment_intent", "No such payment_intent");
            };
            let pi = intent["id"].clone();
            let received = intent["amount_received"].as_i64().unwrap();
            let before: i64 = fake
                .refunds
                .iter()
                .filter(|r| r["payment_intent"] == pi)
                .map(|r| r["amount"].as_i64().unwrap())
                .sum();
            if before + amount > received {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    Some("charge_exceeds_source_limit"),
                    "Refund amount is greater than unrefunded amount on charge",
                );
            }
            fake.next += 1;
            let refund = json!({"id": format!("re_{:024}", fake.next), "object": "refund",
            "amount": amount, "payment_intent": pi, "status": "succeeded"});
            fake.refunds.push(refund.clone());
            fake.refunded += amount;
            (200, refund)
        },
    )
    .await
}
