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

/// The writer does not checkpoint; the background checkpointer keeps the log copied into the
/// database, so the log does not grow without end.
#[tokio::test]
async fn the_sqlite_log_is_checkpointed_in_the_background() {
    let db = iom_store::testing::sqlite();
    let store = Store::open(&db.url).await.unwrap();
    for i in 0..200 {
        super::create(&store, super::order("web", &format!("ck-{i}"), &["A", "B"])).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let (log, checkpointed): (i64, i64) = store
        .read(|c| {
            let row = c.query_one("PRAGMA wal_checkpoint(PASSIVE)", &[])?.unwrap();
            Ok((row.int(1)?, row.int(2)?))
        })
        .await
        .unwrap();
    assert!(log > 0, "the writer left its commits in the log");
    assert_eq!(log, checkpointed, "every frame was copied back");
    let autocheckpoint: i64 = store
        .write(|tx| tx.conn().query_one("PRAGMA wal_autocheckpoint", &[])?.unwrap().int(0))
        .await
        .unwrap();
    assert_eq!(autocheckpoint, 0, "the writer never checkpoints inside a commit");
}
