//! `iom user create|list|disable` against the database two `iom serve` processes share: a user
//! created on the command line signs in to the web UI, and disabling them on the command line
//! ends their session in both servers within a second.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::Server;

/// Runs `iom` with `stdin` as its standard input: (success, stdout, stderr).
async fn iom(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iom"))
        .args(args)
        .env("IOM_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The status of the orders page with this cookie on this server.
async fn orders_page(client: &reqwest::Client, url: &str, cookie: &str) -> u16 {
    client
        .get(format!("{url}/ui/orders"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn users_are_created_on_the_command_line_and_disabling_ends_their_sessions_everywhere() {
    let db = iom_store::testing::sqlite();
    let create = |role: &'static str, password: &'static str| {
        let url = db.url.clone();
        async move {
            iom(
                &[
                    "user",
                    "create",
                    "--email",
                    "ann@example.com",
                    "--role",
                    role,
                    "--database",
                    &url,
                ],
                password,
            )
            .await
        }
    };
    let (ok, _, stderr) = create("boss", "a long password\n").await;
    assert!(!ok);
    assert!(stderr.contains("role"), "{stderr}");
    let (ok, _, stderr) = create("operator", "").await;
    assert!(!ok);
    assert!(stderr.contains("standard input"), "{stderr}");
    let (ok, _, stderr) = create("operator", "a long password\n").await;
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = create("viewer", "another password\n").await;
    assert!(!ok);
    assert!(stderr.contains("exists already"), "{stderr}");
    let (ok, listed, stderr) = iom(&["user", "list", "--database", &db.url], "").await;
    assert!(ok, "{stderr}");
    assert!(
        listed.starts_with("ann@example.com\toperator\tactive\t"),
        "{listed}"
    );

    let one = Server::start(&db.url).await;
    let two = Server::start(&db.url).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(format!("{}/ui/sign-in", one.url))
        .form(&[
            ("email", "ann@example.com"),
            ("password", "a long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(orders_page(&client, &one.url, &cookie).await, 200);
    assert_eq!(orders_page(&client, &two.url, &cookie).await, 200);

    let (ok, _, stderr) = iom(
        &["user", "disable", "ann@example.com", "--database", &db.url],
        "",
    )
    .await;
    assert!(ok, "{stderr}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(orders_page(&client, &one.url, &cookie).await, 303);
    assert_eq!(orders_page(&client, &two.url, &cookie).await, 303);
    let (_, listed, _) = iom(&["user", "list", "--database", &db.url], "").await;
    assert!(listed.contains("\tdisabled "), "{listed}");
    one.kill().await;
    two.kill().await;
}
