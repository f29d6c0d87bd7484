//! The writer's promises about statements it holds back (`Conn::execute_deferred`,
//! `Conn::query_deferred`): a failed one fails the work that made it, nothing fails silently at
//! the commit, and reads answer in order with the writes; and about what a job remembers of the
//! balance rows it locked.

use iom_store::inventory::{self, Key, StoredPosition};
use iom_store::{Store, StoreError, Tx, Value};

use super::{add_node, stores};

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

#[tokio::test]
async fn a_held_back_read_answers_in_order_with_the_writes_around_it() {
    for (store, db) in stores().await {
        let (before, after) = store
            .write(|tx| {
                put_cursor(tx, "read", 1)?;
                let sql = "SELECT seq FROM flow_cursors WHERE name = $1";
                let before = tx.conn().query_deferred(sql, &[Value::Text("read")])?;
                tx.conn().execute_deferred(
                    "UPDATE flow_cursors SET seq = 2 WHERE name = $1",
                    &[Value::Text("read")],
                )?;
                let after = tx.conn().query_deferred(sql, &[Value::Text("read")])?;
                tx.conn().flush()?;
                let seq = |rows: Vec<iom_store::Row>| rows[0].int(0);
                Ok((seq(before.take()?)?, seq(after.take()?)?))
            })
            .await
            .unwrap();
        assert_eq!((before, after), (1, 2), "{}", db.backend);
    }
}

/// (on hand, reserved) of the one position `lock_positions` returns.
fn locked(tx: &mut Tx<'_>, key: &Key) -> Result<(i64, i64), StoreError> {
    let found = inventory::lock_positions(tx, std::slice::from_ref(key))?;
    let p = found[key];
    Ok((p.on_hand, p.reserved))
}

fn save(tx: &mut Tx<'_>, key: &Key, on_hand: i64, reserved: i64) -> Result<(), StoreError> {
    let p = StoredPosition {
        on_hand,
        reserved,
        ..StoredPosition::default()
    };
    inventory::save_positions(tx, &[(key, &p)])
}

#[tokio::test]
async fn a_job_reads_the_positions_it_locked_as_it_last_wrote_them() {
    for (store, db) in stores().await {
        store.write(|tx| add_node(tx, "N1")).await.unwrap();
        let key: Key = ("SKU-1".into(), "N1".into());
        let seen = store
            .write({
                let key = key.clone();
                move |tx| {
                    let first = locked(tx, &key)?;
                    save(tx, &key, 10, 3)?;
                    let saved = locked(tx, &key)?;
                    // Undone by its savepoint: the position is read again, as it stands.
                    let undone: Result<(), StoreError> = tx.savepoint(|tx| {
                        save(tx, &key, 99, 99)?;
                        assert_eq!(locked(tx, &key)?, (99, 99));
                        Err(StoreError::Corrupt("undo".into()))
                    });
                    assert!(undone.is_err());
                    let after_undo = locked(tx, &key)?;
                    Ok((first, saved, after_undo))
                }
            })
            .await
            .unwrap();
        assert_eq!(seen, ((0, 0), (10, 3), (10, 3)), "{}", db.backend);
    }
}

/// `Tx::balance_writes` tells a job whether balances it read earlier may have changed since: it
/// grows with every balance write, a new row's insertion and a savepoint undone.
#[tokio::test]
async fn a_job_counts_what_may_have_changed_its_balances() {
    for (store, db) in stores().await {
        store.write(|tx| add_node(tx, "N1")).await.unwrap();
        let key: Key = ("SKU-1".into(), "N1".into());
        let counts = store
            .write(move |tx| {
                let start = tx.balance_writes();
                locked(tx, &key)?;
                let locked_new_row = tx.balance_writes();
                locked(tx, &key)?;
                let locked_again = tx.balance_writes();
                save(tx, &key, 10, 3)?;
                let saved = tx.balance_writes();
                let _: Result<(), StoreError> =
                    tx.savepoint(|_| Err(StoreError::Corrupt("undo".into())));
                let undone = tx.balance_writes();
                Ok([start, locked_new_row, locked_again, saved, undone])
            })
            .await
            .unwrap();
        let [start, new_row, again, saved, undone] = counts;
        // PostgreSQL inserts an empty row for a new pair, to lock it; SQLite's first save
        // writes it.
        assert_eq!(
            new_row > start,
            db.backend == "postgresql",
            "{}",
            db.backend
        );
        assert_eq!(again, new_row, "{}: a read changes nothing", db.backend);
        assert!(saved > again, "{}: a save counts", db.backend);
        assert!(undone > saved, "{}: an undone savepoint counts", db.backend);
    }
}
