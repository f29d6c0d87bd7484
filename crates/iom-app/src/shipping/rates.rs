//! Carrier rates for planning (a profile with `"rates": "carrier"`): what shipping an order from
//! each candidate node costs and how many days it takes, asked of the carrier (`POST
//! /v2/shipments`, which answers with rates and buys nothing) and kept per lane (origin node,
//! destination zone, units) for the instance's `settings.rate_cache_seconds` (600 by default),
//! so planning a stream of orders costs one carrier call per lane, not one per order.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use iom_providers::easypost::{self, Parcel, Rate};
use iom_sourcing::{Network, Plan, PlanRequest};
use iom_store::Store;
use serde_json::Value;

use super::client::Client;
use super::{ShippingError, carrier};
use crate::pipeline::Pipeline;

/// The rate a plan prices a node's shipment with.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub carrier: String,
    pub service: String,
    pub rate: rust_decimal::Decimal,
    pub currency: String,
    pub days: Option<u32>,
}

impl Quote {
    /// How the plan's explanation shows it.
    pub fn describe(&self) -> String {
        match self.days {
            Some(d) => format!(
                "carrier rate {} {} {} {}, {d} days",
                self.carrier, self.service, self.rate, self.currency
            ),
            None => format!(
                "carrier rate {} {} {} {}",
                self.carrier, self.service, self.rate, self.currency
            ),
        }
    }
}

/// A lane of a carrier service (its base URL): origin node, destination zone, units.
type Key = (String, String, String, u32);

/// Rates by lane, until they expire. Shared by the process: the flow executor reads it inside
/// its transaction (no carrier call can be made there) and the planning API fills it.
static CACHE: LazyLock<Mutex<HashMap<Key, Cached>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// A lane's rates and when they expire.
type Cached = (Instant, Arc<Vec<Rate>>);

/// The destination zone of a lane: country and the first three characters of the postal code
/// (a US ZIP3, a UK outward code's start), which is how carriers zone their prices.
fn zone(request: &PlanRequest) -> String {
    let country = request.country.clone().unwrap_or_default();
    let postal: String = request
        .postal_code
        .clone()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(3)
        .collect();
    format!("{country}-{}", postal.to_ascii_uppercase())
}

fn units(request: &PlanRequest) -> u32 {
    request.lines.iter().map(|l| l.quantity).sum::<u32>().max(1)
}

/// The parcel of a plan request: its units at the default parcel's weight, to the ounce.
fn parcel(settings: &Value, request: &PlanRequest) -> Parcel {
    let mut parcel: Parcel = serde_json::from_value(settings["parcel"].clone()).unwrap_or(Parcel {
        length: None,
        width: None,
        height: None,
        weight: 16.0,
    });
    parcel.weight = (parcel.weight * f64::from(units(request))).ceil();
    parcel
}

fn ttl(settings: &Value) -> Duration {
    Duration::from_secs(settings["rate_cache_seconds"].as_u64().unwrap_or(600))
}

fn key(carrier: &str, node: &str, request: &PlanRequest) -> Key {
    (
        carrier.to_owned(),
        node.to_owned(),
        zone(request),
        units(request),
    )
}

/// The cheapest rate of each candidate node, from the cache only: what the flow executor can
/// know without calling out. Nodes without a fresh quote keep their own cost model.
/// `carrier` is the service's base URL.
pub fn cached(carrier: &str, network: &Network, request: &PlanRequest) -> BTreeMap<String, Quote> {
    let cache = CACHE.lock().expect("rate cache");
    let now = Instant::now();
    let mut out = BTreeMap::new();
    for node in network.nodes().iter().filter(|n| n.active) {
        if let Some((expires, rates)) = cache.get(&key(carrier, &node.code, request))
            && *expires > now
            && let Some(q) = cheapest(rates)
        {
            out.insert(node.code.clone(), q);
        }
    }
    out
}

/// The cheapest rate of each active node with an address, asked of the carrier where the cache
/// has none (all lanes at once). A lane the carrier cannot price is left to the node's cost model.
pub async fn quotes(
    store: &Store,
    pipeline: &Pipeline,
    provider: Option<&str>,
    network: &Network,
    request: &PlanRequest,
) -> Result<BTreeMap<String, Quote>, ShippingError> {
    let loaded = carrier(store, pipeline, provider).await?;
    let settings = &loaded.record.config["settings"];
    let parcel = parcel(settings, request);
    let service = loaded.connection("base_url").unwrap_or_default().to_owned();
    let mut out = cached(&service, network, request);
    let expires = Instant::now() + ttl(settings);
    let client = Client::new(&pipeline.http, &loaded)?;
    let to = json_to(request);
    let missing: Vec<String> = network
        .nodes()
        .iter()
        .filter(|n| n.active && !out.contains_key(&n.code))
        .map(|n| n.code.clone())
        .collect();
    let asks = missing.iter().map(|node| {
        let from = super::from_address(settings, node).ok();
        let body =
            from.map(|from| easypost::create_shipment(from, to.clone(), &parcel, "rates", "PDF"));
        let client = &client;
        async move {
            match body {
                Some(body) => (node, client.create(&body).await.map(|s| s.rates)),
                // A node without a ship-from address cannot be priced until its settings
                // change: remembered as a lane without rates, so that it is not asked again.
                None => (node, Ok(Vec::new())),
            }
        }
    });
    let answers = join_all(asks).await;
    // The carrier down (every question failed) is an error the caller reports; a lane it could
    // not price while answering others is left to the node's cost model.
    if !answers.is_empty() && answers.iter().all(|(_, a)| a.is_err()) {
        let (_, failed) = answers.into_iter().next().expect("not empty");
        return Err(failed.expect_err("all failed"));
    }
    for (node, answer) in answers {
        let Ok(rates) = answer else { continue };
        let rates = Arc::new(rates);
        CACHE
            .lock()
            .expect("rate cache")
            .insert(key(&service, node, request), (expires, rates.clone()));
        if let Some(q) = cheapest(&rates) {
            out.insert(node.clone(), q);
        }
    }
    Ok(out)
}

/// The destination as EasyPost reads it: the ship-to's postal code and country.
fn json_to(request: &PlanRequest) -> Value {
    serde_json::json!({
        "zip": request.postal_code, "country": request.country, "city": request.city,
    })
}

fn cheapest(rates: &[Rate]) -> Option<Quote> {
    let choice = easypost::choose(rates, None, None).ok()?;
    Some(Quote {
        carrier: choice.rate.carrier.clone(),
        service: choice.rate.service.clone(),
        rate: choice.rate.rate,
        currency: choice.rate.currency.clone(),
        days: choice.rate.delivery_days,
    })
}

/// The network with each quoted node's shipments priced by its quote.
pub fn priced(network: &Network, quotes: &BTreeMap<String, Quote>) -> Network {
    let prices = quotes
        .iter()
        .map(|(node, q)| (node.clone(), q.rate))
        .collect();
    network.priced_by(&prices)
}

/// Shows the quotes in the plan's explanation and promises by their delivery days.
pub fn annotate(plan: &mut Plan, quotes: &BTreeMap<String, Quote>) {
    for a in &mut plan.assignments {
        if let Some(days) = quotes.get(&a.node).and_then(|q| q.days) {
            a.promised_delivery_at = iom_sourcing::calendar::promised_delivery(a.ship_date, days);
        }
    }
    for e in &mut plan.explanation {
        if let Some(q) = quotes.get(&e.node) {
            e.detail = Some(match e.detail.take() {
                Some(d) => format!("{d}; {}", q.describe()),
                None => q.describe(),
            });
        }
    }
}

/// Whether some active node has no fresh lane in the cache for `request` with the only carrier
/// instance: the flow's planning asks the carrier first (`quotes`, outside its transaction).
pub fn lanes_missing_in(
    conn: &mut dyn iom_store::Conn,
    network: &Network,
    request: &PlanRequest,
) -> Result<bool, iom_store::StoreError> {
    let carriers = iom_store::shipping::carriers(conn)?;
    let [(_, base)] = carriers.as_slice() else {
        return Ok(false);
    };
    let cache = CACHE.lock().expect("rate cache");
    let now = Instant::now();
    Ok(network.nodes().iter().filter(|n| n.active).any(|node| {
        cache
            .get(&key(base, &node.code, request))
            .is_none_or(|(expires, _)| *expires <= now)
    }))
}

/// As [`cached`], for the only carrier instance, read inside a transaction (the flow executor).
pub fn cached_in(
    conn: &mut dyn iom_store::Conn,
    network: &Network,
    request: &PlanRequest,
) -> Result<BTreeMap<String, Quote>, iom_store::StoreError> {
    let carriers = iom_store::shipping::carriers(conn)?;
    Ok(match carriers.as_slice() {
        [(_, base)] => cached(base, network, request),
        _ => BTreeMap::new(),
    })
}
