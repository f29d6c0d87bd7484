//! Opening a database: connection settings per backend, the reader pool and the writer thread.

use std::sync::Arc;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::db::Conn;
use crate::pg::{PgConn, PgManager};
use crate::{Dialect, Inner, Store, StoreError, migrate, writer};

/// The pooled read connections, and the queue in front of them.
pub(crate) struct Readers {
    pool: ReaderPool,
    /// One permit per pooled connection, handed out first come, first served. r2d2 gives a
    /// returned connection to whichever thread asks next, not to the one that has waited longest,
    /// so under load a caller could lose the race again and again: at 16 clients a 2 ms read on
    /// PostgreSQL waited up to a second. Queueing here, fairly, before asking the pool means the
    /// pool always has a connection for whoever holds a permit.
    slots: Arc<Semaphore>,
}

enum ReaderPool {
    Sqlite(r2d2::Pool<SqliteConnectionManager>),
    Postgres(r2d2::Pool<PgManager>),
}

impl Readers {
    fn sqlite(pool: r2d2::Pool<SqliteConnectionManager>) -> Readers {
        let slots = Arc::new(Semaphore::new(pool.max_size() as usize));
        Readers {
            pool: ReaderPool::Sqlite(pool),
            slots,
        }
    }

    fn postgres(pool: r2d2::Pool<PgManager>) -> Readers {
        let slots = Arc::new(Semaphore::new(pool.max_size() as usize));
        Readers {
            pool: ReaderPool::Postgres(pool),
            slots,
        }
    }

    /// Waits for this caller's turn at a connection; the turn lasts as long as the permit.
    pub async fn turn(&self) -> Result<OwnedSemaphorePermit, StoreError> {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Commit(format!("reader queue: {e}")))
    }

    /// Runs `f` on a pooled connection (blocking; take a [`Readers::turn`] first).
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.pool {
            ReaderPool::Sqlite(pool) => f(&mut *pool.get()?),
            ReaderPool::Postgres(pool) => f(&mut *pool.get()?),
        }
    }
}

/// WAL lets readers run beside the writer. By default `synchronous=FULL` syncs the log at every
/// commit (group commit makes that one sync per batch), so an accepted order survives a power cut,
/// not only a crash of the process. `sqlite://PATH?synchronous=normal` syncs only at checkpoints:
/// still safe when the process is killed, faster, but the last commits may be lost with the machine.
/// Prepared statements each SQLite connection keeps. rusqlite keeps 16 by default, fewer than
/// the statement shapes one flow pass or intake batch runs in turn (each multi-row insert size is
/// a shape of its own), so the cache was emptied round after round and every statement parsed
/// and planned again. PostgreSQL connections keep every statement they prepared (`PgConn`).
const STATEMENT_CACHE: usize = 1024;

/// Each pooled reader's own page cache. Every SQLite connection keeps a private copy of the pages
/// it read, so the writer's 64 MiB, given to each of 8 readers too, let a process that read its
/// way through a large database grow by half a gigabyte of copies of the same pages, which the
/// operating system's file cache holds once already.
const READER_CACHE: &str = "PRAGMA cache_size = -8192;";

fn sqlite_pragmas(synchronous: &str) -> String {
    format!(
        "PRAGMA journal_mode = WAL;
PRAGMA synchronous = {synchronous};
PRAGMA foreign_keys = ON;
PRAGMA busy_timeout = 10000;
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;"
    )
}

pub(crate) fn open(url: &str) -> Result<Store, StoreError> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        open_sqlite(path)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        open_postgres(url)
    } else {
        Err(StoreError::BadUrl(url.to_owned()))
    }
}

fn open_sqlite(url: &str) -> Result<Store, StoreError> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::BadUrl(format!("sqlite:{path}")));
    }
    let mut synchronous = "FULL";
    for (key, value) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        match (key, value.to_ascii_lowercase().as_str()) {
            ("synchronous", "full") => synchronous = "FULL",
            ("synchronous", "normal") => synchronous = "NORMAL",
            _ => {
                return Err(StoreError::BadUrl(format!(
                    "sqlite:{url} ({key}={value} is not an option)"
                )));
            }
        }
    }
    let pragmas = sqlite_pragmas(synchronous);
    let owned = path.to_owned();
    let writer_pragmas = pragmas.clone();
    let connect = move || -> Result<rusqlite::Connection, StoreError> {
        let conn = rusqlite::Connection::open(&owned)?;
        conn.execute_batch(&writer_pragmas)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Checkpoints copy the log into the database file and sync it; run inside a commit they
        // stall every writer queued behind it, so the checkpointer thread does them instead.
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0")?;
        // When the log starts over (see `Checkpointer`), a log file grown past this is cut back.
        conn.execute_batch(&format!("PRAGMA journal_size_limit = {WAL_KEEP_BYTES}"))?;
        Ok(conn)
    };
    let mut writer_conn = connect()?;
    migrate::run(&mut writer_conn)?;
    let restart_log = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checkpointer = Checkpointer::spawn(path, &pragmas, restart_log.clone())?;
    let manager = SqliteConnectionManager::file(path).with_init(move |c| {
        c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        c.execute_batch(&pragmas)?;
        c.execute_batch(READER_CACHE)
    });
    let readers = r2d2::Pool::builder()
        .max_size(8)
        .min_idle(Some(1))
        .build(manager)?;
    Ok(Store {
        inner: std::sync::Arc::new(Inner {
            readers: Readers::sqlite(readers),
            writer: writer::spawn(
                writer_conn,
                Box::new(connect),
                "iom-sqlite-writer",
                Some(restart_log),
            )?,
            dialect: Dialect::Sqlite,
            _checkpointer: Some(checkpointer),
        }),
    })
}

fn open_postgres(url: &str) -> Result<Store, StoreError> {
    let owned = url.to_owned();
    let mut writer_conn = PgConn::connect(url)?;
    migrate::run(&mut writer_conn)?;
    let readers = r2d2::Pool::builder()
        .max_size(12)
        .min_idle(Some(2))
        .connection_timeout(Duration::from_secs(10))
        .build(PgManager {
            url: url.to_owned(),
        })?;
    Ok(Store {
        inner: std::sync::Arc::new(Inner {
            readers: Readers::postgres(readers),
            writer: writer::spawn(
                writer_conn,
                Box::new(move || PgConn::connect(&owned)),
                "iom-postgres-writer",
                None,
            )?,
            dialect: Dialect::Postgres,
            _checkpointer: None,
        }),
    })
}

/// The log file size kept when the log starts over; more is truncated.
const WAL_KEEP_BYTES: i64 = 64 << 20;

/// Log frames (pages) past which the log is made to start over.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// Checkpoints the SQLite log in the background, on its own connection, four times a second;
/// `PASSIVE` never waits for the writer or the readers. Stops with the store.
///
/// A passive checkpoint copies the log into the database but never makes it start over: only a
/// writer that finds every frame already copied does that, and under a steady stream of commits
/// there is always one frame more, so the log would grow by every page ever written (3.5 GB
/// while 100,000 orders were taken in). Past [`WAL_RESTART_FRAMES`] the checkpointer asks the
/// writer (`restart_log`) to run a `RESTART` checkpoint between two of its groups, after which
/// the next commit writes from the start of the file.
pub(crate) struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
}

impl Checkpointer {
    fn spawn(
        path: &str,
        pragmas: &str,
        restart_log: std::sync::Arc<std::sync::atomic::AtomicBool>,
    ) -> Result<Checkpointer, StoreError> {
        let conn = rusqlite::Connection::open(path)?;
        conn.execute_batch(pragmas)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("iom-sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(Duration::from_millis(250))
                {
                    let frames = conn
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
                    match frames {
                        Ok(frames) if frames > WAL_RESTART_FRAMES => {
                            restart_log.store(true, std::sync::atomic::Ordering::Release);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "checkpoint failed"),
                    }
                }
                // A last full checkpoint leaves a small log behind a clean shutdown.
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
            })
            .map_err(|e| StoreError::Commit(e.to_string()))?;
        Ok(Checkpointer { stop })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}
