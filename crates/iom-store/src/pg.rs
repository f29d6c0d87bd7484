//! The PostgreSQL connection: tokio-postgres driven by a runtime of its own, so the store's
//! blocking callers (the writer thread, pooled readers) use it as a synchronous client, as the
//! `postgres` crate does. It is built on tokio-postgres rather than on that crate because it
//! pipelines: writes held back by [`Conn::execute_deferred`] go out together with the next
//! statement, so a flow pass that writes a dozen rows per run waits for one round trip where it
//! waited for a dozen.

use std::collections::HashMap;
use std::future::Future;

use futures_util::TryFutureExt;
use futures_util::future::{Either, join, join_all};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};

use crate::StoreError;
use crate::db::{Conn, DeferredRows, Dialect, Owned, Row, Value};

/// Most statements held back before they are sent anyway: bounds what a long job keeps in memory.
const MOST_PENDING: usize = 512;

/// A held-back statement and its parameters, owned since the caller's are borrowed: a write, or
/// a read with the place its rows go.
struct Pending {
    statement: Statement,
    params: Vec<Owned>,
    rows: Option<DeferredRows>,
}

/// A PostgreSQL connection with its prepared statements, so each query is parsed once per
/// connection, and the writes it holds back.
pub struct PgConn {
    /// Drives the connection while a call waits; `Some` until the connection is dropped.
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
    statements: HashMap<String, Statement>,
    pending: Vec<Pending>,
}

impl Drop for PgConn {
    /// A runtime cannot be dropped on a thread that drives async tasks (a pool dropped inside a
    /// handler or a test); such a drop moves to a plain thread.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let _ = std::thread::spawn(move || drop(runtime));
            } else {
                drop(runtime);
            }
        }
    }
}

impl PgConn {
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Commit(format!("a runtime for PostgreSQL: {e}")))?;
        let (client, connection) = runtime.block_on(tokio_postgres::connect(url, NoTls))?;
        // Polled whenever a call of this connection waits (`block_on` runs spawned tasks).
        runtime.spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "a PostgreSQL connection ended");
            }
        });
        Ok(Self {
            runtime: Some(runtime),
            client,
            statements: HashMap::new(),
            pending: Vec::new(),
        })
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(stmt) = self.statements.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.runtime().block_on(self.client.prepare(sql))?;
        self.statements.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    /// Holds a statement back until the next one that is waited for.
    fn hold(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
        rows: Option<DeferredRows>,
    ) -> Result<(), StoreError> {
        let statement = self.statement(sql)?;
        self.pending.push(Pending {
            statement,
            params: params.iter().copied().map(Owned::from).collect(),
            rows,
        });
        if self.pending.len() >= MOST_PENDING {
            self.flush()?;
        }
        Ok(())
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("the runtime lives until drop")
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Whether the connection is closed, after its task has read what the socket holds: the
    /// task runs only while a call waits, so a close by the server is seen only then.
    pub fn noticed_closed(&self) -> bool {
        // Yielding lets the runtime poll the socket and then run the task it woke.
        self.runtime().block_on(async {
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
        });
        self.client.is_closed()
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl ToSql for Owned {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        self.as_value().to_sql(ty, out)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Sends the held-back statements, then `last`, in one round trip, and waits for all of them. A
/// failed one is the error reported: it aborted the transaction, so `last` failed too.
fn pipelined<T>(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    pending: Vec<Pending>,
    last: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, StoreError> {
    if pending.is_empty() {
        return Ok(runtime.block_on(last)?);
    }
    let params: Vec<Vec<&(dyn ToSql + Sync)>> = pending
        .iter()
        .map(|p| p.params.iter().map(|v| v as &(dyn ToSql + Sync)).collect())
        .collect();
    // `join` and `join_all` first poll their futures in order, and each sends its request when
    // first polled: the statements go out in the order they were made, then `last`.
    let held = join_all(pending.iter().zip(&params).map(|(p, params)| match p.rows {
        None => Either::Left(client.execute(&p.statement, params).map_ok(|_| None)),
        Some(_) => Either::Right(client.query(&p.statement, params).map_ok(Some)),
    }));
    let (held, last) = runtime.block_on(join(held, last));
    for (answer, p) in held.into_iter().zip(&pending) {
        if let (Some(rows), Some(slot)) = (answer?, &p.rows) {
            slot.fill(rows.iter().map(row_values).collect::<Result<_, _>>()?);
        }
    }
    Ok(last?)
}

fn pg_params<'p>(params: &'p [Value<'_>]) -> Vec<&'p (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

fn row_values(row: &tokio_postgres::Row) -> Result<Row, StoreError> {
    let mut values = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = match *column.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Owned::Int),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)?
                .map(|v| Owned::Int(v.into())),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)?
                .map(|v| Owned::Int(v.into())),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)?
                .map(|v| Owned::Int(v.into())),
            _ => row.try_get::<_, Option<String>>(i)?.map(Owned::Text),
        };
        values.push(value.unwrap_or(Owned::Null));
    }
    Ok(Row(values))
}

impl Conn for PgConn {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let stmt = self.statement(sql)?;
        let params = pg_params(params);
        let pending = std::mem::take(&mut self.pending);
        let last = self.client.execute(&stmt, &params);
        pipelined(self.runtime(), &self.client, pending, last)
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, StoreError> {
        let stmt = self.statement(sql)?;
        let params = pg_params(params);
        let pending = std::mem::take(&mut self.pending);
        let last = self.client.query(&stmt, &params);
        let rows = pipelined(self.runtime(), &self.client, pending, last)?;
        rows.iter().map(row_values).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut self.pending);
        let last = self.client.batch_execute(sql);
        pipelined(self.runtime(), &self.client, pending, last)
    }

    fn execute_deferred(&mut self, sql: &str, params: &[Value<'_>]) -> Result<(), StoreError> {
        self.hold(sql, params, None)
    }

    fn query_deferred(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<DeferredRows, StoreError> {
        let rows = DeferredRows::default();
        self.hold(sql, params, Some(rows.clone()))?;
        Ok(rows)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        pipelined(self.runtime(), &self.client, pending, async { Ok(()) })
    }

    fn is_broken(&self) -> bool {
        self.is_closed()
    }
}

/// Hands out [`PgConn`]s from an r2d2 pool.
#[derive(Debug)]
pub struct PgManager {
    pub url: String,
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = StoreError;

    fn connect(&self) -> Result<PgConn, StoreError> {
        PgConn::connect(&self.url)
    }

    /// Checked without a round trip (one per read doubled what a read cost): the connection's
    /// task is given a turn to notice a socket the server closed.
    fn is_valid(&self, conn: &mut PgConn) -> Result<(), StoreError> {
        if conn.noticed_closed() {
            Err(StoreError::Commit(
                "the PostgreSQL connection was closed".into(),
            ))
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.is_closed()
    }
}
