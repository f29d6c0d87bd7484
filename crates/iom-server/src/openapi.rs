//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{alerts, insights, notifications};
use crate::routes::{
    events, flows, fulfillment, inventory, nodes, orders, payments, policies, providers, returns,
    shipping, subscriptions, users,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "iom", description = "Intelligent Order Management: capture, orchestrate, fulfil and track orders from every channel."),
    paths(
        orders::create, orders::get, orders::list, orders::cancel, orders::cancel_line,
        orders::hold, orders::release, orders::ship, orders::deliver, orders::timeline,
        shipping::buy, shipping::label, payments::capture,
        events::list,
        inventory::changes, inventory::sku, inventory::many, inventory::reserve, inventory::reserve_batch, inventory::reservations, inventory::delete_allocation,
        inventory::reservation, inventory::release, inventory::supply, inventory::demand,
        inventory::atp, inventory::safety_stock, inventory::allocation, inventory::put_sku,
        inventory::groups,
        nodes::put, nodes::get, nodes::list, nodes::put_group, nodes::get_group, nodes::list_groups,
        fulfillment::put_profile, fulfillment::get_profile, fulfillment::list_profiles,
        fulfillment::plan_order, fulfillment::brokering_run, fulfillment::put_postal_centroids,
        providers::list_types, providers::put, providers::get, providers::list, providers::inbound,
        providers::messages, providers::message, providers::retry, providers::partners,
        subscriptions::put, subscriptions::get, subscriptions::list,
        returns::create, returns::get, returns::list, returns::receive, returns::refund,
        returns::close, returns::cancel, returns::get_policy, returns::put_policy,
        insights::kpis, insights::series, insights::anomalies,
        alerts::put, alerts::get, alerts::list, alerts::firings,
        notifications::list_templates, notifications::get_template, notifications::put_template,
        notifications::preview, notifications::list, notifications::resend,
        flows::put, flows::publish, flows::unpublish, flows::list, flows::get,
        flows::order_runs, flows::list_runs, flows::get_run, flows::retry_run,
        flows::list_tasks, flows::complete_task,
        policies::put, policies::list, policies::get,
        users::list, users::put,
    ),
    components(schemas(crate::error::Problem, iom_domain::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "orders", description = "Order capture and lifecycle"),
        (name = "events", description = "Business events in commit order"),
        (name = "inventory", description = "Inventory visibility: on-hand, reservations, availability, ATP"),
        (name = "fulfillment", description = "Fulfilment nodes, node groups, sourcing profiles and order planning"),
        (name = "providers", description = "Provider types and instances, inbound documents, the message log"),
        (name = "subscriptions", description = "Webhooks receiving business events"),
        (name = "returns", description = "Returns from any origin: authorisation, receipt and disposition, refunds, exchanges, the return policy"),
        (name = "insights", description = "KPIs, chart series and anomalies, live from the order stream"),
        (name = "alerts", description = "Alert definitions and their firings (each an `alert.fired` business event)"),
        (name = "notifications", description = "Notification templates (MiniJinja, per event and channel) and the e-mails and webhooks sent"),
        (name = "flows", description = "Orchestration: flow definitions and versions, runs and their steps, manual tasks"),
        (name = "policies", description = "Filter and execution policies (CEL), stored as versions, named by flows"),
        (name = "users", description = "People who sign in to the web UI, with their roles (admins only)"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
