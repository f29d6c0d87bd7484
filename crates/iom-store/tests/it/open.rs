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
