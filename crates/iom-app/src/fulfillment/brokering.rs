//! Planning: one order as a simulation, or a brokering run over the open orders, and committing
//! a run's plans.

use std::collections::BTreeSet;

use chrono::Utc;
use iom_domain::{Order, OrderId, OrderStatus};
use iom_sourcing::{
    BatchStats, ExactOptions, Plan, PlanRequest, Profile, Solver, Summary, plan, plan_batch,
    plan_batch_closest, plan_batch_exact, plan_closest, plan_exact,
};
use iom_store::inventory::order_reservations;
use iom_store::{OrderFilter, Store, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

use super::commit::{Commitment, request_for};
use super::locate::{locate_request_in, locate_requests};
use super::setup::{SetupError, load_availability, load_network};

/// Statuses of the orders a brokering run plans when the request names none.
pub const OPEN_STATUSES: [OrderStatus; 3] = [
    OrderStatus::Received,
    OrderStatus::Processing,
    OrderStatus::Backordered,
];

fn skus_of<'a>(requests: impl IntoIterator<Item = &'a PlanRequest>) -> Vec<String> {
    let set: BTreeSet<&str> = requests
        .into_iter()
        .flat_map(|r| r.lines.iter().map(|l| l.sku.as_str()))
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

/// Plans one order against the current nodes and inventory, writing nothing: a ship-to without
/// coordinates is located first. The exact solver may search for seconds, so solving runs off
/// the async workers.
///
/// A profile priced by carrier rates (`"rates": "carrier"`) asks `pipeline`'s carrier instance
/// for the lanes it has not cached (`shipping::rates`); a carrier that cannot answer leaves the
/// nodes' own cost models in place, with a note saying so.
pub async fn plan_one(
    store: &Store,
    pipeline: &crate::pipeline::Pipeline,
    request: PlanRequest,
    profile: Profile,
    solver: Solver,
) -> Result<(Plan, Profile), SetupError> {
    let request = locate_requests(store, vec![request]).await?.remove(0);
    let mut network = load_network(store).await?;
    let mut quotes = Default::default();
    let mut note = None;
    if profile.rates == iom_sourcing::Rates::Carrier {
        match crate::shipping::rates::quotes(store, pipeline, None, &network, &request).await {
            Ok(q) => {
                network = crate::shipping::rates::priced(&network, &q);
                quotes = q;
            }
            Err(e) => {
                note = Some(format!(
                    "carrier rates unavailable ({e}); node cost models used"
                ))
            }
        }
    }
    let availability = load_availability(store, &network, skus_of([&request])).await?;
    let (result, profile) = tokio::task::spawn_blocking(move || {
        let result = match solver {
            Solver::Heuristic => plan(&request, &network, &availability, &profile),
            Solver::Exact => plan_exact(
                &request,
                &network,
                &availability,
                &profile,
                &ExactOptions::default(),
            ),
            Solver::Closest => plan_closest(&request, &network, &availability, &profile),
        };
        (result, profile)
    })
    .await
    .map_err(|e| SetupError::Interrupted(e.to_string()))?;
    let mut plan = result?;
    crate::shipping::rates::annotate(&mut plan, &quotes);
    plan.notes.extend(note);
    Ok((plan, profile))
}

/// What a brokering run is asked to do.
pub struct BrokeringRequest {
    pub profile: Profile,
    pub statuses: Vec<OrderStatus>,
    pub solver: Solver,
    /// Most orders to plan, oldest first.
    pub limit: usize,
    /// Commit the plans; a dry run otherwise.
    pub commit: bool,
}

#[derive(Serialize, ToSchema)]
pub struct OrderPlan {
    pub order_id: OrderId,
    pub channel: String,
    pub external_id: String,
    pub status: OrderStatus,
    pub plan: Plan,
    /// With `commit`: whether this order's plan was committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub committed: Option<bool>,
    /// With `commit`: why it was not (stock taken meanwhile, the order changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BrokeringRun {
    /// True unless `commit` was asked for: then plans were reserved and lines allocated.
    pub dry_run: bool,
    pub profile: String,
    pub solver: Solver,
    /// More orders matched than `limit`; the oldest `limit` were planned.
    pub truncated: bool,
    pub totals: Summary,
    /// How the exact solver decomposed the batch (only with `solver: exact`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<BatchStats>,
    /// One plan per order, oldest order first: the order in which they took stock.
    pub plans: Vec<OrderPlan>,
}

async fn open_orders(store: &Store, statuses: &[OrderStatus]) -> Result<Vec<Order>, StoreError> {
    const PAGE: usize = 500;
    let mut out = Vec::new();
    for status in statuses {
        let mut cursor = None;
        loop {
            let page = store
                .list_orders(OrderFilter {
                    status: Some(status.as_str().to_owned()),
                    limit: PAGE,
                    cursor,
                    ..OrderFilter::default()
                })
                .await?;
            let full = page.len() == PAGE;
            cursor = page.last().map(|o| o.id);
            out.extend(page);
            if !full {
                break;
            }
        }
    }
    Ok(out)
}

/// Plans the open orders as one batch against the current availability: oldest orders first,
/// each taking stock and capacity from what the earlier ones left, so no unit is promised twice.
/// Only what is left to plan of each order counts ([`request_for`]). With `commit` each order's
/// plan is committed in a transaction of its own ([`commit_plan`]).
pub async fn brokering_run(
    store: &Store,
    request: BrokeringRequest,
) -> Result<BrokeringRun, SetupError> {
    let BrokeringRequest {
        profile,
        statuses,
        solver,
        limit,
        commit,
    } = request;
    let mut orders = open_orders(store, &statuses).await?;
    // First come, first served: ids are time-ordered, so they break ties of `placed_at`.
    orders.sort_by_key(|o| (o.placed_at, o.id));
    let truncated = orders.len() > limit;
    orders.truncate(limit);
    // What is left to plan of each order, located: one read connection for the whole run.
    let now = Utc::now();
    let (orders, requests) = store
        .read(move |conn| {
            let mut planned = Vec::with_capacity(orders.len());
            let mut requests = Vec::with_capacity(orders.len());
            for o in orders {
                let reservations = order_reservations(conn, &o.id.to_string(), None)?;
                let mut request = request_for(&o, &reservations, now);
                if !request.lines.is_empty() {
                    locate_request_in(conn, &mut request)?;
                    requests.push(request);
                    planned.push(o);
                }
            }
            Ok((planned, requests))
        })
        .await?;
    let network = load_network(store).await?;
    let availability = load_availability(store, &network, skus_of(&requests)).await?;
    let profile_name = profile.name.clone();
    // Planning a large batch takes a while; keep it off the async workers.
    let (plans, stats) = tokio::task::spawn_blocking(move || match solver {
        Solver::Heuristic => {
            plan_batch(&requests, &network, &availability, &profile).map(|p| (p, None))
        }
        Solver::Closest => {
            plan_batch_closest(&requests, &network, &availability, &profile).map(|p| (p, None))
        }
        Solver::Exact => plan_batch_exact(
            &requests,
            &network,
            &availability,
            &profile,
            &ExactOptions::default(),
        )
        .map(|o| (o.plans, Some(o.stats))),
    })
    .await
    .map_err(|e| SetupError::Interrupted(e.to_string()))??;
    let totals = Summary::of(&plans);
    let mut out = Vec::with_capacity(plans.len());
    for (o, plan) in orders.into_iter().zip(plans) {
        let (committed, error) = if commit {
            let commitment = Commitment::of_plan(o.id, &plan, format!("order {}", o.id));
            match commit_plan(store, commitment).await {
                Ok(()) => (Some(true), None),
                Err(e) => (Some(false), Some(failure(&e))),
            }
        } else {
            (None, None)
        };
        out.push(OrderPlan {
            order_id: o.id,
            channel: o.channel,
            external_id: o.external_id,
            status: o.status,
            plan,
            committed,
            error,
        });
    }
    Ok(BrokeringRun {
        dry_run: !commit,
        profile: profile_name,
        solver,
        truncated,
        totals,
        stats,
        plans: out,
    })
}

/// Commits one order's plan in one transaction: reserves every assignment and moves the lines
/// (`Order::apply_sourcing`). Stock taken meanwhile makes the reservation fail, and then the
/// order is left as it was.
pub async fn commit_plan(store: &Store, commitment: Commitment) -> Result<(), StoreError> {
    let lines = commitment.line_sourcing();
    let reservations = commitment.reservations();
    store
        .update_order_with(
            commitment.order_id,
            move |order, now| order.apply_sourcing(&lines, now),
            move |tx, _, _| crate::inventory::reserve_in(tx, &reservations).map(|_| ()),
        )
        .await?;
    Ok(())
}

/// Why a plan was not committed, as the caller should read it.
fn failure(e: &StoreError) -> String {
    match e {
        StoreError::NotFound(what) => format!("{what} does not exist"),
        StoreError::Domain(iom_domain::DomainError::Conflict(detail)) => detail.clone(),
        other => other.to_string(),
    }
}
