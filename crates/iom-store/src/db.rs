//! One small SQL interface over both backends, so that every query of iom is written once.
//!
//! The SQL is a portable subset of SQLite and PostgreSQL: `$1` placeholders (rewritten to SQLite's
//! `?1`), `BIGINT` and `TEXT` columns only, `ON CONFLICT`, `RETURNING`. What differs between the
//! backends (DDL, row locks, the event-ordering lock) asks [`Conn::dialect`].
//!
//! Written here rather than taken from a crate because the store is synchronous on purpose: the
//! group-commit writer runs on its own thread and the same transaction code must drive rusqlite and
//! PostgreSQL (`crate::pg`); sqlx's `Any` driver is async-only and slower on SQLite.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter: borrowed, so that binding a row allocates nothing.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A column value read back.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owned {
    Null,
    Int(i64),
    Text(String),
}

impl Owned {
    /// This value as a parameter.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Int(v) => Value::Int(*v),
            Owned::Text(s) => Value::Text(s),
        }
    }
}

impl From<Value<'_>> for Owned {
    fn from(v: Value<'_>) -> Self {
        match v {
            Value::Null => Owned::Null,
            Value::Int(v) => Owned::Int(v),
            Value::Text(s) => Owned::Text(s.to_owned()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Row(pub Vec<Owned>);

/// The answer to a read held back by [`Conn::query_deferred`]: empty until the connection sent
/// the read and had its rows.
#[derive(Debug, Clone, Default)]
pub struct DeferredRows(Arc<Mutex<Option<Vec<Row>>>>);

impl DeferredRows {
    pub(crate) fn fill(&self, rows: Vec<Row>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(rows);
    }

    /// The rows, once the read was sent and answered (after a flush).
    pub fn take(&self) -> Result<Vec<Row>, StoreError> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| StoreError::Corrupt("a held-back read was not sent".into()))
    }
}

impl Row {
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.0.get(i) {
            Some(Owned::Int(v)) => Ok(*v),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected integer, got {other:?}"
            ))),
        }
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.0.get(i) {
            Some(Owned::Null) => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    pub fn text(&self, i: usize) -> Result<&str, StoreError> {
        match self.0.get(i) {
            Some(Owned::Text(v)) => Ok(v),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        match self.0.get(i) {
            Some(Owned::Null) => Ok(None),
            _ => self.text(i).map(Some),
        }
    }

    pub fn take_text(&mut self, i: usize) -> Result<String, StoreError> {
        match self.0.get_mut(i) {
            Some(Owned::Text(v)) => Ok(std::mem::take(v)),
            other => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    pub fn take_opt_text(&mut self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get(i) {
            Some(Owned::Null) => Ok(None),
            _ => self.take_text(i).map(Some),
        }
    }
}

/// `INSERT INTO {table} VALUES ($1, …), (…)` for `rows` rows of `columns` values each.
pub fn multi_row_insert(table: &str, columns: usize, rows: usize) -> Arc<str> {
    shaped("INSERT INTO", table, columns, rows, "")
}

/// [`multi_row_insert`] followed by `tail` (an `ON CONFLICT` clause, say).
pub fn multi_row_statement(table: &str, columns: usize, rows: usize, tail: &str) -> Arc<str> {
    shaped("INSERT INTO", table, columns, rows, tail)
}

/// [`multi_row_insert`] for rows appended inside a job that fails as a whole when the statement
/// fails (the writer then rolls the job back). On SQLite it is `INSERT OR FAIL`: a multi-row
/// statement that may abort halfway makes SQLite copy every page it changes into a statement
/// journal first, to undo just that statement, and the job's rollback already undoes it.
pub fn multi_row_append(dialect: Dialect, table: &str, columns: usize, rows: usize) -> Arc<str> {
    let head = match dialect {
        Dialect::Sqlite => "INSERT OR FAIL INTO",
        Dialect::Postgres => "INSERT INTO",
    };
    shaped(head, table, columns, rows, "")
}

/// The statement `name` for `n` items, built by `build` the first time it is asked for and kept
/// (see [`shaped`] for why).
pub fn sized_statement(name: &'static str, n: usize, build: impl FnOnce() -> String) -> Arc<str> {
    type Sized = HashMap<(&'static str, usize), Arc<str>>;
    static SIZED: LazyLock<Mutex<Sized>> = LazyLock::new(Mutex::default);
    let mut sized = SIZED.lock().expect("sized statements");
    sized
        .entry((name, n))
        .or_insert_with(|| build().into())
        .clone()
}

/// `{head} {table} VALUES (…), … {tail}`, built once per shape and kept: a job that writes a batch
/// of 1,000 changes asks for the same few kilobyte-long statements dozens of times, and formatting
/// them each time was a twentieth of the writer's work.
fn shaped(head: &str, table: &str, columns: usize, rows: usize, tail: &str) -> Arc<str> {
    type Shapes = HashMap<(String, usize, usize), Arc<str>>;
    static SHAPES: LazyLock<Mutex<Shapes>> = LazyLock::new(Mutex::default);
    let key = (format!("{head}\0{table}\0{tail}"), columns, rows);
    let mut shapes = SHAPES.lock().expect("statement shapes");
    if let Some(sql) = shapes.get(&key) {
        return sql.clone();
    }
    use std::fmt::Write;
    let mut sql = format!("{head} {table} VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            let _ = write!(sql, "${}", row * columns + column + 1);
        }
        sql.push(')');
    }
    if !tail.is_empty() {
        sql.push(' ');
        sql.push_str(tail);
    }
    let sql: Arc<str> = sql.into();
    shapes.insert(key, sql.clone());
    sql
}

pub trait Conn: Send {
    fn dialect(&self) -> Dialect;
    /// Runs one statement and returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError>;
    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, StoreError>;
    /// Runs statements without parameters (DDL, transaction control).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Runs a write whose changed-row count nobody reads. A connection may hold it back and send
    /// it with its next statement, in the same round trip (PostgreSQL pipelines them), so its
    /// error may come from that statement or from [`Conn::flush`]. Work that must know whether
    /// its own writes failed (a job, a savepoint) flushes before it answers.
    fn execute_deferred(&mut self, sql: &str, params: &[Value<'_>]) -> Result<(), StoreError> {
        self.execute(sql, params).map(drop)
    }

    /// Runs a read whose rows are needed only later: a connection may hold it back with the
    /// writes and send it with its next statement, in order with them. Its rows are in the
    /// answer once the connection sent it ([`Conn::flush`] at the latest).
    fn query_deferred(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<DeferredRows, StoreError> {
        let rows = DeferredRows::default();
        rows.fill(self.query(sql, params)?);
        Ok(rows)
    }

    /// Sends the statements [`Conn::execute_deferred`] and [`Conn::query_deferred`] held back
    /// and reports the first that failed.
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The connection is lost for good and must be replaced.
    fn is_broken(&self) -> bool {
        false
    }

    /// The state of the write job this connection serves, where features keep what they hold
    /// back until the job's transaction commits (see `crate::features`): the writer's connection
    /// inside a job has one (see `Tx`), and what the jobs of a transaction held back there is
    /// written once, just before the commit, rather than once per change. Elsewhere `None`, and
    /// work writes each change at once. On the writer's connection asking counts as a change
    /// ([`crate::Tx::changes`]): work that fails after holding a change back must be undone.
    fn job_state(&mut self) -> Option<&mut crate::features::JobState> {
        None
    }

    fn query_one(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

// ---------------------------------------------------------------- SQLite

/// `$1` → `?1`: SQLite reads `$1` as a named parameter whose index is its order of appearance,
/// which would silently misbind a query that names `$2` before `$1`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

impl Conn for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.prepare_cached(&sqlite_sql(sql))?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, StoreError> {
        use rusqlite::types::ValueRef;
        let mut stmt = self.prepare_cached(&sqlite_sql(sql))?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Owned::Null,
                    ValueRef::Integer(v) => Owned::Int(v),
                    ValueRef::Text(t) => Owned::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Real(v) => Owned::Text(v.to_string()),
                    ValueRef::Blob(b) => Owned::Text(String::from_utf8_lossy(b).into_owned()),
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.execute_batch(sql)?)
    }
}

/// The least string above every string that begins with `prefix`, in byte order: the prefix with
/// its last character incremented.
pub(crate) fn prefix_upper_bound(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    if let Some(last) = chars.pop() {
        chars.push(char::from_u32(last as u32 + 1).unwrap_or(char::MAX));
    }
    chars.into_iter().collect()
}
