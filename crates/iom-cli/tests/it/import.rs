use tokio::process::Command;

#[tokio::test]
async fn an_inventory_file_is_imported_with_rejects_named_and_a_second_import_changes_nothing() {
    let db = iom_store::testing::sqlite();
    let store = iom_store::Store::open(&db.url).await.unwrap();
    for code in ["WH1", "ST1"] {
        store
            .put_node(iom_store::nodes::NodeRecord {
                code: code.into(),
                kind: "warehouse".into(),
                active: true,
                safety_stock: 0,
                doc: serde_json::json!({}),
                updated_at: chrono::Utc::now(),
            })
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("counts.csv");
    std::fs::write(
        &file,
        "sku,node,quantity,reason\n\
         A,WH1,10,count\n\
         A,ST1,4,count\n\
         B,NOWHERE,3,count\n\
         B,WH1,2.5,count\n\
         C,WH1,7,\n",
    )
    .unwrap();
    let import = || {
        let (file, url) = (file.clone(), db.url.clone());
        async move {
            let out = Command::new(env!("CARGO_BIN_EXE_iom"))
                .args([
                    "import",
                    "inventory",
                    file.to_str().unwrap(),
                    "--database",
                    &url,
                ])
                .env("IOM_LOG", "warn")
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };
    let first = import().await;
    assert!(
        first.contains("3 applied, 0 duplicates skipped, 2 rejected"),
        "{first}"
    );
    assert!(
        first.contains("row 4: node: unknown node \"NOWHERE\""),
        "{first}"
    );
    assert!(first.contains("row 5: quantity:"), "{first}");
    let balances = store
        .balances(vec!["A".into(), "C".into()], vec![])
        .await
        .unwrap();
    let on_hand: Vec<(String, String, i64)> = balances
        .iter()
        .map(|b| (b.sku.clone(), b.node.clone(), b.on_hand))
        .collect();
    assert_eq!(
        on_hand,
        vec![
            ("A".into(), "ST1".into(), 4),
            ("A".into(), "WH1".into(), 10),
            ("C".into(), "WH1".into(), 7)
        ]
    );
    let second = import().await;
    assert!(
        second.contains("0 applied, 3 duplicates skipped, 2 rejected"),
        "{second}"
    );
}
