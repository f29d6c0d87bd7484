//! "Test connection" for a provider instance: one harmless, authenticated call of the type's own
//! API with the stored connection (secrets opened), and what happened in words. Nothing is
//! created or changed at the service: Stripe `GET /v1/balance`, AvaTax
//! `GET /api/v2/utilities/ping` (which answers 200 either way and says whether the credentials
//! authenticated), EasyPost `GET /v2/addresses`, Shopify `GET /admin/api/{version}/shop.json`,
//! BigCommerce `GET {api_url}/store`. Types that post to a URL (webhook, x12) check that it
//! answers; NATS that its port accepts a connection; types that only receive have nothing to call.

use std::time::Duration;

use iom_store::Store;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{Loaded, Pipeline, PipelineError};

/// The Shopify Admin API version asked for.
pub const SHOPIFY_API_VERSION: &str = "2024-07";

const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The service answered and accepted the credentials (or the URL answered).
    Ok,
    /// The call failed: unreachable, refused credentials, or an unexpected answer.
    Failed,
    /// The type has no API of its own to call (it only receives documents).
    NothingToCall,
}

/// What a connection test did and found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ConnectionTest {
    pub provider: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub outcome: Outcome,
    /// The call made, e.g. `GET https://api.stripe.com/v1/balance`; absent when none was made.
    pub call: Option<String>,
    /// The HTTP status the service answered, when it answered.
    pub status: Option<u16>,
    /// What happened, in words (never a secret).
    pub message: String,
}

/// Tests the connection of the instance `name`.
pub async fn test_connection(
    store: &Store,
    pipeline: &Pipeline,
    name: &str,
) -> Result<ConnectionTest, PipelineError> {
    let loaded = pipeline.load(store, name).await?;
    let mut test = ConnectionTest {
        provider: loaded.name().to_owned(),
        kind: loaded.kind.name.to_owned(),
        outcome: Outcome::Failed,
        call: None,
        status: None,
        message: String::new(),
    };
    let http = &pipeline.http;
    let result = match loaded.kind.name {
        "payment" => stripe(http, &loaded, &mut test).await,
        "tax" => avatax(http, &loaded, &mut test).await,
        "carrier" => easypost(http, &loaded, &mut test).await,
        "shopify" => shopify(http, &loaded, &mut test).await,
        "bigcommerce" => bigcommerce(http, &loaded, &mut test).await,
        "webhook" => reachable(http, &loaded, "url", true, &mut test).await,
        "x12" => reachable(http, &loaded, "url", false, &mut test).await,
        "nats" => nats(&loaded, &mut test).await,
        other => Err(Skip(format!(
            "A {other} instance only receives documents: it has no service of its own to call. \
             Send it a document (POST /api/v1/inbound/{name}) to see it work."
        ))),
    };
    match result {
        Ok(()) => {}
        Err(Skip(message)) => {
            test.outcome = Outcome::NothingToCall;
            test.message = message;
        }
    }
    Ok(test)
}

/// There is nothing to call, and why.
struct Skip(String);

type Step = Result<(), Skip>;

/// A connection field, or the test fails saying it is missing.
fn field<'a>(loaded: &'a Loaded, name: &str, test: &mut ConnectionTest) -> Option<&'a str> {
    let value = loaded.connection(name);
    if value.is_none() {
        test.outcome = Outcome::Failed;
        test.message = format!("connection.{name} is not set: there is nothing to call with.");
    }
    value
}

fn base(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

/// Sends `request`; a transport failure fails the test in words. The status and body otherwise.
async fn send(request: reqwest::RequestBuilder, test: &mut ConnectionTest) -> Option<(u16, Value)> {
    match request.timeout(TIMEOUT).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            test.status = Some(status);
            let body = resp.json::<Value>().await.unwrap_or(Value::Null);
            Some((status, body))
        }
        Err(e) => {
            test.outcome = Outcome::Failed;
            test.message = format!("The service could not be reached: {}", transport(e));
            None
        }
    }
}

/// A transport error in words, without the URL's query (which never holds secrets here, but
/// need not be repeated either).
fn transport(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "it did not answer in time".into()
    } else if e.is_connect() {
        "the connection was refused or the host is unknown".into()
    } else {
        e.without_url().to_string()
    }
}

fn judge(test: &mut ConnectionTest, status: u16, accepted: &str, service: &str, why: &str) {
    if (200..300).contains(&status) {
        test.outcome = Outcome::Ok;
        test.message = accepted.to_owned();
    } else {
        test.outcome = Outcome::Failed;
        test.message = match status {
            401 | 403 => format!("{service} refused the credentials ({status}): {why}"),
            404 => format!("{service} answered 404: is the base URL right? {why}"),
            _ => format!("{service} answered {status}: {why}"),
        };
    }
}

async fn stripe(http: &reqwest::Client, loaded: &Loaded, test: &mut ConnectionTest) -> Step {
    let (Some(url), Some(key)) = (
        field(loaded, "base_url", test),
        field(loaded, "secret_key", test),
    ) else {
        return Ok(());
    };
    let url = format!("{}/v1/balance", base(url));
    test.call = Some(format!("GET {url}"));
    if let Some((status, body)) = send(http.get(&url).bearer_auth(key), test).await {
        let why = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        let mode = if body["livemode"] == Value::Bool(true) {
            "live"
        } else {
            "test"
        };
        judge(
            test,
            status,
            &format!("Stripe accepted the secret key ({mode} mode); the balance was read."),
            "Stripe",
            why,
        );
    }
    Ok(())
}

async fn avatax(http: &reqwest::Client, loaded: &Loaded, test: &mut ConnectionTest) -> Step {
    let (Some(url), Some(account), Some(license)) = (
        field(loaded, "base_url", test),
        field(loaded, "account_id", test),
        field(loaded, "license_key", test),
    ) else {
        return Ok(());
    };
    let url = format!("{}/api/v2/utilities/ping", base(url));
    test.call = Some(format!("GET {url}"));
    let request = http.get(&url).basic_auth(account, Some(license));
    if let Some((status, body)) = send(request, test).await {
        let why = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        judge(
            test,
            status,
            "AvaTax accepted the account id and licence key.",
            "AvaTax",
            why,
        );
        // Ping answers 200 to anyone: whether the credentials are good is in the body.
        if test.outcome == Outcome::Ok && body["authenticated"] != Value::Bool(true) {
            test.outcome = Outcome::Failed;
            test.message = "AvaTax answered, but did not accept the account id and licence key \
                            (authenticated: false)."
                .into();
        }
    }
    Ok(())
}

async fn easypost(http: &reqwest::Client, loaded: &Loaded, test: &mut ConnectionTest) -> Step {
    let (Some(url), Some(key)) = (
        field(loaded, "base_url", test),
        field(loaded, "api_key", test),
    ) else {
        return Ok(());
    };
    let url = format!("{}/v2/addresses?page_size=1", base(url));
    test.call = Some(format!("GET {url}"));
    let request = http.get(&url).basic_auth(key, Some(""));
    if let Some((status, body)) = send(request, test).await {
        let why = body["error"]["message"]
            .as_str()
            .unwrap_or("no reason given");
        judge(
            test,
            status,
            "EasyPost accepted the API key; the addresses were listed.",
            "EasyPost",
            why,
        );
    }
    Ok(())
}

async fn shopify(http: &reqwest::Client, loaded: &Loaded, test: &mut ConnectionTest) -> Step {
    let Some(shop) = field(loaded, "shop", test) else {
        return Ok(());
    };
    let Some(token) = loaded.connection("access_token") else {
        return Err(Skip(
            "No access_token is set: this instance only receives webhooks (checked with \
             webhook_secret), so there is nothing to call. Set an Admin API access token to \
             test the shop."
                .into(),
        ));
    };
    // A shop is named by its domain; a full URL is taken as it is (a proxy, a test server).
    let root = if shop.starts_with("http://") || shop.starts_with("https://") {
        base(shop)
    } else {
        format!("https://{}", base(shop))
    };
    let url = format!("{root}/admin/api/{SHOPIFY_API_VERSION}/shop.json");
    test.call = Some(format!("GET {url}"));
    let request = http.get(&url).header("X-Shopify-Access-Token", token);
    if let Some((status, body)) = send(request, test).await {
        let why = body["errors"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| "no reason given".into());
        let name = body["shop"]["name"].as_str().unwrap_or(shop);
        judge(
            test,
            status,
            &format!("Shopify accepted the access token of the shop {name}."),
            "Shopify",
            &why,
        );
    }
    Ok(())
}

async fn bigcommerce(http: &reqwest::Client, loaded: &Loaded, test: &mut ConnectionTest) -> Step {
    let (Some(url), Some(token)) = (
        field(loaded, "api_url", test),
        field(loaded, "access_token", test),
    ) else {
        return Ok(());
    };
    let url = format!("{}/store", base(url));
    test.call = Some(format!("GET {url}"));
    let request = http
        .get(&url)
        .header("X-Auth-Token", token)
        .header("Accept", "application/json");
    if let Some((status, body)) = send(request, test).await {
        let why = body[0]["message"]
            .as_str()
            .or_else(|| body["title"].as_str())
            .unwrap_or("no reason given");
        judge(
            test,
            status,
            "BigCommerce accepted the access token; the store was read.",
            "BigCommerce",
            why,
        );
    }
    Ok(())
}

/// A URL iom posts to answers at all: any HTTP status counts (a receiver may refuse a GET), a
/// connection that fails does not. Nothing is posted, so nothing is received by mistake.
async fn reachable(
    http: &reqwest::Client,
    loaded: &Loaded,
    name: &str,
    required: bool,
    test: &mut ConnectionTest,
) -> Step {
    let url = match loaded.connection(name) {
        Some(url) => url,
        None if required => {
            field(loaded, name, test);
            return Ok(());
        }
        None => {
            return Err(Skip(format!(
                "No connection.{name} is set: outbound documents wait in the message log to be \
                 picked up, so there is nothing to call."
            )));
        }
    };
    test.call = Some(format!("HEAD {url}"));
    if let Some((status, _)) = send(http.head(url), test).await {
        test.outcome = Outcome::Ok;
        test.message = format!(
            "The URL is reachable (it answered {status} to a HEAD request; documents are sent \
             to it with POST, signed)."
        );
    }
    Ok(())
}

async fn nats(loaded: &Loaded, test: &mut ConnectionTest) -> Step {
    let Some(url) = field(loaded, "url", test) else {
        return Ok(());
    };
    let address = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_end_matches('/');
    let address = address.rsplit_once('@').map_or(address, |(_, host)| host);
    let address = if address.contains(':') {
        address.to_owned()
    } else {
        format!("{address}:4222")
    };
    test.call = Some(format!("TCP connect {address}"));
    match tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect(&address)).await {
        Ok(Ok(_)) => {
            test.outcome = Outcome::Ok;
            test.message = format!("The NATS server at {address} accepts connections.");
        }
        Ok(Err(e)) => {
            test.outcome = Outcome::Failed;
            test.message = format!("The NATS server at {address} could not be reached: {e}");
        }
        Err(_) => {
            test.outcome = Outcome::Failed;
            test.message = format!("The NATS server at {address} did not answer in time.");
        }
    }
    Ok(())
}
