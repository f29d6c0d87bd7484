//! iom's HTTP API and web UI. Only this crate knows HTTP: handlers parse requests, check the
//! caller's access, call the use cases of `iom-app`, and map every error to
//! `application/problem+json`.

mod acting;
pub mod auth;
pub mod error;
pub mod json;
mod metrics_layer;
pub mod openapi;
pub mod routes;
pub mod ui;

use std::net::SocketAddr;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use iom_app::App;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{SessionCache, TokenCache};
use crate::error::ApiError;

pub use iom_app::redact;

/// What every handler can reach: the application, and what only HTTP needs.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub tokens: Arc<TokenCache>,
    /// Web UI sessions' users, cached for under a second.
    pub sessions: Arc<SessionCache>,
    pub metrics: PrometheusHandle,
}

/// Handlers reach the application's store and services as `state.store`, `state.inventory`.
impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub app: iom_app::Config,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            app: iom_app::Config::default(),
        }
    }
}

impl AppState {
    pub async fn open(config: &Config) -> anyhow::Result<AppState> {
        Ok(AppState {
            app: App::open(&config.app).await?,
            tokens: Arc::new(TokenCache::default()),
            sessions: Arc::new(SessionCache::default()),
            metrics: prometheus(),
        })
    }
}

/// The process-wide Prometheus recorder; installed once however many servers a process runs.
fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .expect("static buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed by an embedding program; then ours only renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

pub fn router(state: AppState) -> Router {
    use routes::{alerts, audit, insights, notifications, order_edits};
    use routes::{
        events, flows, fulfillment, health, inventory, nodes, orders, payments, policies,
        providers, returns, shipping, subscriptions, users,
    };
    let api = Router::new()
        .route("/users", get(users::list))
        .route("/users/{email}", put(users::put))
        .route("/orders", post(orders::create).get(orders::list))
        .route("/orders/{id}", get(orders::get).patch(order_edits::amend))
        .route(
            "/orders/{id}/lines/{line_no}/hold",
            post(order_edits::hold_line),
        )
        .route(
            "/orders/{id}/lines/{line_no}/release",
            post(order_edits::release_line),
        )
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route(
            "/orders/{id}/lines/{line_no}/cancel",
            post(orders::cancel_line),
        )
        .route("/orders/{id}/hold", post(orders::hold))
        .route("/orders/{id}/release", post(orders::release))
        .route("/orders/{id}/shipments", post(orders::ship))
        .route("/orders/{id}/deliveries", post(orders::deliver))
        .route("/orders/{id}/labels", post(shipping::buy))
        .route("/orders/{id}/payment/capture", post(payments::capture))
        .route(
            "/orders/{id}/shipments/{shipment_id}/label",
            get(shipping::label),
        )
        .route("/orders/{id}/timeline", get(orders::timeline))
        .route("/events", get(events::list))
        .route("/audit", get(audit::list))
        .route("/inventory", get(inventory::many))
        .route("/inventory/changes", post(inventory::changes))
        .route("/inventory/groups", get(inventory::groups))
        .route(
            "/inventory/reservations",
            post(inventory::reserve).get(inventory::reservations),
        )
        .route(
            "/inventory/reservations/batch",
            post(inventory::reserve_batch),
        )
        .route(
            "/inventory/reservations/{id}",
            get(inventory::reservation).delete(inventory::release),
        )
        .route("/inventory/supply", post(inventory::supply))
        .route("/inventory/demand", post(inventory::demand))
        .route(
            "/inventory/allocations/{id}",
            put(inventory::allocation).delete(inventory::delete_allocation),
        )
        .route("/inventory/{sku}", get(inventory::sku))
        .route("/inventory/{sku}/atp", get(inventory::atp))
        .route(
            "/inventory/{sku}/nodes/{node}/safety-stock",
            put(inventory::safety_stock),
        )
        .route("/skus/{sku}", put(inventory::put_sku))
        .route("/nodes", get(nodes::list))
        .route("/nodes/{code}", put(nodes::put).get(nodes::get))
        .route("/node-groups", get(nodes::list_groups))
        .route(
            "/node-groups/{name}",
            put(nodes::put_group).get(nodes::get_group),
        )
        .route("/fulfillment/profiles", get(fulfillment::list_profiles))
        .route(
            "/fulfillment/profiles/{name}",
            put(fulfillment::put_profile).get(fulfillment::get_profile),
        )
        .route("/fulfillment/plan", post(fulfillment::plan_order))
        .route(
            "/fulfillment/postal-centroids",
            put(fulfillment::put_postal_centroids),
        )
        .route(
            "/fulfillment/brokering-runs",
            post(fulfillment::brokering_run),
        )
        .route("/provider-types", get(providers::list_types))
        .route("/providers", get(providers::list))
        .route("/providers/{name}", put(providers::put).get(providers::get))
        .route("/providers/{name}/messages", get(providers::messages))
        .route("/providers/{name}/partners", get(providers::partners))
        .route("/providers/{name}/test", post(providers::connection_test))
        .route("/providers/{name}/messages/{id}", get(providers::message))
        .route(
            "/providers/{name}/messages/{id}/retry",
            post(providers::retry),
        )
        .route("/inbound/{provider}", post(providers::inbound))
        .route("/subscriptions", get(subscriptions::list))
        .route(
            "/subscriptions/{name}",
            put(subscriptions::put).get(subscriptions::get),
        )
        // Returns: authorisation, receipt, refund, close, cancel, policy.
        .route("/returns", post(returns::create).get(returns::list))
        .route("/returns/{id}", get(returns::get))
        .route("/returns/{id}/receive", post(returns::receive))
        .route("/returns/{id}/refund", post(returns::refund))
        .route("/returns/{id}/close", post(returns::close))
        .route("/returns/{id}/cancel", post(returns::cancel))
        .route(
            "/return-policy",
            get(returns::get_policy).put(returns::put_policy),
        )
        // Insights and alerts.
        .route("/insights/kpis", get(insights::kpis))
        .route("/insights/series", get(insights::series))
        .route("/insights/anomalies", get(insights::anomalies))
        .route("/alerts", get(alerts::list))
        .route("/alerts/{name}", put(alerts::put).get(alerts::get))
        .route("/alerts/{name}/firings", get(alerts::firings))
        .route(
            "/alerts/{name}/firings/{id}/acknowledge",
            post(alerts::acknowledge),
        )
        .route(
            "/notification-templates",
            get(notifications::list_templates),
        )
        .route(
            "/notification-templates/{name}",
            put(notifications::put_template).get(notifications::get_template),
        )
        .route(
            "/notification-templates/{name}/preview",
            post(notifications::preview),
        )
        .route("/notifications", get(notifications::list))
        .route("/notifications/{id}/resend", post(notifications::resend))
        .route("/flows", get(flows::list))
        .route("/flows/{name}", put(flows::put).get(flows::get))
        .route("/flows/{name}/publish", post(flows::publish))
        .route("/flows/{name}/unpublish", post(flows::unpublish))
        .route("/flows/{name}/validate", post(flows::validate))
        .route("/policies", get(policies::list))
        .route("/policies/{name}", put(policies::put).get(policies::get))
        .route("/policies/{name}/validate", post(policies::validate))
        .route("/orders/{id}/runs", get(flows::order_runs))
        .route("/runs", get(flows::list_runs))
        .route("/runs/{id}", get(flows::get_run))
        .route("/runs/{id}/retry", post(flows::retry_run))
        .route("/tasks", get(flows::list_tasks))
        .route("/tasks/{id}/complete", post(flows::complete_task))
        .route("/openapi.json", get(openapi_json))
        .fallback(api_not_found)
        .layer(axum::middleware::map_response(
            error::problem_for_plain_errors,
        ));
    Router::new()
        .nest("/api/v1", api)
        .merge(ui::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(DefaultBodyLimit::max(json::MAX_BODY))
        .layer(axum::middleware::from_fn(acting::scope))
        .layer(axum::middleware::from_fn(metrics_layer::record))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    axum::Json(DOC.get_or_init(openapi::document).clone())
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("no such resource")
}

/// A running server: its address and a handle to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn stop(mut self) {
        for worker in self.workers.drain(..) {
            worker.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Opens the database and serves in the background; `listen` may use port 0.
pub async fn spawn(config: Config) -> anyhow::Result<Running> {
    let state = AppState::open(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = router(state.clone());
    let workers = state.app.spawn_workers(&config.app);
    // Off the async workers and not awaited: the server answers meanwhile.
    drop(tokio::task::spawn_blocking(
        iom_app::fulfillment::locate::warm,
    ));
    let task = tokio::spawn(async move {
        // With the peer's address, which limits failed sign-ins per client.
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
    });
    Ok(Running {
        addr,
        state,
        shutdown: Some(shutdown),
        task,
        workers,
    })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
