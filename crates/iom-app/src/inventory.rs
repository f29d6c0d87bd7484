//! Runs the engine's decisions inside store transactions: every change to a balance commits with
//! its ledger lines, reservations and the events that announce it, or not at all.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use iom_domain::{DomainError, EventDraft, FieldError, Order, OrderId};
use iom_store::inventory::{
    self as rows, AllocationRow, Balance, LedgerRow, ReservationRow, ScheduledRow, SkuRow,
    StoredPosition,
};
use iom_store::{Store, StoreError, Tx};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use iom_inventory::engine::{self, AllocationRoom, AtpDay, Change, Key, Position};
use iom_inventory::request;

#[derive(Clone)]
pub struct Inventory {
    store: Store,
}

/// What a batch of changes did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeOutcome {
    pub applied: usize,
    pub duplicates: usize,
    /// The balances the batch changed, after it: `{sku,node,on_hand,reserved,allocated,
    /// safety_stock,available,node_kind?}`.
    #[schema(value_type = Vec<Object>)]
    pub balances: Vec<Balance>,
}

/// A request to hold stock for someone.
#[derive(Debug, Clone)]
pub struct ReserveRequest {
    pub sku: String,
    pub node: String,
    pub quantity: i64,
    pub reference: Option<String>,
    pub order_id: Option<String>,
    pub line_no: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The caller's group (`channel` or `customer_group`, value): its allocation is drawn on first.
    pub group: Option<(String, String)>,
}

/// One SKU across nodes, as `GET /inventory/{sku}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SkuView {
    pub sku: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub allocated: i64,
    pub available: i64,
    pub nodes: Vec<NodeView>,
    /// Totals per node kind (warehouse, store, …).
    pub by_kind: Vec<KindTotal>,
}

/// Documented as `NodeBalance`: the API has a `NodeView` of its own (a node's setup).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = NodeBalance)]
pub struct NodeView {
    pub node: String,
    pub kind: Option<String>,
    pub on_hand: i64,
    pub reserved: i64,
    pub allocated: i64,
    pub safety_stock: i64,
    /// For the caller's group when one is given: its unconsumed allocation at this node is added.
    pub available: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct KindTotal {
    pub kind: String,
    pub on_hand: i64,
    pub available: i64,
}

/// Availability of the SKUs that share one value of an attribute.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AttributeGroup {
    pub value: String,
    pub skus: usize,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

fn to_position(p: &StoredPosition) -> Position {
    Position {
        on_hand: p.on_hand,
        reserved: p.reserved,
        allocated: p.allocated,
        safety_stock: p.safety_override.unwrap_or(p.node_safety),
    }
}

fn store_back(stored: &mut StoredPosition, p: &Position) {
    stored.on_hand = p.on_hand;
    stored.reserved = p.reserved;
    stored.allocated = p.allocated;
}

/// The entry a batch error names (`changes[3].quantity` → 3); errors about the whole batch first.
fn entry_index(field: &str) -> Option<usize> {
    let (_, rest) = field.split_once('[')?;
    rest.split_once(']')?.0.parse().ok()
}

fn invalid(errors: Vec<FieldError>) -> StoreError {
    StoreError::Domain(DomainError::Invalid(errors))
}

fn changed_event(sku: &str, node: &str, p: &StoredPosition, delta: i64) -> EventDraft {
    let position = to_position(p);
    EventDraft::new(
        "inventory.changed",
        sku,
        json!({"sku": sku, "node": node, "on_hand": p.on_hand, "reserved": p.reserved,
               "allocated": p.allocated, "available": position.available(), "delta": delta}),
    )
}

fn reservation_event(kind: &str, r: &ReservationRow, quantity: i64) -> EventDraft {
    let subject = r.order_id.clone().unwrap_or_else(|| r.id.clone());
    EventDraft::new(
        kind,
        subject,
        json!({"reservation_id": r.id, "sku": r.sku, "node": r.node, "quantity": quantity,
               "reference": r.reference, "order_id": r.order_id, "line_no": r.line_no}),
    )
}

/// Totals of available over all nodes for the SKUs that have a low-stock threshold.
fn thresholds(tx: &mut Tx<'_>, skus: &[String]) -> Result<HashMap<String, (i64, i64)>, StoreError> {
    thresholds_with(tx, skus, &mut Lookups::default())
}

fn thresholds_with(
    tx: &mut Tx<'_>,
    skus: &[String],
    lookups: &mut Lookups,
) -> Result<HashMap<String, (i64, i64)>, StoreError> {
    let with_threshold: Vec<(String, i64)> = lookups
        .thresholds(tx, skus)?
        .into_iter()
        .filter_map(|(sku, threshold)| threshold.map(|t| (sku, t)))
        .collect();
    if with_threshold.is_empty() {
        return Ok(HashMap::new());
    }
    let names: Vec<String> = with_threshold.iter().map(|(sku, _)| sku.clone()).collect();
    let totals = totals(tx, &names)?;
    Ok(with_threshold
        .into_iter()
        .map(|(sku, threshold)| {
            let total = totals.get(&sku).copied().unwrap_or(0);
            (sku, (threshold, total))
        })
        .collect())
}

/// What reserving looks up that changes rarely: which nodes exist and each SKU's low-stock
/// threshold. A flow pass reserves for hundreds of orders in one transaction and keeps one of
/// these for the pass ([`reserve_with`]), rather than reading the nodes and SKUs again for every
/// order. Balances are never kept here: they are read for every reservation.
#[derive(Debug, Default)]
pub struct Lookups {
    /// Nodes known to exist. An unknown one is looked up again each time.
    nodes: HashSet<String>,
    /// Each SKU's threshold, `None` when it has none (or no SKU row).
    thresholds: HashMap<String, Option<i64>>,
}

impl Lookups {
    /// The nodes of `codes` that exist.
    fn known_nodes(
        &mut self,
        tx: &mut Tx<'_>,
        codes: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let unseen: Vec<String> = codes
            .iter()
            .filter(|c| !self.nodes.contains(*c))
            .cloned()
            .collect();
        if !unseen.is_empty() {
            self.nodes.extend(rows::known_nodes(tx.conn(), &unseen)?);
        }
        Ok(codes
            .iter()
            .filter(|c| self.nodes.contains(*c))
            .cloned()
            .collect())
    }

    /// Each SKU of `skus` with its threshold.
    fn thresholds(
        &mut self,
        tx: &mut Tx<'_>,
        skus: &[String],
    ) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        let unseen: Vec<String> = skus
            .iter()
            .filter(|s| !self.thresholds.contains_key(*s))
            .cloned()
            .collect();
        if !unseen.is_empty() {
            let found: HashMap<String, Option<i64>> = rows::skus(tx.conn(), &unseen)?
                .into_iter()
                .map(|s: SkuRow| (s.sku, s.low_threshold))
                .collect();
            for sku in unseen {
                let threshold = found.get(&sku).copied().flatten();
                self.thresholds.insert(sku, threshold);
            }
        }
        Ok(skus
            .iter()
            .map(|s| (s.clone(), self.thresholds.get(s).copied().flatten()))
            .collect())
    }
}

fn totals(tx: &mut Tx<'_>, skus: &[String]) -> Result<HashMap<String, i64>, StoreError> {
    let mut out = HashMap::new();
    for b in rows::balances_in(tx.conn(), skus, &[])? {
        *out.entry(b.sku).or_insert(0) += b.available;
    }
    Ok(out)
}

/// Announces `inventory.low` for each SKU whose total available fell below its threshold.
fn announce_low(tx: &mut Tx<'_>, before: HashMap<String, (i64, i64)>) -> Result<(), StoreError> {
    if before.is_empty() {
        return Ok(());
    }
    let skus: Vec<String> = before.keys().cloned().collect();
    let after = totals(tx, &skus)?;
    for (sku, (threshold, was)) in before {
        let now = after.get(&sku).copied().unwrap_or(0);
        if was >= threshold && now < threshold {
            tx.emit(EventDraft::new(
                "inventory.low",
                sku.clone(),
                json!({"sku": sku, "available": now, "threshold": threshold}),
            ));
        }
    }
    Ok(())
}

/// A change batch this large runs in a transaction of its own (`Store::write_solo`): sharing a
/// commit saves it little, and in a shared one it would run under a savepoint.
const SOLO_BATCH: usize = 100;

impl Inventory {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Applies a batch atomically: every entry is checked, and one bad entry applies nothing.
    /// A change id seen before is skipped and counted as a duplicate.
    /// A change batch as a feed sends it: read entry by entry, and when any entry is malformed
    /// the unknown nodes of the others are named in the same answer, so one bad entry does not
    /// hide the rest. Nothing is written unless every entry is sound.
    pub async fn apply_change_entries(
        &self,
        entries: Vec<serde_json::Value>,
    ) -> Result<ChangeOutcome, StoreError> {
        match request::parse_changes(&entries) {
            Ok(changes) => self.apply_changes(changes).await,
            Err(mut errors) => {
                let named: Vec<(usize, String)> = entries
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| {
                        let node = e.get("node")?.as_str()?.trim();
                        (!node.is_empty()).then(|| (i, node.to_owned()))
                    })
                    .collect();
                let nodes = distinct(named.iter().map(|(_, n)| n.clone()));
                let known = self
                    .store
                    .read(move |conn| rows::known_nodes(conn, &nodes))
                    .await?;
                for (i, node) in named {
                    if !known.contains(&node) {
                        errors.push(FieldError::new(
                            format!("changes[{i}].node"),
                            format!("unknown node {node:?}"),
                        ));
                    }
                }
                errors.sort_by_key(|e| entry_index(&e.field));
                Err(invalid(errors))
            }
        }
    }

    pub async fn apply_changes(&self, changes: Vec<Change>) -> Result<ChangeOutcome, StoreError> {
        if changes.len() >= SOLO_BATCH {
            self.store
                .write_solo(move |tx| apply_changes_in(tx, &changes))
                .await
        } else {
            self.store
                .write(move |tx| apply_changes_in(tx, &changes))
                .await
        }
    }

    /// Reserves stock, or refuses with a conflict when available would fall below zero.
    pub async fn reserve(&self, request: ReserveRequest) -> Result<ReservationRow, StoreError> {
        self.store
            .write(move |tx| {
                if request.quantity < 1 {
                    return Err(invalid(vec![FieldError::new(
                        "quantity",
                        "must be at least 1",
                    )]));
                }
                let known = rows::known_nodes(tx.conn(), std::slice::from_ref(&request.node))?;
                if known.is_empty() {
                    return Err(invalid(vec![FieldError::new(
                        "node",
                        format!("unknown node {:?}", request.node),
                    )]));
                }
                let low = thresholds(tx, std::slice::from_ref(&request.sku))?;
                let key = (request.sku.clone(), request.node.clone());
                let mut stored = rows::lock_positions(tx, std::slice::from_ref(&key))?;
                let stored_position = stored.get_mut(&key).expect("locked");
                let mut position = to_position(stored_position);
                let mut allocation = match &request.group {
                    Some((kind, value)) => {
                        rows::allocations(tx.conn(), &request.sku, Some(&request.node))?
                            .into_iter()
                            .find(|a| &a.group_kind == kind && &a.group_value == value)
                    }
                    None => None,
                };
                let mut room = allocation.as_ref().map(|a| AllocationRoom {
                    quantity: a.quantity,
                    consumed: a.consumed,
                });
                let from_allocation =
                    engine::reserve(&mut position, request.quantity, room.as_mut()).map_err(
                        |short| {
                            StoreError::Domain(DomainError::conflict(format!(
                                "only {} of {} can be reserved at {}; {} requested",
                                short.available, request.sku, request.node, request.quantity
                            )))
                        },
                    )?;
                if let (Some(a), Some(room)) = (allocation.as_mut(), room) {
                    a.consumed = room.consumed;
                    rows::upsert_allocation(tx, a)?;
                }
                store_back(stored_position, &position);
                let saved = *stored_position;
                rows::save_positions(tx, &[(&key, &saved)])?;
                let reservation = ReservationRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    sku: request.sku,
                    node: request.node,
                    quantity: request.quantity,
                    reference: request.reference,
                    order_id: request.order_id,
                    line_no: request.line_no,
                    allocation_id: allocation.map(|a| a.id),
                    from_allocation,
                    status: "active".into(),
                    expires_at: request.expires_at,
                    created_at: tx.now(),
                };
                rows::insert_reservations(tx, std::slice::from_ref(&reservation))?;
                tx.emit(reservation_event(
                    "reservation.created",
                    &reservation,
                    reservation.quantity,
                ));
                announce_low(tx, low)?;
                Ok(reservation)
            })
            .await
    }

    /// Reserves several lines in one transaction, all or nothing: see [`reserve_in`].
    pub async fn reserve_all(
        &self,
        requests: Vec<ReserveRequest>,
    ) -> Result<Vec<ReservationRow>, StoreError> {
        self.store.write(move |tx| reserve_in(tx, &requests)).await
    }

    /// Releases a reservation. Releasing one that is no longer active changes nothing.
    pub async fn release(&self, id: String) -> Result<ReservationRow, StoreError> {
        self.store
            .write(move |tx| {
                let reservation = rows::get_reservation(tx.conn(), &id)?
                    .ok_or_else(|| StoreError::NotFound(format!("reservation {id}")))?;
                if reservation.status != "active" {
                    return Ok(reservation);
                }
                if let Some(order) = owning_order(tx, &reservation)? {
                    // Releasing it alone would leave the order released with nothing held, and
                    // the same stock free to be sold again.
                    return Err(DomainError::conflict(format!(
                        "reservation {id} holds stock for order {order}: it is released by \
                         cancelling the order or its line"
                    ))
                    .into());
                }
                end_reservation(tx, reservation, "released")
            })
            .await
    }

    /// Expires every active reservation whose time is up; returns how many.
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        self.store
            .write(|tx| {
                let now = tx.now();
                let due = rows::due_reservations(tx.conn(), now, 500)?;
                let count = due.len();
                for r in due {
                    end_reservation(tx, r, "expired")?;
                }
                Ok(count)
            })
            .await
    }

    pub async fn reservation(&self, id: String) -> Result<Option<ReservationRow>, StoreError> {
        self.store
            .read(move |c| rows::get_reservation(c, &id))
            .await
    }

    /// Schedules a receipt; `false` when its id was scheduled before (the first one stands).
    pub async fn add_supply(&self, supply: ScheduledRow) -> Result<bool, StoreError> {
        self.store
            .write(move |tx| {
                check_node(tx, &supply.node)?;
                let new = rows::insert_supply(tx, &supply)?;
                if new {
                    tx.emit(EventDraft::new(
                        "supply.scheduled",
                        supply.sku.clone(),
                        json!({"id": supply.id, "sku": supply.sku, "node": supply.node,
                               "quantity": supply.quantity, "kind": supply.kind, "expected_at": supply.at}),
                    ));
                }
                Ok(new)
            })
            .await
    }

    /// Schedules demand; `false` when its id was scheduled before.
    pub async fn add_demand(&self, demand: ScheduledRow) -> Result<bool, StoreError> {
        self.store
            .write(move |tx| {
                check_node(tx, &demand.node)?;
                rows::insert_demand(tx, &demand)
            })
            .await
    }

    /// Available-to-promise per day at one node, or over all nodes.
    pub async fn atp(
        &self,
        sku: String,
        node: Option<String>,
        days: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<AtpDay>, StoreError> {
        self.store
            .read(move |c| {
                let nodes: Vec<String> = node.iter().cloned().collect();
                let available: i64 = rows::balances_in(c, std::slice::from_ref(&sku), &nodes)?
                    .iter()
                    .map(|b| b.available)
                    .sum();
                let until = now + chrono::Duration::days(i64::from(days) + 1);
                let (supply, demand) = rows::scheduled(c, &sku, node.as_deref(), until)?;
                let by_date = |rows: &[ScheduledRow]| -> Vec<(chrono::NaiveDate, i64)> {
                    rows.iter()
                        .map(|r| (r.at.date_naive(), r.quantity))
                        .collect()
                };
                Ok(engine::atp(
                    available,
                    now.date_naive(),
                    days,
                    &by_date(&supply),
                    &by_date(&demand),
                ))
            })
            .await
    }

    /// Availability of SKUs across nodes (all nodes when `nodes` is empty). With a group, each node's
    /// available includes that group's unconsumed allocation.
    pub async fn view(
        &self,
        skus: Vec<String>,
        nodes: Vec<String>,
        group: Option<(String, String)>,
    ) -> Result<Vec<SkuView>, StoreError> {
        self.store
            .read(move |c| {
                // Ordered by SKU, so each SKU's balances are one run of the list; a run is moved
                // into its SKU's view (a view of one SKU reads a row per node).
                let mut runs: Vec<Vec<Balance>> = Vec::new();
                for b in rows::balances_in(c, &skus, &nodes)? {
                    match runs.last_mut() {
                        Some(run) if run[0].sku == b.sku => run.push(b),
                        _ => runs.push(vec![b]),
                    }
                }
                let mut by_sku: HashMap<String, Vec<Balance>> = runs
                    .into_iter()
                    .map(|run| (run[0].sku.clone(), run))
                    .collect();
                let mut views: Vec<SkuView> = Vec::with_capacity(skus.len());
                // A SKU asked for twice gets the same view twice.
                let mut seen: HashMap<&str, usize> = HashMap::with_capacity(skus.len());
                for sku in &skus {
                    if let Some(&i) = seen.get(sku.as_str()) {
                        let again = views[i].clone();
                        views.push(again);
                        continue;
                    }
                    seen.insert(sku, views.len());
                    let extra: HashMap<String, i64> = match &group {
                        Some((kind, value)) => rows::allocations(c, sku, None)?
                            .into_iter()
                            .filter(|a| &a.group_kind == kind && &a.group_value == value)
                            .map(|a| (a.node.clone(), (a.quantity - a.consumed).max(0)))
                            .collect(),
                        None => HashMap::new(),
                    };
                    let mut view = SkuView {
                        sku: sku.clone(),
                        on_hand: 0,
                        reserved: 0,
                        allocated: 0,
                        available: 0,
                        nodes: Vec::new(),
                        by_kind: Vec::new(),
                    };
                    for b in by_sku.remove(sku).unwrap_or_default() {
                        let available = b.available + extra.get(&b.node).copied().unwrap_or(0);
                        view.on_hand += b.on_hand;
                        view.reserved += b.reserved;
                        view.allocated += b.allocated;
                        view.available += available;
                        let k = b.node_kind.as_deref().unwrap_or("unknown");
                        match view.by_kind.iter_mut().find(|t| t.kind == k) {
                            Some(t) => {
                                t.on_hand += b.on_hand;
                                t.available += available;
                            }
                            None => view.by_kind.push(KindTotal {
                                kind: k.to_owned(),
                                on_hand: b.on_hand,
                                available,
                            }),
                        }
                        view.nodes.push(NodeView {
                            node: b.node,
                            kind: b.node_kind,
                            on_hand: b.on_hand,
                            reserved: b.reserved,
                            allocated: b.allocated,
                            safety_stock: b.safety_stock,
                            available,
                        });
                    }
                    views.push(view);
                }
                Ok(views)
            })
            .await
    }

    /// Sets (or with `None` clears) the safety stock of one SKU at one node.
    pub async fn set_safety_stock(
        &self,
        sku: String,
        node: String,
        quantity: Option<i64>,
    ) -> Result<Balance, StoreError> {
        self.store
            .write(move |tx| {
                check_node(tx, &node)?;
                let low = thresholds(tx, std::slice::from_ref(&sku))?;
                let key = (sku, node);
                let mut stored = rows::lock_positions(tx, std::slice::from_ref(&key))?;
                let s = stored.get_mut(&key).expect("locked");
                s.safety_override = quantity;
                let saved = *s;
                rows::save_positions(tx, &[(&key, &saved)])?;
                tx.emit(changed_event(&key.0, &key.1, &saved, 0));
                announce_low(tx, low)?;
                let p = to_position(&saved);
                Ok(Balance {
                    sku: key.0,
                    node: key.1,
                    on_hand: p.on_hand,
                    reserved: p.reserved,
                    allocated: p.allocated,
                    safety_stock: p.safety_stock,
                    available: p.available(),
                    node_kind: None,
                })
            })
            .await
    }

    /// Creates or resizes an allocation. Ring-fencing takes from what is available: refused when
    /// there is not enough.
    pub async fn put_allocation(
        &self,
        mut allocation: AllocationRow,
    ) -> Result<AllocationRow, StoreError> {
        self.store
            .write(move |tx| {
                check_node(tx, &allocation.node)?;
                if !matches!(allocation.group_kind.as_str(), "channel" | "customer_group") {
                    return Err(invalid(vec![FieldError::new(
                        "group.kind",
                        "must be channel or customer_group",
                    )]));
                }
                if allocation.quantity < 0 {
                    return Err(invalid(vec![FieldError::new(
                        "quantity",
                        "must not be negative",
                    )]));
                }
                let existing = rows::get_allocation(tx.conn(), &allocation.id)?;
                allocation.consumed = existing.as_ref().map_or(0, |a| a.consumed);
                let old_room = existing
                    .as_ref()
                    .map_or(0, |a| (a.quantity - a.consumed).max(0));
                let new_room = (allocation.quantity - allocation.consumed).max(0);
                let key = (allocation.sku.clone(), allocation.node.clone());
                let mut stored = rows::lock_positions(tx, std::slice::from_ref(&key))?;
                let s = stored.get_mut(&key).expect("locked");
                let mut p = to_position(s);
                p.allocated += new_room - old_room;
                if new_room > old_room && p.available() < 0 {
                    return Err(StoreError::Domain(DomainError::conflict(format!(
                        "only {} of {} is available at {} to set aside",
                        p.available() + new_room - old_room,
                        key.0,
                        key.1
                    ))));
                }
                store_back(s, &p);
                let saved = *s;
                rows::save_positions(tx, &[(&key, &saved)])?;
                rows::upsert_allocation(tx, &allocation)?;
                tx.emit(EventDraft::new(
                    "inventory.allocated",
                    key.0.clone(),
                    json!({"allocation": allocation, "available": p.available()}),
                ));
                Ok(allocation)
            })
            .await
    }

    /// Removes an allocation: what it still ring-fenced becomes available to everyone. Reservations
    /// already drawn on it stay.
    pub async fn delete_allocation(&self, id: String) -> Result<(), StoreError> {
        self.store
            .write(move |tx| {
                let allocation = rows::get_allocation(tx.conn(), &id)?
                    .ok_or_else(|| StoreError::NotFound(format!("allocation {id}")))?;
                let key = (allocation.sku.clone(), allocation.node.clone());
                let mut stored = rows::lock_positions(tx, std::slice::from_ref(&key))?;
                let s = stored.get_mut(&key).expect("locked");
                s.allocated -= (allocation.quantity - allocation.consumed).max(0);
                let saved = *s;
                rows::save_positions(tx, &[(&key, &saved)])?;
                rows::delete_allocation(tx, &id)?;
                tx.emit(EventDraft::new(
                    "inventory.allocation_removed",
                    key.0.clone(),
                    json!({"allocation": allocation, "available": to_position(&saved).available()}),
                ));
                Ok(())
            })
            .await
    }

    /// The active reservations of an order.
    pub async fn order_reservations(
        &self,
        order_id: String,
    ) -> Result<Vec<ReservationRow>, StoreError> {
        self.store
            .read(move |c| rows::order_reservations(c, &order_id, None))
            .await
    }

    pub async fn put_sku(&self, sku: SkuRow) -> Result<(), StoreError> {
        self.store.write(move |tx| rows::put_sku(tx, &sku)).await
    }

    /// Availability grouped by the value of a product attribute (e.g. colour), over all nodes.
    pub async fn by_attribute(&self, attribute: String) -> Result<Vec<AttributeGroup>, StoreError> {
        self.store
            .read(move |c| {
                let products = rows::skus_with_attribute(c, 100_000)?;
                let mut value_of: HashMap<String, String> = HashMap::new();
                for p in products {
                    if let Some(v) = p.attributes.get(&attribute) {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        value_of.insert(p.sku, v);
                    }
                }
                let skus: Vec<String> = value_of.keys().cloned().collect();
                let mut groups: Vec<AttributeGroup> = Vec::new();
                let mut members: HashMap<String, HashSet<String>> = HashMap::new();
                for b in rows::balances_in(c, &skus, &[])? {
                    let value = value_of[&b.sku].clone();
                    members
                        .entry(value.clone())
                        .or_default()
                        .insert(b.sku.clone());
                    match groups.iter_mut().find(|g| g.value == value) {
                        Some(g) => {
                            g.on_hand += b.on_hand;
                            g.reserved += b.reserved;
                            g.available += b.available;
                        }
                        None => groups.push(AttributeGroup {
                            value,
                            skus: 0,
                            on_hand: b.on_hand,
                            reserved: b.reserved,
                            available: b.available,
                        }),
                    }
                }
                for g in &mut groups {
                    g.skus = members.get(&g.value).map_or(0, HashSet::len);
                }
                groups.sort_by(|a, b| a.value.cmp(&b.value));
                Ok(groups)
            })
            .await
    }
}

/// Applies a batch of on-hand changes inside the caller's transaction, as
/// [`Inventory::apply_changes`] does: all or nothing, a change id seen before skipped. Returns and
/// other flows that put stock back use it so the units commit with the change that caused them.
pub fn apply_changes_in(tx: &mut Tx<'_>, changes: &[Change]) -> Result<ChangeOutcome, StoreError> {
    let ids: Vec<String> = changes.iter().map(|c| c.id.clone()).collect();
    let seen = rows::seen_changes(tx.conn(), &ids)?;
    let nodes = distinct(changes.iter().map(|c| c.node.clone()));
    let known = rows::known_nodes(tx.conn(), &nodes)?;
    let keys: Vec<Key> = distinct(
        changes
            .iter()
            .filter(|c| known.contains(&c.node) && !seen.contains(&c.id))
            .map(|c| (c.sku.clone(), c.node.clone())),
    );
    let skus = distinct(keys.iter().map(|k| k.0.clone()));
    let low = thresholds(tx, &skus)?;
    let mut stored = rows::lock_positions(tx, &keys)?;
    let mut positions: HashMap<Key, Position> = stored
        .iter()
        .map(|(k, p)| (k.clone(), to_position(p)))
        .collect();
    let outcome = engine::apply_changes(&mut positions, changes, &known, &seen).map_err(invalid)?;
    let ledger: Vec<LedgerRow> = outcome
        .applied
        .iter()
        .map(|&(i, delta, after)| {
            let c = &changes[i];
            LedgerRow {
                change_id: c.id.clone(),
                sku: c.sku.clone(),
                node: c.node.clone(),
                kind: match c.kind {
                    engine::ChangeKind::Delta => "delta".into(),
                    engine::ChangeKind::Set => "set".into(),
                },
                quantity: c.quantity,
                delta,
                on_hand_after: after,
                reason: c.reason.clone(),
                source: c.source.clone(),
            }
        })
        .collect();
    rows::insert_ledger(tx, &ledger)?;
    let mut deltas: HashMap<(&str, &str), i64> = HashMap::new();
    for &(i, delta, _) in &outcome.applied {
        let c = &changes[i];
        *deltas.entry((c.sku.as_str(), c.node.as_str())).or_insert(0) += delta;
    }
    let mut touched = Vec::with_capacity(outcome.touched.len());
    for key in &outcome.touched {
        let s = stored.get_mut(key).expect("touched positions were loaded");
        store_back(s, &positions[key]);
        touched.push((key, *s));
    }
    let refs: Vec<(&Key, &StoredPosition)> = touched.iter().map(|(k, p)| (*k, p)).collect();
    rows::save_positions(tx, &refs)?;
    let mut balances = Vec::with_capacity(touched.len());
    for (key, p) in &touched {
        tx.emit(changed_event(
            &key.0,
            &key.1,
            p,
            deltas
                .get(&(key.0.as_str(), key.1.as_str()))
                .copied()
                .unwrap_or(0),
        ));
        let position = to_position(p);
        balances.push(Balance {
            sku: key.0.clone(),
            node: key.1.clone(),
            on_hand: p.on_hand,
            reserved: p.reserved,
            allocated: p.allocated,
            safety_stock: position.safety_stock,
            available: position.available(),
            node_kind: None,
        });
    }
    announce_low(tx, low)?;
    Ok(ChangeOutcome {
        applied: outcome.applied.len(),
        duplicates: outcome.duplicates.len(),
        balances,
    })
}

/// Reserves several lines inside the caller's transaction, all or nothing: if one does not fit,
/// none is made and the conflict names every line that did not fit (`reservations[i]`).
pub fn reserve_in(
    tx: &mut Tx<'_>,
    requests: &[ReserveRequest],
) -> Result<Vec<ReservationRow>, StoreError> {
    reserve_with(tx, requests, &mut Lookups::default())
}

/// [`reserve_in`] with the nodes and SKUs looked up through `lookups`, which the caller keeps
/// across several reservations of one transaction.
pub fn reserve_with(
    tx: &mut Tx<'_>,
    requests: &[ReserveRequest],
    lookups: &mut Lookups,
) -> Result<Vec<ReservationRow>, StoreError> {
    let mut errors = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if r.quantity < 1 {
            errors.push(FieldError::new(
                format!("reservations[{i}].quantity"),
                "must be at least 1",
            ));
        }
    }
    let nodes = distinct(requests.iter().map(|r| r.node.clone()));
    let known = lookups.known_nodes(tx, &nodes)?;
    for (i, r) in requests.iter().enumerate() {
        if !known.contains(&r.node) {
            errors.push(FieldError::new(
                format!("reservations[{i}].node"),
                format!("unknown node {:?}", r.node),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let keys: Vec<Key> = distinct(requests.iter().map(|r| (r.sku.clone(), r.node.clone())));
    let skus = distinct(keys.iter().map(|k| k.0.clone()));
    let low = thresholds_with(tx, &skus, lookups)?;
    let mut stored = rows::lock_positions(tx, &keys)?;
    let mut positions: HashMap<Key, Position> = stored
        .iter()
        .map(|(k, p)| (k.clone(), to_position(p)))
        .collect();
    let mut allocations: HashMap<String, AllocationRow> = HashMap::new();
    let mut short = Vec::new();
    let mut made = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let key = (r.sku.clone(), r.node.clone());
        let allocation = match &r.group {
            Some((kind, value)) => {
                let found = rows::allocations(tx.conn(), &r.sku, Some(&r.node))?
                    .into_iter()
                    .find(|a| &a.group_kind == kind && &a.group_value == value);
                found.map(|a| allocations.entry(a.id.clone()).or_insert(a).id.clone())
            }
            None => None,
        };
        let mut room = allocation.as_ref().map(|id| AllocationRoom {
            quantity: allocations[id].quantity,
            consumed: allocations[id].consumed,
        });
        let position = positions.get_mut(&key).expect("locked");
        match engine::reserve(position, r.quantity, room.as_mut()) {
            Ok(from_allocation) => {
                if let (Some(id), Some(room)) = (&allocation, room) {
                    allocations.get_mut(id).expect("loaded").consumed = room.consumed;
                }
                made.push((i, allocation, from_allocation));
            }
            Err(s) => short.push(FieldError::new(
                format!("reservations[{i}]"),
                format!(
                    "only {} of {} can be reserved at {}; {} requested",
                    s.available, r.sku, r.node, r.quantity
                ),
            )),
        }
    }
    if !short.is_empty() {
        let detail = short
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(StoreError::Domain(DomainError::conflict(detail)));
    }
    for a in allocations.values() {
        rows::upsert_allocation(tx, a)?;
    }
    let mut touched = Vec::with_capacity(keys.len());
    for key in &keys {
        let s = stored.get_mut(key).expect("locked");
        store_back(s, &positions[key]);
        touched.push((key, *s));
    }
    let refs: Vec<(&Key, &StoredPosition)> = touched.iter().map(|(k, p)| (*k, p)).collect();
    rows::save_positions(tx, &refs)?;
    let now = tx.now();
    let mut out = Vec::with_capacity(made.len());
    for (i, allocation_id, from_allocation) in made {
        let r = &requests[i];
        let reservation = ReservationRow {
            id: uuid::Uuid::now_v7().to_string(),
            sku: r.sku.clone(),
            node: r.node.clone(),
            quantity: r.quantity,
            reference: r.reference.clone(),
            order_id: r.order_id.clone(),
            line_no: r.line_no,
            allocation_id,
            from_allocation,
            status: "active".into(),
            expires_at: r.expires_at,
            created_at: now,
        };
        tx.emit(reservation_event(
            "reservation.created",
            &reservation,
            reservation.quantity,
        ));
        out.push(reservation);
    }
    rows::insert_reservations(tx, &out)?;
    announce_low(tx, low)?;
    Ok(out)
}

/// The items sorted, each once: the (sku, node) pairs, nodes and SKUs a batch touches.
fn distinct<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort();
    items.dedup();
    items
}

fn check_node(tx: &mut Tx<'_>, node: &str) -> Result<(), StoreError> {
    if rows::known_nodes(tx.conn(), &[node.to_owned()])?.is_empty() {
        return Err(invalid(vec![FieldError::new(
            "node",
            format!("unknown node {node:?}"),
        )]));
    }
    Ok(())
}

/// Ends an active reservation (`released` or `expired`), giving its units back.
fn end_reservation(
    tx: &mut Tx<'_>,
    mut r: ReservationRow,
    status: &str,
) -> Result<ReservationRow, StoreError> {
    let quantity = r.quantity;
    give_back(tx, &mut r, quantity)?;
    r.status = status.to_owned();
    rows::update_reservation(tx, &r)?;
    let kind = if status == "expired" {
        "reservation.expired"
    } else {
        "reservation.released"
    };
    tx.emit(reservation_event(kind, &r, quantity));
    Ok(r)
}

/// Returns `quantity` of a reservation to its position (and its allocation first).
fn give_back(tx: &mut Tx<'_>, r: &mut ReservationRow, quantity: i64) -> Result<(), StoreError> {
    let key = (r.sku.clone(), r.node.clone());
    let mut stored = rows::lock_positions(tx, std::slice::from_ref(&key))?;
    let s = stored.get_mut(&key).expect("locked");
    let mut p = to_position(s);
    let mut allocation = match &r.allocation_id {
        Some(id) => rows::get_allocation(tx.conn(), id)?,
        None => None,
    };
    let mut room = allocation.as_ref().map(|a| AllocationRoom {
        quantity: a.quantity,
        consumed: a.consumed,
    });
    let back = engine::release(&mut p, quantity, r.from_allocation, room.as_mut());
    if let (Some(a), Some(room)) = (allocation.as_mut(), room) {
        a.consumed = room.consumed;
        rows::upsert_allocation(tx, a)?;
    }
    r.from_allocation -= back;
    r.quantity -= quantity;
    store_back(s, &p);
    let saved = *s;
    rows::save_positions(tx, &[(&key, &saved)])
}

/// What an order change does to inventory, in the same transaction: a shipment consumes the
/// shipped lines' reservations at the shipping node (on-hand and reserved both drop); a
/// cancellation releases the cancelled quantity's reservations. A shipment with no reservation
/// behind it leaves on-hand to the node's own stock feed.
pub fn order_effects(
    tx: &mut Tx<'_>,
    order: &Order,
    events: &[EventDraft],
) -> Result<(), StoreError> {
    let order_id = order.id.to_string();
    for event in events {
        match event.kind.as_str() {
            "order.shipment_created" => {
                let node = event.data["node"].as_str().unwrap_or_default();
                let shipment = event.data["id"].as_str().unwrap_or_default();
                // The order's reservations are read once for all the shipment's lines.
                let mut active = rows::order_reservations(tx.conn(), &order_id, None)?;
                let mut taken = Vec::new();
                for line in event.data["lines"].as_array().into_iter().flatten() {
                    let line_no = line["line_no"].as_i64().unwrap_or_default();
                    let mut left = line["quantity"].as_i64().unwrap_or_default();
                    for r in active.iter_mut() {
                        if left == 0 {
                            break;
                        }
                        if r.line_no != Some(line_no) || r.node != node || r.quantity == 0 {
                            continue;
                        }
                        let take = left.min(r.quantity);
                        left -= take;
                        taken.push((r.clone(), take));
                        r.quantity -= take;
                    }
                }
                consume_reservations(tx, taken, shipment)?;
            }
            // An amendment gives back what was reserved for the lines it sends to be sourced
            // again, as a cancellation does for what it cancels.
            kind @ ("order.cancelled" | "order.line_cancelled" | "order.amended") => {
                let key = if kind == "order.amended" {
                    "released"
                } else {
                    "lines"
                };
                for line in event.data[key].as_array().into_iter().flatten() {
                    let line_no = line["line_no"].as_i64().unwrap_or_default();
                    let mut left = line["quantity"].as_i64().unwrap_or_default();
                    for mut r in rows::order_reservations(tx.conn(), &order_id, Some(line_no))? {
                        if left == 0 {
                            break;
                        }
                        let take = left.min(r.quantity);
                        left -= take;
                        if take == r.quantity {
                            end_reservation(tx, r, "released")?;
                        } else {
                            give_back(tx, &mut r, take)?;
                            rows::update_reservation(tx, &r)?;
                            tx.emit(reservation_event("reservation.released", &r, take));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Consumes `quantity` of each reservation, in order: the shipped units leave on-hand and the
/// reservation, with a ledger line each. The balances they touch are locked, and the ledger
/// lines written, in one statement each however many lines the shipment has.
fn consume_reservations(
    tx: &mut Tx<'_>,
    taken: Vec<(ReservationRow, i64)>,
    shipment: &str,
) -> Result<(), StoreError> {
    if taken.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<Key> = taken
        .iter()
        .map(|(r, _)| (r.sku.clone(), r.node.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let mut stored = rows::lock_positions(tx, &keys)?;
    let mut ledger = Vec::with_capacity(taken.len());
    let mut events = Vec::with_capacity(taken.len() * 2);
    let mut consumed = Vec::with_capacity(taken.len());
    for (mut r, quantity) in taken {
        let key = (r.sku.clone(), r.node.clone());
        let s = stored.get_mut(&key).expect("locked");
        let mut p = to_position(s);
        engine::consume(&mut p, quantity);
        store_back(s, &p);
        ledger.push(LedgerRow {
            change_id: format!("shipment:{shipment}:{}", r.id),
            sku: r.sku.clone(),
            node: r.node.clone(),
            kind: "consume".into(),
            quantity,
            delta: -quantity,
            on_hand_after: s.on_hand,
            reason: Some("shipped".into()),
            source: r.order_id.clone(),
        });
        r.quantity -= quantity;
        r.from_allocation = r.from_allocation.min(r.quantity);
        if r.quantity == 0 {
            r.status = "consumed".into();
        }
        events.push(reservation_event("reservation.consumed", &r, quantity));
        events.push(changed_event(&key.0, &key.1, s, -quantity));
        consumed.push(r);
    }
    let saved: Vec<(&Key, &StoredPosition)> = keys.iter().map(|k| (k, &stored[k])).collect();
    rows::save_positions(tx, &saved)?;
    rows::insert_ledger(tx, &ledger)?;
    for r in &consumed {
        rows::update_reservation(tx, r)?;
    }
    tx.emit_all(events);
    Ok(())
}

/// The iom order a reservation holds stock for, when it names one that exists: such a
/// reservation changes only through the order. A reservation made through the API for another
/// system's order (an id iom does not know) stays the caller's to release.
fn owning_order(
    tx: &mut Tx<'_>,
    reservation: &ReservationRow,
) -> Result<Option<OrderId>, StoreError> {
    let Some(order) = reservation
        .order_id
        .as_deref()
        .and_then(|id| id.parse::<OrderId>().ok())
    else {
        return Ok(None);
    };
    Ok(iom_store::orders::load(tx.conn(), order, false)?.map(|_| order))
}
