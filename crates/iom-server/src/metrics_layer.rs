//! Request count and latency per route, for `/metrics`.

use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// The counter and histogram of one (route, method, status).
type Handles = (metrics::Counter, metrics::Histogram);

/// Handles by route, then method and status. Registering a metric hashes its name and labels in
/// the recorder's registry and allocates the labels, a twentieth of the server's work per request
/// under load; the routes, methods and statuses a server answers are few, so each is registered
/// once. The process-wide recorder is installed before the first server is built, so a cached
/// handle is always the live one.
static HANDLES: LazyLock<RwLock<ByRoute>> = LazyLock::new(RwLock::default);

type ByRoute = HashMap<String, HashMap<(Method, u16), Handles>>;

pub async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let response = next.run(req).await;
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    let (counter, histogram) = handles(route, &method, response.status().as_u16());
    counter.increment(1);
    histogram.record(started.elapsed().as_secs_f64());
    response
}

fn handles(route: &str, method: &Method, status: u16) -> Handles {
    let key = (method.clone(), status);
    if let Some(found) = HANDLES
        .read()
        .expect("metric handles")
        .get(route)
        .and_then(|m| m.get(&key))
    {
        return found.clone();
    }
    let labels = (method.as_str().to_owned(), route.to_owned());
    let made: Handles = (
        metrics::counter!("iom_http_requests_total", "method" => labels.0.clone(), "route" => labels.1.clone(), "status" => status.to_string()),
        metrics::histogram!("iom_http_request_duration_seconds", "method" => labels.0, "route" => labels.1),
    );
    HANDLES
        .write()
        .expect("metric handles")
        .entry(route.to_owned())
        .or_default()
        .insert(key, made.clone());
    made
}
