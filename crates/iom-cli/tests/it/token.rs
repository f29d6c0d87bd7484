use tokio::process::Command;

use super::Server;

async fn iom(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iom"))
        .args(args)
        .env("IOM_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn tokens_are_created_listed_used_and_revoked_from_the_command_line() {
    let db = iom_store::testing::sqlite();
    let (ok, stdout, stderr) = iom(&[
        "token",
        "create",
        "--name",
        "dash",
        "--role",
        "viewer",
        "--database",
        &db.url,
    ])
    .await;
    assert!(ok, "{stderr}");
    let token = stdout.trim().to_owned();
    assert!(token.starts_with("iom_") && token.len() > 40, "{token}");
    let (ok, _, stderr) = iom(&[
        "token",
        "create",
        "--name",
        "x",
        "--role",
        "boss",
        "--database",
        &db.url,
    ])
    .await;
    assert!(!ok);
    assert!(stderr.contains("unknown role"), "{stderr}");

    let server = Server::start(&db.url).await;
    let client = reqwest::Client::new();
    let get = client
        .get(format!("{}/api/v1/orders", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let post = client
        .post(format!("{}/api/v1/orders", server.url))
        .bearer_auth(&token)
        .json(&super::order("t-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403);
    server.kill().await;

    let (ok, listed, _) = iom(&["token", "list", "--database", &db.url]).await;
    assert!(ok);
    assert!(
        listed.contains("dash\tviewer") && listed.contains("active"),
        "{listed}"
    );
    assert!(
        !listed.contains(&token),
        "the token value is never shown again"
    );
    let (ok, _, _) = iom(&["token", "revoke", "dash", "--database", &db.url]).await;
    assert!(ok);
    let (_, listed, _) = iom(&["token", "list", "--database", &db.url]).await;
    assert!(listed.contains("revoked"), "{listed}");

    let server = Server::start(&db.url).await;
    let get = client
        .get(format!("{}/api/v1/orders", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 401);
    server.kill().await;
}

#[tokio::test]
async fn a_token_is_limited_to_channels_and_providers_from_the_command_line() {
    let db = iom_store::testing::sqlite();
    let (ok, stdout, stderr) = iom(&[
        "token",
        "create",
        "--name",
        "eu-shop",
        "--channel",
        "web",
        "--provider",
        "shop-eu",
        "--database",
        &db.url,
    ])
    .await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("limited to channels web and providers shop-eu"),
        "{stderr}"
    );
    let token = stdout.trim().to_owned();
    let (_, listed, _) = iom(&["token", "list", "--database", &db.url]).await;
    assert!(
        listed.contains("eu-shop\tintegration") && listed.contains("limited to channels web"),
        "{listed}"
    );

    let server = Server::start(&db.url).await;
    let client = reqwest::Client::new();
    let mut other = super::order("t-2");
    other["channel"] = "marketplace".into();
    for (body, status) in [(super::order("t-1"), 201), (other, 403)] {
        let post = client
            .post(format!("{}/api/v1/orders", server.url))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), status, "{body}");
    }
    server.kill().await;
}
