use super::stores;

#[tokio::test]
async fn tokens_are_found_by_value_and_stop_working_when_revoked() {
    for (store, db) in stores().await {
        let record = store
            .put_token("ci".into(), "integration".into(), "iom_secret_value".into())
            .await
            .unwrap();
        let found = store.find_token("iom_secret_value").await.unwrap().unwrap();
        assert_eq!(found.id, record.id, "{}", db.backend);
        assert_eq!(found.role, "integration");
        assert!(store.find_token("iom_other").await.unwrap().is_none());

        // The same value again updates the one token rather than adding a second.
        let again = store
            .put_token("ci".into(), "admin".into(), "iom_secret_value".into())
            .await
            .unwrap();
        assert_eq!(again.id, record.id);
        assert_eq!(store.list_tokens().await.unwrap().len(), 1);

        assert!(store.revoke_token("ci".into()).await.unwrap());
        assert!(
            store
                .find_token("iom_secret_value")
                .await
                .unwrap()
                .is_none()
        );
        assert!(!store.revoke_token("ci".into()).await.unwrap());
    }
}

#[tokio::test]
async fn only_a_hash_of_the_token_is_stored() {
    for (store, _db) in stores().await {
        store
            .put_token("x".into(), "viewer".into(), "iom_plaintext_token".into())
            .await
            .unwrap();
        let stored: Vec<String> = store
            .read(|c| {
                c.query("SELECT hash FROM api_tokens", &[])?
                    .iter()
                    .map(|r| r.text(0).map(str::to_owned))
                    .collect()
            })
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        assert!(!stored[0].contains("plaintext"));
        assert_eq!(
            stored[0],
            iom_store::tokens::hash_token("iom_plaintext_token")
        );
    }
}
