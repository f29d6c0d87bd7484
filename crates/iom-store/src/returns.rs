//! Return orders, kept like orders: the aggregate as one JSON document with the columns that lists
//! filter on beside it; and the return policy as one JSON document. The row operations take a
//! connection so that the returns service can combine them with the order's and the inventory's in
//! one transaction.

use iom_domain::{OrderId, ReturnOrder, ReturnPolicy};

use crate::db::{Conn, Dialect, Value};
use crate::keyset::{After, Column, Conditions, Param, Sort};
use crate::{Store, StoreError, Tx, micros};

/// The name of the policy that applies to every return (one today; the table allows more).
pub const DEFAULT_POLICY: &str = "default";

#[derive(Debug, Clone, Default)]
pub struct ReturnFilter {
    pub status: Option<String>,
    pub order_id: Option<OrderId>,
    pub origin: Option<String>,
    pub channel: Option<String>,
    pub limit: usize,
    /// The id of the last return of the previous page.
    pub cursor: Option<String>,
    /// That return's value of the sort's column, when the sort is by another column than the id.
    pub sort_key: Option<String>,
    /// Newest first unless told otherwise.
    pub sort: Sort<ReturnColumn>,
}

/// What a return list is sorted by; ties are broken by the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnColumn {
    /// By id: ids are time-ordered, so this is the order they were created in.
    Created,
    Updated,
    Status,
    /// By the order's id, which is time-ordered: returns of the same order come together, in
    /// the order the orders were captured.
    Order,
}

impl Column for ReturnColumn {
    const ALL: &'static [Self] = &[
        ReturnColumn::Created,
        ReturnColumn::Updated,
        ReturnColumn::Status,
        ReturnColumn::Order,
    ];

    fn as_str(self) -> &'static str {
        match self {
            ReturnColumn::Created => "created",
            ReturnColumn::Updated => "updated",
            ReturnColumn::Status => "status",
            ReturnColumn::Order => "order",
        }
    }

    fn sql(self) -> Option<&'static str> {
        match self {
            ReturnColumn::Created => None,
            ReturnColumn::Updated => Some("updated_at"),
            ReturnColumn::Status => Some("status"),
            ReturnColumn::Order => Some("order_id"),
        }
    }

    fn is_integer(self) -> bool {
        self == ReturnColumn::Updated
    }
}

impl ReturnColumn {
    /// The value of this column for `ret`, as a cursor carries it.
    pub fn key_of(self, ret: &ReturnOrder) -> String {
        match self {
            ReturnColumn::Created => ret.id.clone(),
            ReturnColumn::Updated => micros(ret.updated_at).to_string(),
            ReturnColumn::Status => ret.status.as_str().to_owned(),
            ReturnColumn::Order => ret.order_id.to_string(),
        }
    }
}

/// A node as returns see it: where it is and whether it takes returns.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDoc {
    pub code: String,
    pub active: bool,
    pub doc: serde_json::Value,
}

impl Store {
    pub async fn get_return(&self, id: String) -> Result<Option<ReturnOrder>, StoreError> {
        self.read(move |c| load(c, &id, false)).await
    }

    pub async fn list_returns(&self, filter: ReturnFilter) -> Result<Vec<ReturnOrder>, StoreError> {
        self.read(move |c| list(c, &filter)).await
    }

    /// How many returns match `filter` (its cursor and limit aside), counted up to one past
    /// [`COUNT_CAP`](crate::keyset::COUNT_CAP).
    pub async fn count_returns(&self, filter: ReturnFilter) -> Result<i64, StoreError> {
        self.read(move |c| count(c, &filter)).await
    }

    /// The return policy in force: the stored one, or the defaults.
    pub async fn return_policy(&self) -> Result<ReturnPolicy, StoreError> {
        self.read(|c| policy(c)).await
    }

    /// Replaces the return policy and announces `return_policy.updated`.
    pub async fn put_return_policy(&self, policy: ReturnPolicy) -> Result<(), StoreError> {
        self.write(move |tx| put_policy_in(tx, &policy)).await
    }
}

/// Replaces the return policy inside a write (see [`Store::put_return_policy`]).
pub fn put_policy_in(tx: &mut Tx<'_>, policy: &ReturnPolicy) -> Result<(), StoreError> {
    let now = micros(tx.now());
    let doc = serde_json::to_value(policy)?;
    let before = crate::audit::stored_doc(tx.conn(), "return_policies", DEFAULT_POLICY)?;
    tx.audit(
        &format!("return-policy:{DEFAULT_POLICY}"),
        before.as_ref(),
        Some(&doc),
    )?;
    let text = doc.to_string();
    tx.conn().execute(
        "INSERT INTO return_policies (name, doc, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        &[
            Value::Text(DEFAULT_POLICY),
            Value::Text(&text),
            Value::Int(now),
        ],
    )?;
    tx.emit(iom_domain::EventDraft::new(
        "return_policy.updated",
        format!("return_policy:{DEFAULT_POLICY}"),
        doc,
    ));
    Ok(())
}

/// The stored policy, or the defaults when none was configured.
pub fn policy(conn: &mut dyn Conn) -> Result<ReturnPolicy, StoreError> {
    match conn.query_one(
        "SELECT doc FROM return_policies WHERE name = $1",
        &[Value::Text(DEFAULT_POLICY)],
    )? {
        None => Ok(ReturnPolicy::default()),
        Some(row) => Ok(serde_json::from_str(row.text(0)?)?),
    }
}

/// Inserts a new return; `Err(existing id)` when the order already has a return with its
/// reference.
pub fn insert(conn: &mut dyn Conn, ret: &ReturnOrder) -> Result<Result<(), String>, StoreError> {
    if let Some(reference) = &ret.reference {
        let order_id = ret.order_id.to_string();
        if let Some(row) = conn.query_one(
            "SELECT id FROM returns WHERE order_id = $1 AND reference = $2",
            &[Value::Text(&order_id), Value::Text(reference)],
        )? {
            return Ok(Err(row.text(0)?.to_owned()));
        }
    }
    let doc = serde_json::to_string(ret)?;
    let order_id = ret.order_id.to_string();
    conn.execute(
        "INSERT INTO returns (id, order_id, status, origin, channel, reference, created_at,
             updated_at, version, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            Value::Text(&ret.id),
            Value::Text(&order_id),
            Value::Text(ret.status.as_str()),
            Value::Text(ret.origin.as_str()),
            Value::Text(&ret.channel),
            ret.reference.as_ref().into(),
            Value::Int(micros(ret.created_at)),
            Value::Int(micros(ret.updated_at)),
            Value::Int(ret.version),
            Value::Text(&doc),
        ],
    )?;
    Ok(Ok(()))
}

/// Writes a changed return; the version check is a safety net under the row lock.
pub fn save(
    conn: &mut dyn Conn,
    before: &ReturnOrder,
    after: &ReturnOrder,
) -> Result<(), StoreError> {
    let doc = serde_json::to_string(after)?;
    let updated = conn.execute(
        "UPDATE returns SET status = $2, updated_at = $3, version = $4, doc = $5
         WHERE id = $1 AND version = $6",
        &[
            Value::Text(&after.id),
            Value::Text(after.status.as_str()),
            Value::Int(micros(after.updated_at)),
            Value::Int(after.version),
            Value::Text(&doc),
            Value::Int(before.version),
        ],
    )?;
    if updated != 1 {
        return Err(StoreError::Domain(iom_domain::DomainError::conflict(
            "the return changed meanwhile; try again",
        )));
    }
    Ok(())
}

/// Reads a return; `for_update` locks its row until the transaction ends (PostgreSQL; SQLite has
/// a single writer).
pub fn load(
    conn: &mut dyn Conn,
    id: &str,
    for_update: bool,
) -> Result<Option<ReturnOrder>, StoreError> {
    let sql = if for_update && conn.dialect() == Dialect::Postgres {
        "SELECT doc FROM returns WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT doc FROM returns WHERE id = $1"
    };
    match conn.query_one(sql, &[Value::Text(id)])? {
        None => Ok(None),
        Some(row) => Ok(Some(serde_json::from_str(row.text(0)?)?)),
    }
}

/// The return an order has under a source system's reference.
pub fn by_reference(
    conn: &mut dyn Conn,
    order_id: OrderId,
    reference: &str,
) -> Result<Option<ReturnOrder>, StoreError> {
    let order_id = order_id.to_string();
    match conn.query_one(
        "SELECT doc FROM returns WHERE order_id = $1 AND reference = $2",
        &[Value::Text(&order_id), Value::Text(reference)],
    )? {
        None => Ok(None),
        Some(row) => Ok(Some(serde_json::from_str(row.text(0)?)?)),
    }
}

/// Every node's definition, for choosing where a return goes.
pub fn nodes(conn: &mut dyn Conn) -> Result<Vec<NodeDoc>, StoreError> {
    conn.query("SELECT code, active, doc FROM nodes ORDER BY code", &[])?
        .into_iter()
        .map(|r| {
            Ok(NodeDoc {
                code: r.text(0)?.to_owned(),
                active: r.int(1)? != 0,
                doc: serde_json::from_str(r.text(2)?)?,
            })
        })
        .collect()
}

fn count(conn: &mut dyn Conn, filter: &ReturnFilter) -> Result<i64, StoreError> {
    conditions(filter, false).count_capped(conn, "returns")
}

fn list(conn: &mut dyn Conn, filter: &ReturnFilter) -> Result<Vec<ReturnOrder>, StoreError> {
    let conditions = conditions(filter, true);
    let sql = format!(
        "SELECT doc FROM returns WHERE {} ORDER BY {} LIMIT {}",
        conditions.sql,
        filter.sort.order_by("id"),
        filter.limit.clamp(1, 500)
    );
    conn.query(&sql, &conditions.values())?
        .into_iter()
        .map(|row| Ok(serde_json::from_str(row.text(0)?)?))
        .collect()
}

/// A filter's conditions after `WHERE`, with their parameters; `paged`, those of its cursor too.
fn conditions(filter: &ReturnFilter, paged: bool) -> Conditions {
    let mut conditions = Conditions::new();
    let text = |v: &String| Param::Text(v.clone());
    if let Some(status) = &filter.status {
        conditions.and("status = ?", text(status));
    }
    if let Some(order_id) = filter.order_id {
        conditions.and("order_id = ?", Param::Text(order_id.to_string()));
    }
    if let Some(origin) = &filter.origin {
        conditions.and("origin = ?", text(origin));
    }
    if let Some(channel) = &filter.channel {
        conditions.and("channel = ?", text(channel));
    }
    if paged && let Some(cursor) = &filter.cursor {
        let after = After {
            key: filter.sort_key.clone(),
            id: cursor.clone(),
        };
        conditions.after(filter.sort, "id", &after);
    }
    conditions
}
