//! The writer's promises about writes it holds back (`Conn::execute_deferred`): a failed one fails
//! the work that made it, and nothing fails silently at the commit.

use iom_store::{Store, StoreError, Tx, Value};

use super::stores;

fn put_cursor(tx: &mut Tx<'_>, name: &str, seq: i64) -> Result<(), StoreError> {
    tx.conn().execute_deferred(
        "INSERT INTO flow_cursors (name, seq) VALUES ($1, $2)",
        &[Value::Text(name), Value::Int(seq)],
    )
}

async fn cursor(store: &Store, name: &str) -> Option<i64> {
    let name = name.to_owned();
    store
        .read(move |c| {
            c.query_one(
                "SELECT seq FROM flow_cursors WHERE name = $1",
                &[Value::Text(&name)],
            )?
            .map(|r| r.int(0))
            .transpose()
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deferred_write_that_fails_fails_its_job_and_leaves_nothing() {
    for (store, db) in stores().await {
        store.write(|tx| put_cursor(tx, "taken", 1)).await.unwrap();
        // The job answers Ok without reading anything after its writes: the duplicate key is
        // only known once they are sent.
        let result = store
            .write(|tx| {
                put_cursor(tx, "fresh", 2)?;
                put_cursor(tx, "taken", 3)
            })
            .await;
        assert!(result.is_err(), "{}: {result:?}", db.backend);
        assert_eq!(cursor(&store, "fresh").await, None, "{}", db.backend);
        assert_eq!(cursor(&store, "taken").await, Some(1), "{}", db.backend);
        // The writer goes on.
        store.write(|tx| put_cursor(tx, "next", 4)).await.unwrap();
        assert_eq!(cursor(&store, "next").await, Some(4), "{}", db.backend);
    }
}

#[tokio::test]
async fn a_failed_deferred_write_inside_a_savepoint_fails_the_savepoint_alone() {
    for (store, db) in stores().await {
        store.write(|tx| put_cursor(tx, "taken", 1)).await.unwrap();
        let inner = store
            .write(|tx| {
                put_cursor(tx, "before", 2)?;
                let inner = tx.savepoint(|tx| {
                    put_cursor(tx, "inside", 3)?;
                    put_cursor(tx, "taken", 4)
                });
                put_cursor(tx, "after", 5)?;
                Ok(inner.is_err())
            })
            .await
            .unwrap();
        assert!(
            inner,
            "{}: the savepoint's failed write went unnoticed",
            db.backend
        );
        assert_eq!(cursor(&store, "before").await, Some(2), "{}", db.backend);
        assert_eq!(cursor(&store, "inside").await, None, "{}", db.backend);
        assert_eq!(cursor(&store, "after").await, Some(5), "{}", db.backend);
    }
}

#[tokio::test]
async fn a_job_that_swallowed_an_error_is_not_reported_committed_when_nothing_was() {
    for (store, db) in stores().await {
        let result = store
            .write(|tx| {
                put_cursor(tx, "kept", 1)?;
                tx.conn().flush()?;
                // An error the work ignores.
                let _ = tx
                    .conn()
                    .execute("INSERT INTO no_such_table (x) VALUES (1)", &[]);
                Ok(())
            })
            .await;
        let kept = cursor(&store, "kept").await;
        // SQLite undoes the failed statement alone; PostgreSQL aborts the transaction. Either
        // way the answer must tell what the database holds.
        match result {
            Ok(()) => assert_eq!(kept, Some(1), "{}: reported committed", db.backend),
            Err(_) => assert_eq!(kept, None, "{}: reported failed", db.backend),
        }
        if db.backend == "postgresql" {
            assert!(result.is_err(), "PostgreSQL rolled the transaction back");
        }
    }
}
