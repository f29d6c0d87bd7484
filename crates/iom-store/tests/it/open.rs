use iom_store::{Store, StoreError};

#[tokio::test]
async fn sqlite_urls_take_a_sync_level_and_refuse_unknown_options() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iom.db");
    let normal = Store::open(&format!("sqlite://{}?synchronous=normal", path.display())).await;
    assert!(normal.is_ok());
    let synchronous: i64 = normal
        .unwrap()
        .read(|c| c.query_one("PRAGMA synchronous", &[])?.unwrap().int(0))
        .await
        .unwrap();
    assert_eq!(synchronous, 1, "NORMAL");
    let full: i64 = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap()
        .read(|c| c.query_one("PRAGMA synchronous", &[])?.unwrap().int(0))
        .await
        .unwrap();
    assert_eq!(full, 2, "FULL by default");
    for bad in [
        "sqlite://",
        "sqlite::memory:",
        "mysql://x",
        &format!("sqlite://{}?fast=yes", path.display()),
    ] {
        assert!(
            matches!(Store::open(bad).await, Err(StoreError::BadUrl(_))),
            "{bad}"
        );
    }
}

/// The writer does not checkpoint; the background checkpointer copies the log into the database,
/// so later commits reuse the log from its start and it does not grow without end.
#[tokio::test]
async fn the_sqlite_log_is_checkpointed_in_the_background() {
    let db = iom_store::testing::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let wal = format!("{}-wal", db.url.trim_start_matches("sqlite://"));
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    for round in 0..3 {
        for i in 0..200 {
            super::create(
                &store,
                super::order("web", &format!("ck-{round}-{i}"), &["A", "B"]),
            )
            .await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    }
    let after_three_rounds = size();
    let one_round = {
        let db = iom_store::testing::sqlite();
        let other = Store::open(&db.url).await.unwrap();
        for i in 0..200 {
            super::create(
                &other,
                super::order("web", &format!("one-{i}"), &["A", "B"]),
            )
            .await;
        }
        std::fs::metadata(format!("{}-wal", db.url.trim_start_matches("sqlite://")))
            .unwrap()
            .len()
    };
    assert!(one_round > 0);
    assert!(
        after_three_rounds < one_round * 2,
        "the log was reused: {after_three_rounds} bytes after three rounds, {one_round} after one"
    );
    let autocheckpoint: i64 = store
        .write(|tx| {
            tx.conn()
                .query_one("PRAGMA wal_autocheckpoint", &[])?
                .unwrap()
                .int(0)
        })
        .await
        .unwrap();
    assert_eq!(
        autocheckpoint, 0,
        "the writer never checkpoints inside a commit"
    );
}

/// Under commits that never pause, every checkpoint leaves the last frames behind, so the log
/// never starts over by itself; the checkpointer makes it, and it stays bounded (64 MiB kept,
/// restarted past 16,384 frames of 4 KiB). Without that, these 6,000 orders leave a log of
/// several hundred megabytes.
#[tokio::test]
async fn the_sqlite_log_stays_bounded_under_commits_that_never_pause() {
    let db = iom_store::testing::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    let wal = format!("{}-wal", db.url.trim_start_matches("sqlite://"));
    let mut writers = Vec::new();
    for w in 0..12 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..500 {
                let skus = ["A", "B", "C", "D", "E", "F"];
                super::create(&store, super::order("web", &format!("nb-{w}-{i}"), &skus)).await;
            }
        }));
    }
    let mut largest = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    assert!(largest < 150 << 20, "the log reached {largest} bytes");
}

/// A second process opening a database whose schema is current needs no write lock, so it opens
/// while a server holds one (here: a transaction kept open by another connection), instead of
/// waiting for the busy timeout and failing.
#[tokio::test]
async fn a_current_sqlite_database_opens_while_another_connection_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iom.db");
    let url = format!("sqlite://{}", path.display());
    drop(Store::open(&url).await.unwrap());
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let store = Store::open(&url).await.unwrap();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "opening waited for the write lock"
    );
    let versions: i64 = store
        .read(|c| {
            c.query_one("SELECT COUNT(*) FROM schema_migrations", &[])?
                .unwrap()
                .int(0)
        })
        .await
        .unwrap();
    assert!(versions > 0);
    holder.execute_batch("ROLLBACK").unwrap();
}
