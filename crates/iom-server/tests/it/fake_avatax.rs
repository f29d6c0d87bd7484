//! A local AvaTax: `POST /api/v2/transactions/create`, `…/createoradjust` (the document under
//! its code made, or made again in its place) and a document's `commit`, `void` and `adjust`,
//! with HTTP Basic authentication (account id and licence key) and the body checked as AvaTax
//! documents it. Every line is taxed at 10 % of its amount (a return's negative amounts give
//! negative tax).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use rust_decimal::Decimal;
use serde_json::{Value, json};

pub const ACCOUNT: &str = "2000123456";
pub const LICENSE: &str = "ABCDEF0123456789";
pub const COMPANY: &str = "IOMTEST";

#[derive(Default)]
pub struct Fake {
    /// Every request: path and JSON body.
    pub requests: Vec<(String, Value)>,
    /// Documents by code.
    pub documents: HashMap<String, Value>,
    pub down: bool,
}

#[derive(Clone)]
pub struct FakeAvaTax {
    pub url: String,
    pub state: Arc<Mutex<Fake>>,
}

impl FakeAvaTax {
    pub async fn start() -> FakeAvaTax {
        let state = Arc::new(Mutex::new(Fake::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/api/v2/transactions/create", post(create))
            .route(
                "/api/v2/transactions/createoradjust",
                post(create_or_adjust),
            )
            .route(
                "/api/v2/companies/{company}/transactions/{code}/{action}",
                post(act),
            )
            .route("/api/v2/utilities/ping", axum::routing::get(ping))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeAvaTax { url, state }
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

    pub fn document(&self, code: &str) -> Option<Value> {
        self.state.lock().unwrap().documents.get(code).cloned()
    }

    pub fn set(&self, f: impl FnOnce(&mut Fake)) {
        f(&mut self.state.lock().unwrap());
    }
}

type Shared = Arc<Mutex<Fake>>;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message, "details": []}})),
    )
        .into_response()
}

fn guard(fake: &Fake, headers: &HeaderMap) -> Option<Response> {
    if fake.down {
        return Some(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "down",
        ));
    }
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{LICENSE}"));
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Basic {expected}"));
    (!ok).then(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationException",
            "Authentication failed.",
        )
    })
}

/// The document AvaTax keeps: each line taxed at 10 % of its amount.
fn document(body: &Value) -> Result<Value, String> {
    for field in ["type", "companyCode", "date", "customerCode", "code"] {
        if !body[field].is_string() {
            return Err(format!("{field} is required"));
        }
    }
    if body["companyCode"] != COMPANY {
        return Err("companyCode is not a company of this account".into());
    }
    for end in ["shipFrom", "shipTo"] {
        if !body["addresses"][end].is_object() {
            return Err(format!("addresses.{end} is required"));
        }
    }
    let mut total = Decimal::ZERO;
    let mut lines = Vec::new();
    for line in body["lines"].as_array().ok_or("lines is required")? {
        let amount: Decimal = line["amount"]
            .as_number()
            .ok_or("lines[].amount is required")?
            .to_string()
            .parse()
            .map_err(|_| "lines[].amount is not a number")?;
        let tax = (amount / Decimal::TEN).round_dp(2);
        total += tax;
        let tax: Value = serde_json::from_str(&tax.to_string()).unwrap();
        lines.push(
            json!({"lineNumber": line["number"], "quantity": line["quantity"],
                          "lineAmount": line["amount"], "tax": tax}),
        );
    }
    let status = if body["commit"] == true {
        "Committed"
    } else {
        "Saved"
    };
    let total: Value = serde_json::from_str(&total.to_string()).unwrap();
    Ok(
        json!({"id": 1, "code": body["code"], "companyId": 1, "type": body["type"],
              "status": status, "totalTax": total, "lines": lines}),
    )
}

/// `GET /api/v2/utilities/ping`: AvaTax answers 200 to anyone and says in `authenticated`
/// whether the credentials sent are an account's.
async fn ping(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut fake = state.lock().unwrap();
    fake.requests
        .push(("/api/v2/utilities/ping".into(), Value::Null));
    if fake.down {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "down",
        );
    }
    let authenticated = guard(&fake, &headers).is_none();
    let mut body = json!({
        "version": "24.6.0",
        "authenticated": authenticated,
        "authenticationType": if authenticated { "AccountIdLicenseKey" } else { "None" },
    });
    if authenticated {
        body["authenticatedAccountId"] = json!(ACCOUNT.parse::<i64>().unwrap());
    }
    axum::Json(body).into_response()
}

async fn create(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    let mut fake = state.lock().unwrap();
    fake.requests
        .push(("/api/v2/transactions/create".into(), body.0.clone()));
    if let Some(refused) = guard(&fake, &headers) {
        return refused;
    }
    match document(&body.0) {
        Ok(doc) => {
            let code = doc["code"].as_str().unwrap().to_owned();
            fake.documents.insert(code, doc.clone());
            (StatusCode::CREATED, axum::Json(doc)).into_response()
        }
        Err(m) => error(StatusCode::BAD_REQUEST, "InvalidDocument", &m),
    }
}

async fn create_or_adjust(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::Json<Value>,
) -> Response {
    let mut fake = state.lock().unwrap();
    fake.requests
        .push(("/api/v2/transactions/createoradjust".into(), body.0.clone()));
    if let Some(refused) = guard(&fake, &headers) {
        return refused;
    }
    match document(&body.0["createTransactionModel"]) {
        Ok(doc) => {
            let code = doc["code"].as_str().unwrap().to_owned();
            fake.documents.insert(code, doc.clone());
            (StatusCode::CREATED, axum::Json(doc)).into_response()
        }
        Err(m) => error(StatusCode::BAD_REQUEST, "InvalidDocument", &m),
    }
}

async fn act(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((company, code, action)): Path<(String, String, String)>,
    body: axum::Json<Value>,
) -> Response {
    let mut fake = state.lock().unwrap();
    fake.requests.push((
        format!("/api/v2/companies/{company}/transactions/{code}/{action}"),
        body.0.clone(),
    ));
    if let Some(refused) = guard(&fake, &headers) {
        return refused;
    }
    if company != COMPANY {
        return error(
            StatusCode::NOT_FOUND,
            "EntityNotFoundError",
            "no such company",
        );
    }
    let Some(doc) = fake.documents.get(&code).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "EntityNotFoundError",
            "no such document",
        );
    };
    let next = match action.as_str() {
        "commit" if body.0["commit"] == true => {
            let mut d = doc;
            d["status"] = json!("Committed");
            d
        }
        "void" if body.0["code"] == "DocVoided" => {
            let mut d = doc;
            d["status"] = json!("Cancelled");
            d
        }
        "adjust" => match document(&body.0["newTransaction"]) {
            Ok(d) => d,
            Err(m) => return error(StatusCode::BAD_REQUEST, "InvalidDocument", &m),
        },
        _ => return error(StatusCode::BAD_REQUEST, "InvalidRequest", "bad action body"),
    };
    fake.documents.insert(code, next.clone());
    axum::Json(next).into_response()
}
