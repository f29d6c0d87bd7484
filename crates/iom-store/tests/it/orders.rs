use std::collections::HashSet;

use iom_domain::{DomainError, OrderStatus};
use iom_store::{CreateOutcome, Idempotency, OrderFilter, StoreError};

use super::{create, order, render, stores};

#[tokio::test]
async fn an_order_is_stored_with_its_received_event() {
    for (store, db) in stores().await {
        let o = order("web", "1001", &["A", "B"]);
        let CreateOutcome::Created(created) = create(&store, o.clone()).await else {
            panic!("{}: not created", db.backend)
        };
        let loaded = store.get_order(created.id).await.unwrap().unwrap();
        assert_eq!(loaded, o, "{}", db.backend);
        let events = store.subject_events(o.id.to_string()).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "order.received");
        assert_eq!(events[0].data["lines"][1]["sku"], "B");
    }
}

#[tokio::test]
async fn a_second_order_with_the_same_channel_and_external_id_names_the_first() {
    for (store, db) in stores().await {
        let first = order("web", "1001", &["A"]);
        create(&store, first.clone()).await;
        let again = create(&store, order("web", "1001", &["B"])).await;
        assert!(
            matches!(again, CreateOutcome::Duplicate { existing_id } if existing_id == first.id),
            "{}",
            db.backend
        );
        // Another channel may use the same external id.
        assert!(matches!(
            create(&store, order("app", "1001", &["A"])).await,
            CreateOutcome::Created(_)
        ));
        assert_eq!(store.events_after(0, None, 100).await.unwrap().len(), 2);
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response() {
    for (store, db) in stores().await {
        let key = |body: &[u8]| Some(Idempotency::new("orders.create/t1", "key-1", body));
        let first = store
            .create_order(order("web", "1", &["A"]), key(b"body"), Box::new(render))
            .await
            .unwrap();
        let CreateOutcome::Created(created) = first else {
            panic!("not created")
        };
        let again = store
            .create_order(order("web", "1", &["A"]), key(b"body"), Box::new(render))
            .await
            .unwrap();
        let CreateOutcome::Replayed { status, body } = again else {
            panic!("{}: not replayed", db.backend)
        };
        assert_eq!(status, 201);
        assert_eq!(body, serde_json::to_string(&created).unwrap());
        let reused = store
            .create_order(
                order("web", "2", &["A"]),
                key(b"other body"),
                Box::new(render),
            )
            .await
            .unwrap();
        assert!(matches!(reused, CreateOutcome::KeyReused));
        let all = store
            .list_orders(OrderFilter {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 1, "{}", db.backend);
    }
}

#[tokio::test]
async fn twenty_concurrent_copies_of_one_order_create_it_once() {
    for (store, db) in stores().await {
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                super::create(&store, order("web", "same", &["A"])).await
            }));
        }
        let mut created = Vec::new();
        let mut named = HashSet::new();
        for t in tasks {
            match t.await.unwrap() {
                CreateOutcome::Created(o) => created.push(o.id),
                CreateOutcome::Duplicate { existing_id } => {
                    named.insert(existing_id);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(created.len(), 1, "{}", db.backend);
        assert!(named.iter().all(|id| *id == created[0]));
        assert_eq!(store.events_after(0, None, 100).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_refused_change_writes_nothing_and_announces_nothing() {
    for (store, db) in stores().await {
        let o = order("web", "1", &["A"]);
        create(&store, o.clone()).await;
        let err = store
            .update_order(o.id, |order, now| {
                order.hold("manual", None, now)?;
                // The second step fails: the hold above must not be stored either.
                Err(DomainError::conflict("no"))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Domain(DomainError::Conflict(_))),
            "{}",
            db.backend
        );
        let loaded = store.get_order(o.id).await.unwrap().unwrap();
        assert_eq!(loaded.status, OrderStatus::Received);
        assert_eq!(store.events_after(0, None, 100).await.unwrap().len(), 1);

        let held = store
            .update_order(o.id, |order, now| order.hold("credit", None, now))
            .await
            .unwrap();
        assert_eq!(held.status, OrderStatus::OnHold);
        let events = store.subject_events(o.id.to_string()).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, vec!["order.received", "order.held"]);
        let on_hold = store
            .list_orders(OrderFilter {
                status: Some("on_hold".into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(on_hold.len(), 1);
    }
}

/// Jobs that share a group commit are independent: failing ones leave the others intact.
#[tokio::test]
async fn failures_inside_a_batch_do_not_affect_its_other_jobs() {
    for (store, db) in stores().await {
        let mut ids = Vec::new();
        for i in 0..50 {
            let o = order("web", &format!("o{i}"), &["A"]);
            ids.push(o.id);
            create(&store, o).await;
        }
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().copied().enumerate() {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .update_order(id, move |order, now| {
                        order.hold("manual", None, now)?;
                        if i % 2 == 1 {
                            return Err(DomainError::conflict("odd"));
                        }
                        Ok(vec![])
                    })
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap().is_ok());
        }
        assert_eq!(ok, 25, "{}", db.backend);
        let held = store
            .list_orders(OrderFilter {
                status: Some("on_hold".into()),
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(held.len(), 25);
        let expected: HashSet<_> = ids.iter().step_by(2).copied().collect();
        assert_eq!(held.iter().map(|o| o.id).collect::<HashSet<_>>(), expected);
    }
}

/// A job alone in its group runs without a savepoint of its own: when it fails after changing
/// the order, the whole transaction is rolled back, and the next job starts clean.
#[tokio::test]
async fn a_lone_failing_job_leaves_nothing_behind() {
    for (store, db) in stores().await {
        let o = order("web", "lone", &["A"]);
        let id = o.id;
        create(&store, o).await;
        for _ in 0..3 {
            // The change is written, then its effects fail in the same transaction.
            let failed = store
                .update_order_with(
                    id,
                    |order: &mut iom_domain::Order, now| {
                        order.hold("manual", None, now)?;
                        Ok(vec![])
                    },
                    |_, _, _| Err(StoreError::Commit("after the change".into())),
                )
                .await;
            assert!(failed.is_err(), "{}", db.backend);
            let loaded = store.get_order(id).await.unwrap().unwrap();
            assert_eq!(loaded.status, OrderStatus::Received, "{}", db.backend);
            assert_eq!(store.subject_events(id.to_string()).await.unwrap().len(), 1);
        }
        store
            .update_order(id, |order, now| {
                order.hold("manual", None, now)?;
                Ok(vec![])
            })
            .await
            .unwrap();
        let loaded = store.get_order(id).await.unwrap().unwrap();
        assert_eq!(loaded.status, OrderStatus::OnHold, "{}", db.backend);
    }
}

/// Solo jobs (each in a transaction of its own) among grouped ones: every job is answered, the
/// solo ones that fail leave nothing, the rest commit with their events.
#[tokio::test]
async fn solo_jobs_among_grouped_ones_each_commit_or_leave_nothing() {
    for (store, db) in stores().await {
        let mut tasks = Vec::new();
        for i in 0..60u32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let job = move |tx: &mut iom_store::Tx<'_>| {
                    tx.emit(iom_domain::EventDraft::new(
                        "test.written",
                        format!("job-{i}"),
                        serde_json::json!({}),
                    ));
                    if i % 10 == 3 {
                        return Err(StoreError::Commit("refused".into()));
                    }
                    Ok(i)
                };
                if i.is_multiple_of(4) || i % 10 == 3 {
                    store.write_solo(job).await
                } else {
                    store.write(job).await
                }
            }));
        }
        let mut written = HashSet::new();
        for (i, task) in tasks.into_iter().enumerate() {
            match task.await.unwrap() {
                Ok(n) => assert!(written.insert(format!("job-{n}"))),
                Err(e) => assert_eq!(i % 10, 3, "{}: job {i}: {e}", db.backend),
            }
        }
        assert_eq!(written.len(), 54, "{}", db.backend);
        let events = store.events_after(0, None, 1000).await.unwrap();
        let subjects: HashSet<String> = events.iter().map(|e| e.subject.clone()).collect();
        assert_eq!(subjects, written, "{}", db.backend);
        assert_eq!(events.len(), 54);
    }
}

#[tokio::test]
async fn orders_are_listed_newest_first_with_filters_and_cursor() {
    for (store, db) in stores().await {
        let mut ids = Vec::new();
        for i in 0..7 {
            let channel = if i % 2 == 0 { "web" } else { "app" };
            let sku = if i == 3 { "RARE" } else { "A" };
            let o = order(channel, &format!("ext-{i}"), &[sku]);
            ids.push(o.id);
            create(&store, o).await;
        }
        let page = |cursor, limit| OrderFilter {
            limit,
            cursor,
            ..Default::default()
        };
        let first = store.list_orders(page(None, 4)).await.unwrap();
        let got: Vec<_> = first.iter().map(|o| o.id).collect();
        assert_eq!(got, vec![ids[6], ids[5], ids[4], ids[3]], "{}", db.backend);
        let second = store.list_orders(page(Some(ids[3]), 4)).await.unwrap();
        assert_eq!(
            second.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![ids[2], ids[1], ids[0]]
        );

        let web = store
            .list_orders(OrderFilter {
                channel: Some("web".into()),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(web.len(), 4);
        let rare = store
            .list_orders(OrderFilter {
                sku: Some("RARE".into()),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(rare.iter().map(|o| o.id).collect::<Vec<_>>(), vec![ids[3]]);
        for q in ["ext-5", "ann.lee@", "ANN", &ids[5].to_string()] {
            let found = store
                .list_orders(OrderFilter {
                    q: Some(q.into()),
                    limit: 50,
                    ..Default::default()
                })
                .await
                .unwrap();
            assert!(
                found.iter().any(|o| o.id == ids[5]),
                "{}: q={q}",
                db.backend
            );
        }
        let none = store
            .list_orders(OrderFilter {
                q: Some("nobody%".into()),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}

#[tokio::test]
async fn an_unknown_order_is_not_found() {
    for (store, _db) in stores().await {
        let id = iom_domain::OrderId::new();
        assert!(store.get_order(id).await.unwrap().is_none());
        let err = store
            .update_order(id, |o, now| o.hold("manual", None, now))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)));
    }
}

#[tokio::test]
async fn reopening_a_database_keeps_its_data() {
    for (store, db) in stores().await {
        let o = order("web", "1", &["A"]);
        create(&store, o.clone()).await;
        drop(store);
        let again = iom_store::Store::open(&db.url).await.unwrap();
        assert_eq!(
            again.get_order(o.id).await.unwrap().unwrap(),
            o,
            "{}",
            db.backend
        );
    }
}

#[tokio::test]
async fn saving_over_a_version_that_is_not_the_stored_one_fails_and_changes_nothing() {
    for (store, db) in stores().await {
        let o = order("web", "stale-1", &["A"]);
        create(&store, o.clone()).await;
        let id = o.id;
        let result = store
            .write(move |tx| {
                let stored = iom_store::orders::load(tx.conn(), id, true)?.expect("stored");
                let mut stale = stored.clone();
                stale.version -= 1;
                let mut changed = stored;
                changed.hold("manual", None, tx.now())?;
                iom_store::orders::save(tx.conn(), &stale, &changed)
            })
            .await;
        assert!(result.is_err(), "{}: {result:?}", db.backend);
        let now = store.get_order(id).await.unwrap().expect("order");
        assert_eq!(now.version, o.version, "{}", db.backend);
        assert!(now.holds.is_empty(), "{}", db.backend);
    }
}
