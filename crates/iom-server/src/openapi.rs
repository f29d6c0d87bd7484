//! The OpenAPI document of `/api/v1`, generated from the handlers' annotations.
//!
//! The handlers' annotations list what is particular to each operation (its success, a 404 for
//! an unknown resource, a 409 for a state that does not allow it). The errors that follow from
//! an operation's shape are added here, in one place, so that no operation can forget them and a
//! client (or a contract fuzzer) can rely on the list being whole:
//!
//! - every operation behind a bearer token: 401 (no token, or an unknown one) and 403 (a role or
//!   a channel limit that does not allow the call);
//! - every operation with query or path parameters: 400 (a parameter that does not read, e.g.
//!   `limit=abc` or a repeated field);
//! - every operation with a request body: 400 (not JSON), 413 (over the size limit) and 422 (a
//!   field missing, of the wrong type or invalid; every field named at its JSON path).
//!
//! Each answers `application/problem+json` with the `Problem` schema.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;

use crate::routes::{alerts, audit, insights, notifications, order_edits};
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
        order_edits::amend, order_edits::hold_line, order_edits::release_line,
        shipping::buy, shipping::label, payments::capture,
        events::list,
        audit::list,
        inventory::changes, inventory::sku, inventory::many, inventory::reserve, inventory::reserve_batch, inventory::reservations, inventory::delete_allocation,
        inventory::reservation, inventory::release, inventory::supply, inventory::demand,
        inventory::atp, inventory::safety_stock, inventory::allocation, inventory::put_sku,
        inventory::groups,
        nodes::put, nodes::get, nodes::list, nodes::put_group, nodes::get_group, nodes::list_groups,
        fulfillment::put_profile, fulfillment::get_profile, fulfillment::list_profiles,
        fulfillment::plan_order, fulfillment::brokering_run, fulfillment::put_postal_centroids,
        providers::list_types, providers::put, providers::get, providers::list, providers::inbound,
        providers::messages, providers::message, providers::retry, providers::partners,
        providers::connection_test,
        subscriptions::put, subscriptions::get, subscriptions::list,
        returns::create, returns::get, returns::list, returns::receive, returns::refund,
        returns::close, returns::cancel, returns::get_policy, returns::put_policy,
        insights::kpis, insights::series, insights::anomalies,
        alerts::put, alerts::get, alerts::list, alerts::firings, alerts::acknowledge,
        notifications::list_templates, notifications::get_template, notifications::put_template,
        notifications::preview, notifications::list, notifications::resend,
        flows::put, flows::validate, flows::publish, flows::unpublish, flows::list, flows::get,
        flows::order_runs, flows::list_runs, flows::get_run, flows::retry_run,
        flows::list_tasks, flows::complete_task,
        policies::put, policies::validate, policies::list, policies::get,
        users::list, users::put,
    ),
    components(schemas(crate::error::Problem, iom_domain::FieldError)),
    modifiers(&BearerAuth, &StandardErrors),
    tags(
        (name = "orders", description = "Order capture and lifecycle"),
        (name = "events", description = "Business events in commit order"),
        (name = "audit", description = "Configuration changes: who, when, before and after"),
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

/// The error responses every operation of a given shape can give (see the module's docs).
struct StandardErrors;

/// Status, name under `components.responses`, and description of each shared error response.
const STANDARD_ERRORS: &[(&str, &str, &str)] = &[
    (
        "400",
        "MalformedRequest",
        "The body is not JSON, or a parameter does not read",
    ),
    (
        "401",
        "Unauthorized",
        "No bearer token, or one that is not valid",
    ),
    (
        "403",
        "Forbidden",
        "The token's role or limits do not allow this call",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The request body is larger than 2 MiB",
    ),
    (
        "422",
        "Invalid",
        "A field is missing, of the wrong type or invalid; `errors` names each at its JSON path",
    ),
];

impl Modify for StandardErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in STANDARD_ERRORS {
            let problem = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            components.responses.insert(
                (*name).to_owned(),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(*description)
                        .content(PROBLEM_JSON, problem)
                        .build(),
                ),
            );
        }
        unique_operation_ids(openapi);
        for item in openapi.paths.paths.values_mut() {
            let shared = item.parameters.clone().unwrap_or_default();
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                let parameters = shared.iter().chain(operation.parameters.iter().flatten());
                let has_parameters = parameters
                    .into_iter()
                    .any(|p| matches!(p.parameter_in, ParameterIn::Query | ParameterIn::Path));
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = operation.request_body.is_some();
                let mut add = |status: &str| add_standard(operation, status);
                if secured {
                    add("401");
                    add("403");
                }
                if has_parameters || has_body {
                    add("400");
                }
                if has_body {
                    add("413");
                    add("422");
                }
            }
        }
    }
}

/// Operation ids are the handlers' names, and several modules have a `get` or a `put`: an id
/// used more than once is prefixed with the operation's tag (`subscriptions_get`), so that every
/// id names one operation, as OpenAPI requires and links and generated clients rely on.
fn unique_operation_ids(openapi: &mut utoipa::openapi::OpenApi) {
    let mut uses: std::collections::HashMap<String, usize> = Default::default();
    for operation in operations(openapi) {
        if let Some(id) = &operation.operation_id {
            *uses.entry(id.clone()).or_default() += 1;
        }
    }
    for operation in operations(openapi) {
        let (Some(id), Some(tag)) = (
            &operation.operation_id,
            operation.tags.iter().flatten().next(),
        ) else {
            continue;
        };
        if uses[id] > 1 {
            operation.operation_id = Some(format!("{tag}_{id}"));
        }
    }
}

/// Every operation of the document.
fn operations(openapi: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
    })
}

/// Adds the shared response for `status`, unless the operation documents that status itself.
fn add_standard(operation: &mut Operation, status: &str) {
    let (_, name, _) = STANDARD_ERRORS
        .iter()
        .find(|(s, _, _)| *s == status)
        .expect("a standard status");
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
