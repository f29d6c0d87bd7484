//! Counts for the operations overview (the web UI's dashboard): orders per status, channel and
//! day, unfinished provider messages, the latest events. Each is answered from an index (status
//! and channel, message status) or the daily roll-up (orders per day), never from the order
//! documents.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::{Conn, Value};
use crate::events::Event;
use crate::{Store, StoreError, micros};

const MICROS_PER_DAY: i64 = 86_400_000_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    /// (status, orders), by status.
    pub by_status: Vec<(String, i64)>,
    /// (channel, orders), by channel.
    pub by_channel: Vec<(String, i64)>,
    /// (day, orders placed that day), for every day from `since` to today, oldest first.
    pub per_day: Vec<(NaiveDate, i64)>,
    /// Provider messages that are `failed` or `dead`, per provider.
    pub failed_messages: Vec<(String, i64)>,
    /// The latest business events, newest first.
    pub recent_events: Vec<Event>,
}

impl Overview {
    pub fn orders(&self) -> i64 {
        self.by_status.iter().map(|(_, n)| n).sum()
    }

    pub fn with_status(&self, status: &str) -> i64 {
        self.by_status
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    }
}

impl Store {
    /// The overview of orders placed since the start of `since`'s day (per day), and of all
    /// orders (per status and channel).
    pub async fn overview(
        &self,
        since: NaiveDate,
        now: DateTime<Utc>,
        recent: usize,
    ) -> Result<Overview, StoreError> {
        self.read(move |c| overview(c, since, now, recent)).await
    }
}

fn overview(
    conn: &mut dyn Conn,
    since: NaiveDate,
    now: DateTime<Utc>,
    recent: usize,
) -> Result<Overview, StoreError> {
    let pairs = |conn: &mut dyn Conn, sql: &str, params: &[Value<'_>]| {
        conn.query(sql, params)?
            .into_iter()
            .map(|r| Ok((r.text(0)?.to_owned(), r.int(1)?)))
            .collect::<Result<Vec<_>, StoreError>>()
    };
    // Both breakdowns from one pass over `orders_filters`, which leads with (status, channel).
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_channel: BTreeMap<String, i64> = BTreeMap::new();
    for row in conn.query(
        "SELECT status, channel, COUNT(*) FROM orders GROUP BY status, channel",
        &[],
    )? {
        let n = row.int(2)?;
        *by_status.entry(row.text(0)?.to_owned()).or_default() += n;
        *by_channel.entry(row.text(1)?.to_owned()).or_default() += n;
    }
    let (by_status, by_channel) = (
        by_status.into_iter().collect(),
        by_channel.into_iter().collect(),
    );
    let failed_messages = pairs(
        conn,
        "SELECT provider, COUNT(*) FROM provider_messages WHERE status IN ('failed', 'dead')
         GROUP BY provider ORDER BY provider",
        &[],
    )?;
    let start = micros(since.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    // From the daily roll-up the insights keep in step with every order (a UTC day's orders
    // are one row per channel, currency and region), not from the orders themselves.
    let counted: Vec<(i64, i64)> = conn
        .query(
            "SELECT day / 86400000000, CAST(SUM(orders) AS BIGINT) FROM order_facts_daily
             WHERE day >= $1
             GROUP BY day",
            &[Value::Int(start)],
        )?
        .into_iter()
        .map(|r| Ok((r.int(0)?, r.int(1)?)))
        .collect::<Result<_, StoreError>>()?;
    let mut per_day = Vec::new();
    let mut day = since;
    while day <= now.date_naive() {
        let index = micros(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()) / MICROS_PER_DAY;
        let n = counted
            .iter()
            .find(|(d, _)| *d == index)
            .map_or(0, |(_, n)| *n);
        per_day.push((day, n));
        day = match day.succ_opt() {
            Some(next) => next,
            None => break,
        };
    }
    let recent_events = conn
        .query(
            &format!(
                "SELECT {} FROM events ORDER BY seq DESC LIMIT {}",
                crate::events::EVENT_COLUMNS,
                recent.clamp(1, 200)
            ),
            &[],
        )?
        .into_iter()
        .map(crate::events::event)
        .collect::<Result<_, _>>()?;
    Ok(Overview {
        by_status,
        by_channel,
        per_day,
        failed_messages,
        recent_events,
    })
}

/// SKUs that have a stock position, in order, after `after`, beginning with `prefix`.
pub fn inventory_skus(
    conn: &mut dyn Conn,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    sku_page(conn, prefix, after, limit, false)
}

/// The conditions on `inventory_balances` of SKUs beginning with `prefix`, with their
/// parameters.
fn sku_prefix<'a>(prefix: &'a str, upper: &'a mut String) -> (String, Vec<Value<'a>>) {
    if prefix.is_empty() {
        return ("1 = 1".into(), Vec::new());
    }
    // A prefix is a range: an index range on both backends, whatever the collation of LIKE.
    *upper = crate::db::prefix_upper_bound(prefix);
    (
        "sku >= $1 AND sku < $2".into(),
        vec![Value::Text(prefix), Value::Text(upper)],
    )
}

/// A page of the SKUs that have a stock position and begin with `prefix`, after `after`, in
/// SKU order or (`descending`) its reverse: both read the balances' primary key (sku, node).
pub fn sku_page(
    conn: &mut dyn Conn,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
    descending: bool,
) -> Result<Vec<String>, StoreError> {
    let mut upper = String::new();
    let (mut sql, mut params) = sku_prefix(prefix, &mut upper);
    let (op, dir) = if descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(after) = after {
        params.push(Value::Text(after));
        sql.push_str(&format!(" AND sku {op} ${}", params.len()));
    }
    let sql = format!(
        "SELECT DISTINCT sku FROM inventory_balances WHERE {sql} ORDER BY sku {dir} LIMIT {}",
        limit.clamp(1, 5000)
    );
    conn.query(&sql, &params)?
        .into_iter()
        .map(|r| Ok(r.text(0)?.to_owned()))
        .collect()
}

/// How many SKUs with a stock position begin with `prefix`, counted up to one past
/// [`COUNT_CAP`](crate::keyset::COUNT_CAP).
pub fn count_skus(conn: &mut dyn Conn, prefix: &str) -> Result<i64, StoreError> {
    let mut upper = String::new();
    let (sql, params) = sku_prefix(prefix, &mut upper);
    conn.query_one(
        &format!(
            "SELECT COUNT(*) FROM (SELECT DISTINCT sku FROM inventory_balances WHERE {sql} LIMIT {}) capped",
            crate::keyset::COUNT_CAP + 1
        ),
        &params,
    )?
    .map_or(Ok(0), |r| r.int(0))
}

impl Store {
    /// A page of the SKUs that have stock positions; see [`inventory_skus`].
    pub async fn inventory_skus(
        &self,
        prefix: String,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |c| inventory_skus(c, &prefix, after.as_deref(), limit))
            .await
    }

    /// A page of SKUs in either direction; see [`sku_page`].
    pub async fn inventory_sku_page(
        &self,
        prefix: String,
        after: Option<String>,
        limit: usize,
        descending: bool,
    ) -> Result<Vec<String>, StoreError> {
        self.read(move |c| sku_page(c, &prefix, after.as_deref(), limit, descending))
            .await
    }

    /// How many SKUs begin with `prefix`; see [`count_skus`].
    pub async fn count_inventory_skus(&self, prefix: String) -> Result<i64, StoreError> {
        self.read(move |c| count_skus(c, &prefix)).await
    }
}
