//! Orders: the aggregate is kept as one JSON document, with the columns that lists filter on beside
//! it and one row per line (so orders can be found by SKU and counted per line status).

use iom_domain::{DomainError, EventDraft, Order, OrderId};
use sha2::{Digest, Sha256};

use crate::db::{Conn, Dialect, Value, prefix_upper_bound};
use crate::{Store, StoreError, Tx, micros};

/// A change to an order: applied to the loaded order at the transaction's time, returning the
/// events that announce it.
pub trait OrderChange:
    FnOnce(&mut Order, chrono::DateTime<chrono::Utc>) -> Result<Vec<EventDraft>, DomainError>
    + Send
    + 'static
{
}

impl<F> OrderChange for F where
    F: FnOnce(&mut Order, chrono::DateTime<chrono::Utc>) -> Result<Vec<EventDraft>, DomainError>
        + Send
        + 'static
{
}

/// A client's `Idempotency-Key` and what the request looked like.
#[derive(Debug, Clone)]
pub struct Idempotency {
    /// Keys are unique within a scope (the operation and the caller).
    pub scope: String,
    pub key: String,
    /// A hash of the request body: the same key with another body is refused.
    pub fingerprint: String,
}

impl Idempotency {
    pub fn new(scope: impl Into<String>, key: impl Into<String>, body: &[u8]) -> Self {
        Self {
            scope: scope.into(),
            key: key.into(),
            fingerprint: hex::encode(Sha256::digest(body)),
        }
    }
}

#[derive(Debug, Clone)]
pub enum CreateOutcome {
    Created(Box<Order>),
    /// An order with the same (channel, external_id) exists.
    Duplicate {
        existing_id: OrderId,
    },
    /// The idempotency key was used before for the same request: here is the response given then.
    Replayed {
        status: u16,
        body: String,
    },
    /// The idempotency key was used before for a different request.
    KeyReused,
}

/// Turns an outcome into the response stored with an idempotency key: (status, body).
pub type Render = Box<dyn FnOnce(&CreateOutcome) -> (u16, String) + Send>;

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<String>,
    pub channel: Option<String>,
    /// Only orders of these channels (a caller limited to them); all when `None`.
    pub channels: Option<Vec<String>>,
    pub sku: Option<String>,
    /// Orders with a line assigned to (or shipped from) this node.
    pub node: Option<String>,
    /// Placed at or after this time.
    pub placed_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Placed before this time.
    pub placed_to: Option<chrono::DateTime<chrono::Utc>>,
    /// Matches the order id, the external id, or the customer's e-mail, id or name (prefix).
    pub q: Option<String>,
    /// Open orders by their ship-by time, as the KPIs count them.
    pub due: Option<Due>,
    pub limit: usize,
    /// The id of the last order of the previous page.
    pub cursor: Option<OrderId>,
    /// The sort key of that last order ([`OrderColumn::key_of`]) when the sort is by another
    /// column than the id.
    pub sort_key: Option<String>,
    /// Newest first (by id) unless told otherwise.
    pub sort: OrderSort,
}

/// Open orders (units left to ship) by their ship-by time: the orders behind the "past due" and
/// "in jeopardy" KPIs, counted from the same facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Ship-by before this time.
    Past(chrono::DateTime<chrono::Utc>),
    /// Ship-by from this time to the jeopardy window after it.
    Soon(chrono::DateTime<chrono::Utc>),
}

/// The column an order list is sorted by; ties are broken by the id, in the same direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderColumn {
    /// By id: the order captured last first (ids are time-ordered UUIDs).
    #[default]
    Newest,
    Placed,
    Updated,
    ExternalId,
    Status,
    Channel,
}

impl OrderColumn {
    pub const ALL: [OrderColumn; 6] = [
        OrderColumn::Newest,
        OrderColumn::Placed,
        OrderColumn::Updated,
        OrderColumn::ExternalId,
        OrderColumn::Status,
        OrderColumn::Channel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderColumn::Newest => "id",
            OrderColumn::Placed => "placed_at",
            OrderColumn::Updated => "updated_at",
            OrderColumn::ExternalId => "external_id",
            OrderColumn::Status => "status",
            OrderColumn::Channel => "channel",
        }
    }

    pub fn parse(text: &str) -> Option<OrderColumn> {
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }

    fn sql(self) -> &'static str {
        match self {
            OrderColumn::Newest => "o.id",
            OrderColumn::Placed => "o.placed_at",
            OrderColumn::Updated => "o.updated_at",
            OrderColumn::ExternalId => "o.external_id",
            OrderColumn::Status => "o.status",
            OrderColumn::Channel => "o.channel",
        }
    }

    fn is_integer(self) -> bool {
        matches!(self, OrderColumn::Placed | OrderColumn::Updated)
    }

    /// The value of this column for `order`, as a cursor carries it.
    pub fn key_of(self, order: &Order) -> String {
        match self {
            OrderColumn::Newest => order.id.to_string(),
            OrderColumn::Placed => micros(order.placed_at).to_string(),
            OrderColumn::Updated => micros(order.updated_at).to_string(),
            OrderColumn::ExternalId => order.external_id.clone(),
            OrderColumn::Status => order.status.as_str().to_owned(),
            OrderColumn::Channel => order.channel.clone(),
        }
    }

    /// The value of this column for a summary row.
    pub fn key_of_summary(self, order: &OrderSummary) -> String {
        match self {
            OrderColumn::Newest => order.id.to_string(),
            OrderColumn::Placed => micros(order.placed_at).to_string(),
            OrderColumn::Updated => micros(order.updated_at).to_string(),
            OrderColumn::ExternalId => order.external_id.clone(),
            OrderColumn::Status => order.status.clone(),
            OrderColumn::Channel => order.channel.clone(),
        }
    }
}

/// An order list's sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSort {
    pub column: OrderColumn,
    pub descending: bool,
}

impl Default for OrderSort {
    fn default() -> Self {
        OrderSort {
            column: OrderColumn::Newest,
            descending: true,
        }
    }
}

/// An order as lists and exports show it, read from the columns beside its document.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderSummary {
    pub id: OrderId,
    pub channel: String,
    pub external_id: String,
    pub status: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    pub currency: String,
    /// The total as stored (a decimal string).
    pub total: String,
    pub placed_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// Captures a new order with its `order.received` event, unless the idempotency key or the
    /// (channel, external_id) pair says it already exists.
    pub async fn create_order(
        &self,
        order: Order,
        idempotency: Option<Idempotency>,
        render: Render,
    ) -> Result<CreateOutcome, StoreError> {
        self.write(move |tx| create(tx, order, idempotency, render))
            .await
    }

    /// Loads the order, applies `change` (which returns the events announcing it), and saves the
    /// order and the events in one transaction. The order row is locked for the change.
    pub async fn update_order<F>(&self, id: OrderId, change: F) -> Result<Order, StoreError>
    where
        F: OrderChange,
    {
        self.update_order_with(id, change, |_, _, _| Ok(())).await
    }

    /// As [`Store::update_order`], and `effects` runs in the same transaction with the changed order
    /// and its events: what other parts of the system must do because of the change (inventory
    /// consumed by a shipment, released by a cancellation) commits with it or not at all.
    pub async fn update_order_with<F, E>(
        &self,
        id: OrderId,
        change: F,
        effects: E,
    ) -> Result<Order, StoreError>
    where
        F: OrderChange,
        E: FnOnce(&mut Tx<'_>, &Order, &[EventDraft]) -> Result<(), StoreError> + Send + 'static,
    {
        self.write(move |tx| {
            let now = tx.now();
            let mut order = load(tx.conn(), id, true)?
                .ok_or_else(|| StoreError::NotFound(format!("order {id}")))?;
            let before = order.clone();
            let events = change(&mut order, now)?;
            save(tx.conn(), &before, &order)?;
            effects(tx, &order, &events)?;
            tx.emit_all(events);
            Ok(order)
        })
        .await
    }

    pub async fn get_order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.read(move |c| load(c, id, false)).await
    }

    /// The orders of `ids` that exist, in one read: for consumers of events that look at the
    /// orders of a whole batch.
    pub async fn get_orders(&self, ids: Vec<OrderId>) -> Result<Vec<Order>, StoreError> {
        self.read(move |c| {
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(500) {
                let texts: Vec<String> = chunk.iter().map(OrderId::to_string).collect();
                let placeholders: Vec<String> =
                    (1..=texts.len()).map(|i| format!("${i}")).collect();
                let params: Vec<Value<'_>> = texts.iter().map(|t| Value::Text(t)).collect();
                for row in c.query(
                    &format!(
                        "SELECT doc FROM orders WHERE id IN ({})",
                        placeholders.join(", ")
                    ),
                    &params,
                )? {
                    out.push(serde_json::from_str(row.text(0)?)?);
                }
            }
            Ok(out)
        })
        .await
    }

    pub async fn list_orders(&self, filter: OrderFilter) -> Result<Vec<Order>, StoreError> {
        self.read(move |c| list(c, &filter)).await
    }

    /// How many orders match `filter` (its cursor, sort and limit aside).
    pub async fn count_orders(&self, filter: OrderFilter) -> Result<i64, StoreError> {
        self.read(move |c| count(c, &filter)).await
    }

    /// A page of the orders that match `filter`, as their list columns only (no document to
    /// read): what an export streams, up to 5,000 a page.
    pub async fn order_summaries(
        &self,
        filter: OrderFilter,
    ) -> Result<Vec<OrderSummary>, StoreError> {
        self.read(move |c| summaries(c, &filter)).await
    }
}

fn create(
    tx: &mut Tx<'_>,
    order: Order,
    idempotency: Option<Idempotency>,
    render: Render,
) -> Result<CreateOutcome, StoreError> {
    let now = micros(tx.now());
    if let Some(idem) = &idempotency {
        // Claim the key first: on PostgreSQL a concurrent claim of the same key waits here until
        // the other transaction ends, then sees its stored response.
        let claimed = tx.conn().execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, created_at)
             VALUES ($1, $2, $3, 0, '', $4) ON CONFLICT (scope, key) DO NOTHING",
            &[
                Value::Text(&idem.scope),
                Value::Text(&idem.key),
                Value::Text(&idem.fingerprint),
                Value::Int(now),
            ],
        )?;
        if claimed == 0 {
            let row = tx
                .conn()
                .query_one(
                    "SELECT fingerprint, status, body FROM idempotency_keys WHERE scope = $1 AND key = $2",
                    &[Value::Text(&idem.scope), Value::Text(&idem.key)],
                )?
                .ok_or_else(|| StoreError::Corrupt("idempotency key vanished".into()))?;
            if row.text(0)? != idem.fingerprint {
                return Ok(CreateOutcome::KeyReused);
            }
            return Ok(CreateOutcome::Replayed {
                status: u16::try_from(row.int(1)?).unwrap_or(500),
                body: row.text(2)?.to_owned(),
            });
        }
    }
    let outcome = if insert(tx.conn(), &order)? {
        tx.emit(order.received_event());
        CreateOutcome::Created(Box::new(order))
    } else {
        let existing = tx
            .conn()
            .query_one(
                "SELECT id FROM orders WHERE channel = $1 AND external_id = $2",
                &[Value::Text(&order.channel), Value::Text(&order.external_id)],
            )?
            .ok_or_else(|| StoreError::Corrupt("duplicate order vanished".into()))?;
        CreateOutcome::Duplicate {
            existing_id: parse_id(existing.text(0)?)?,
        }
    };
    if let Some(idem) = &idempotency {
        let (status, body) = render(&outcome);
        tx.conn().execute(
            "UPDATE idempotency_keys SET status = $3, body = $4 WHERE scope = $1 AND key = $2",
            &[
                Value::Text(&idem.scope),
                Value::Text(&idem.key),
                Value::Int(status.into()),
                Value::Text(&body),
            ],
        )?;
    }
    Ok(outcome)
}

/// Inserts the order and its lines; `false` when its (channel, external_id) is taken.
pub fn insert(conn: &mut dyn Conn, order: &Order) -> Result<bool, StoreError> {
    let id = order.id.to_string();
    let doc = serde_json::to_string(order)?;
    let total = order.totals.total.to_string();
    let customer = order.customer.as_ref();
    let inserted = conn.execute(
        "INSERT INTO orders (id, channel, external_id, status, customer_id, customer_email,
             customer_name, currency, total, placed_at, created_at, updated_at, version, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (channel, external_id) DO NOTHING",
        &[
            Value::Text(&id),
            Value::Text(&order.channel),
            Value::Text(&order.external_id),
            Value::Text(order.status.as_str()),
            customer.and_then(|c| c.id.as_ref()).into(),
            customer.and_then(|c| c.email.as_ref()).into(),
            customer.and_then(|c| c.name.as_ref()).into(),
            Value::Text(order.currency.code()),
            Value::Text(&total),
            Value::Int(micros(order.placed_at)),
            Value::Int(micros(order.created_at)),
            Value::Int(micros(order.updated_at)),
            Value::Int(order.version),
            Value::Text(&doc),
        ],
    )?;
    if inserted == 0 {
        return Ok(false);
    }
    let numbers: Vec<(i64, i64)> = order
        .lines
        .iter()
        .map(|l| (i64::from(l.line_no), i64::from(l.quantity)))
        .collect();
    for (lines, numbers) in order.lines.chunks(32).zip(numbers.chunks(32)) {
        let mut params = Vec::with_capacity(lines.len() * 6);
        for (line, (line_no, quantity)) in lines.iter().zip(numbers) {
            params.extend([
                Value::Text(&id),
                Value::Int(*line_no),
                Value::Text(&line.sku),
                Value::Int(*quantity),
                Value::Text(line.status.as_str()),
                line_node(order, line).into(),
            ]);
        }
        let sql = crate::db::multi_row_insert(
            "order_lines (order_id, line_no, sku, quantity, status, node)",
            6,
            lines.len(),
        );
        conn.execute(&sql, &params)?;
    }
    crate::insights::record(conn, None, order)?;
    Ok(true)
}

/// The node a line is listed under: the one it is assigned to, or else the last that shipped it.
fn line_node<'o>(order: &'o Order, line: &'o iom_domain::OrderLine) -> Option<&'o str> {
    line.node.as_deref().or_else(|| {
        order
            .shipments
            .iter()
            .rev()
            .find(|s| s.lines.iter().any(|l| l.line_no == line.line_no))
            .map(|s| s.node.as_str())
    })
}

/// Writes a changed order, whose row the caller locked when it loaded it (`load(.., true)` in
/// this transaction), so nothing else can have changed it meanwhile. The write is deferred (sent
/// with the next statement, see `Conn::execute_deferred`), and the version check is kept as a
/// safety net that needs no answer: a row whose version is not `before`'s would get a NULL
/// version, which its `NOT NULL` refuses, failing the transaction.
pub fn save(conn: &mut dyn Conn, before: &Order, after: &Order) -> Result<(), StoreError> {
    let id = after.id.to_string();
    let doc = serde_json::to_string(after)?;
    let total = after.totals.total.to_string();
    let mut params = vec![
        Value::Text(&id),
        Value::Text(after.status.as_str()),
        Value::Text(&total),
        Value::Int(micros(after.updated_at)),
        Value::Int(after.version),
        Value::Text(&doc),
        Value::Int(before.version),
    ];
    const UPDATE_ORDER: &str = "UPDATE orders SET status = $2, total = $3, updated_at = $4,
             version = CASE WHEN version = $7 THEN CAST($5 AS BIGINT) END, doc = $6
         WHERE id = $1";
    let changed: Vec<(i64, &str, Option<&str>)> = after
        .lines
        .iter()
        .filter_map(|line| {
            let node = line_node(after, line);
            let changed = before
                .line(line.line_no)
                .is_none_or(|b| b.status != line.status || line_node(before, b) != node);
            changed.then(|| (i64::from(line.line_no), line.status.as_str(), node))
        })
        .collect();
    let mut chunks = changed.chunks(LINES_PER_UPDATE);
    if conn.dialect() == Dialect::Postgres
        && let Some(first) = chunks.next()
    {
        // The order and (the first sixteen of) its changed lines in one statement: each
        // statement is a round of the server's work, and a flow step changes both.
        let lines = update_lines_sql(&mut params, first);
        conn.execute_deferred(&format!("WITH lines AS ({lines}) {UPDATE_ORDER}"), &params)?;
    } else {
        conn.execute_deferred(UPDATE_ORDER, &params)?;
    }
    for chunk in chunks {
        let mut params = vec![Value::Text(&id)];
        let sql = update_lines_sql(&mut params, chunk);
        conn.execute_deferred(&sql, &params)?;
    }
    crate::insights::record(conn, Some(before), after)?;
    Ok(())
}

/// Most lines one `UPDATE` of `order_lines` sets.
const LINES_PER_UPDATE: usize = 16;

/// The statement that sets the status and node of several lines of one order (a flow step moves
/// every line of an order at once), with its values appended to `params`, whose `$1` is the
/// order's id.
fn update_lines_sql<'a>(
    params: &mut Vec<Value<'a>>,
    lines: &[(i64, &'a str, Option<&'a str>)],
) -> String {
    let (mut status, mut node, mut numbers) = (String::new(), String::new(), Vec::new());
    for (line_no, line_status, line_node) in lines {
        let n = params.len();
        params.extend([
            Value::Int(*line_no),
            Value::Text(line_status),
            (*line_node).into(),
        ]);
        status.push_str(&format!(" WHEN ${} THEN ${}", n + 1, n + 2));
        node.push_str(&format!(" WHEN ${} THEN ${}", n + 1, n + 3));
        numbers.push(format!("${}", n + 1));
    }
    format!(
        "UPDATE order_lines SET status = CASE line_no{status} END, node = CASE line_no{node} END
         WHERE order_id = $1 AND line_no IN ({})",
        numbers.join(", ")
    )
}

/// Reads an order; `for_update` also locks its row until the transaction ends (PostgreSQL; SQLite
/// has a single writer).
pub fn load(
    conn: &mut dyn Conn,
    id: OrderId,
    for_update: bool,
) -> Result<Option<Order>, StoreError> {
    let sql = if for_update && conn.dialect() == Dialect::Postgres {
        "SELECT doc FROM orders WHERE id = $1 FOR UPDATE"
    } else {
        "SELECT doc FROM orders WHERE id = $1"
    };
    let id = id.to_string();
    match conn.query_one(sql, &[Value::Text(&id)])? {
        None => Ok(None),
        Some(row) => Ok(Some(serde_json::from_str(row.text(0)?)?)),
    }
}

/// A filter's conditions after `WHERE`, with their parameters in order.
fn conditions(conn: &dyn Conn, filter: &OrderFilter, paged: bool) -> (String, Vec<Param>) {
    let mut sql = String::from("1 = 1");
    let mut params: Vec<Param> = Vec::new();
    fn push(sql: &mut String, params: &mut Vec<Param>, clause: &str, value: Param) {
        params.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", params.len())));
    }
    if let Some(status) = &filter.status {
        push(
            &mut sql,
            &mut params,
            " AND o.status = ?",
            Param::Text(status.clone()),
        );
    }
    if let Some(channel) = &filter.channel {
        push(
            &mut sql,
            &mut params,
            " AND o.channel = ?",
            Param::Text(channel.clone()),
        );
    }
    if let Some(channels) = &filter.channels {
        sql.push_str(" AND o.channel IN (NULL");
        for channel in channels {
            push(&mut sql, &mut params, ", ?", Param::Text(channel.clone()));
        }
        sql.push(')');
    }
    // As `IN` rather than a correlated `EXISTS`: the orders of a SKU or node come from the line
    // index (`order_lines_sku`, `order_lines_node`) instead of every order being probed.
    if let Some(sku) = &filter.sku {
        push(
            &mut sql,
            &mut params,
            " AND o.id IN (SELECT order_id FROM order_lines WHERE sku = ?)",
            Param::Text(sku.clone()),
        );
    }
    if let Some(node) = &filter.node {
        push(
            &mut sql,
            &mut params,
            " AND o.id IN (SELECT order_id FROM order_lines WHERE node = ?)",
            Param::Text(node.clone()),
        );
    }
    if let Some(q) = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // Each alternative is its own indexed look-up (migration 0013); a prefix is the range
        // [prefix, prefix with its last character incremented) in byte order.
        let n = params.len();
        let prefix = q.to_lowercase();
        let upper = prefix_upper_bound(&prefix);
        params.extend([q.to_owned(), prefix, upper].map(Param::Text));
        let folded = |column: &str| match conn.dialect() {
            Dialect::Sqlite => format!("lower({column})"),
            Dialect::Postgres => format!("(lower({column}) COLLATE \"C\")"),
        };
        let (email, name) = (folded("customer_email"), folded("customer_name"));
        sql.push_str(&format!(
            " AND o.id IN (SELECT id FROM orders WHERE id = ${a}
               UNION SELECT id FROM orders WHERE external_id = ${a}
               UNION SELECT id FROM orders WHERE customer_id = ${a}
               UNION SELECT id FROM orders WHERE {email} >= ${lo} AND {email} < ${hi}
               UNION SELECT id FROM orders WHERE {name} >= ${lo} AND {name} < ${hi})",
            a = n + 1,
            lo = n + 2,
            hi = n + 3,
        ));
    }
    match filter.due {
        None => {}
        Some(Due::Past(now)) => push(
            &mut sql,
            &mut params,
            " AND o.id IN (SELECT order_id FROM order_facts WHERE open = 1 AND ship_by < ?)",
            Param::Int(micros(now)),
        ),
        Some(Due::Soon(now)) => {
            params.push(Param::Int(micros(now)));
            params.push(Param::Int(micros(
                now + iom_insights::facts::JEOPARDY_WINDOW,
            )));
            sql.push_str(&format!(
                " AND o.id IN (SELECT order_id FROM order_facts
                   WHERE open = 1 AND ship_by >= ${} AND ship_by < ${})",
                params.len() - 1,
                params.len()
            ));
        }
    }
    for (bound, op) in [(filter.placed_from, ">="), (filter.placed_to, "<")] {
        if let Some(at) = bound {
            push(
                &mut sql,
                &mut params,
                &format!(" AND o.placed_at {op} ?"),
                Param::Int(micros(at)),
            );
        }
    }
    if paged && let Some(cursor) = filter.cursor {
        let column = filter.sort.column.sql();
        let (before, ties) = if filter.sort.descending {
            ("<", "<")
        } else {
            (">", ">")
        };
        match (filter.sort.column, &filter.sort_key) {
            (OrderColumn::Newest, _) | (_, None) => push(
                &mut sql,
                &mut params,
                &format!(" AND o.id {ties} ?"),
                Param::Text(cursor.to_string()),
            ),
            (c, Some(key)) => {
                // `column <= key` bounds the index range; the OR keeps the ties after the
                // cursor's id.
                let key = if c.is_integer() {
                    Param::Int(key.parse().unwrap_or_default())
                } else {
                    Param::Text(key.clone())
                };
                params.push(key);
                let k = params.len();
                params.push(Param::Text(cursor.to_string()));
                let id = params.len();
                sql.push_str(&format!(
                    " AND {column} {before}= ${k} AND ({column} {before} ${k} OR o.id {ties} ${id})"
                ));
            }
        }
    }
    (sql, params)
}

/// A parameter of a built statement, owned.
enum Param {
    Text(String),
    Int(i64),
}

fn values(params: &[Param]) -> Vec<Value<'_>> {
    params
        .iter()
        .map(|p| match p {
            Param::Text(t) => Value::Text(t),
            Param::Int(i) => Value::Int(*i),
        })
        .collect()
}

fn order_by(sort: OrderSort) -> String {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    match sort.column {
        OrderColumn::Newest => format!("o.id {dir}"),
        c => format!("{} {dir}, o.id {dir}", c.sql()),
    }
}

/// The ids of a page, chosen before any order row is read: the filters and the sort keys are
/// all in indexes (`orders_filters`, `orders_status`, `orders_placed_id`, …), so however many
/// orders match, finding the page visits index entries only, and then exactly the page's rows
/// are read. Read in one statement, a planner that picks the filter index would otherwise read
/// and sort every matching row, documents and all, to keep 50.
fn page_ids(conditions: &str, sort: OrderSort, limit: usize) -> String {
    format!(
        "o.id IN (SELECT o.id FROM orders o WHERE {conditions} ORDER BY {} LIMIT {limit})",
        order_by(sort)
    )
}

fn list(conn: &mut dyn Conn, filter: &OrderFilter) -> Result<Vec<Order>, StoreError> {
    let (conditions, params) = conditions(&*conn, filter, true);
    let sql = format!(
        "SELECT o.doc FROM orders o WHERE {} ORDER BY {}",
        page_ids(&conditions, filter.sort, filter.limit.clamp(1, 500)),
        order_by(filter.sort),
    );
    conn.query(&sql, &values(&params))?
        .into_iter()
        .map(|row| Ok(serde_json::from_str(row.text(0)?)?))
        .collect()
}

fn count(conn: &mut dyn Conn, filter: &OrderFilter) -> Result<i64, StoreError> {
    let (conditions, params) = conditions(&*conn, filter, false);
    // Filters on the order's own columns are counted from `orders_filters` alone. SQLite's
    // planner, without statistics, would rather take the status or channel index and read every
    // matching row; PostgreSQL's statistics find the index-only scan unaided. A SKU, node,
    // search or due filter is a short list of ids, and those are looked up instead.
    let by_ids = filter.sku.is_some()
        || filter.node.is_some()
        || filter.q.as_deref().is_some_and(|q| !q.trim().is_empty())
        || filter.due.is_some();
    let index = match conn.dialect() {
        Dialect::Sqlite if !by_ids => " INDEXED BY orders_filters",
        _ => "",
    };
    let sql = format!("SELECT COUNT(*) FROM orders o{index} WHERE {conditions}");
    conn.query_one(&sql, &values(&params))?
        .map_or(Ok(0), |r| r.int(0))
}

fn summaries(conn: &mut dyn Conn, filter: &OrderFilter) -> Result<Vec<OrderSummary>, StoreError> {
    let (conditions, params) = conditions(&*conn, filter, true);
    let sql = format!(
        "SELECT o.id, o.channel, o.external_id, o.status, o.customer_name, o.customer_email,
                o.currency, o.total, o.placed_at, o.updated_at
         FROM orders o WHERE {} ORDER BY {}",
        page_ids(&conditions, filter.sort, filter.limit.clamp(1, 5000)),
        order_by(filter.sort),
    );
    conn.query(&sql, &values(&params))?
        .into_iter()
        .map(|r| {
            Ok(OrderSummary {
                id: parse_id(r.text(0)?)?,
                channel: r.text(1)?.to_owned(),
                external_id: r.text(2)?.to_owned(),
                status: r.text(3)?.to_owned(),
                customer_name: r.opt_text(4)?.map(str::to_owned),
                customer_email: r.opt_text(5)?.map(str::to_owned),
                currency: r.text(6)?.to_owned(),
                total: r.text(7)?.to_owned(),
                placed_at: crate::from_micros(r.int(8)?),
                updated_at: crate::from_micros(r.int(9)?),
            })
        })
        .collect()
}

pub(crate) fn parse_id(text: &str) -> Result<OrderId, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad order id {text:?}")))
}

/// The id of the order a channel knows by `external_id`.
pub fn find_by_external_id(
    conn: &mut dyn Conn,
    channel: &str,
    external_id: &str,
) -> Result<Option<OrderId>, StoreError> {
    conn.query_one(
        "SELECT id FROM orders WHERE channel = $1 AND external_id = $2",
        &[Value::Text(channel), Value::Text(external_id)],
    )?
    .map(|row| parse_id(row.text(0)?))
    .transpose()
}
