//! `iom config export|import` as a user runs them: a setup made through the API of a real
//! server, exported, imported into fresh databases (SQLite, and PostgreSQL when configured),
//! secrets resolved from the importing process's environment.

use std::path::Path;

use iom_store::Store;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::process::Command;

use super::{Server, TOKEN};

const KEY: &str = "iom config test master key";
const ACCESS_TOKEN: &str = "shpat_config_test_token";
const WEBHOOK_SECRET: &str = "whsec_config_test_secret";
const SUBSCRIPTION_SECRET: &str = "subscription-secret-0123456789";

const VIP_POLICY: &str = "name: vip\nkind: filter\nrule: order.lines.exists(l, l.quantity >= 5)\n";

const VIP_FLOW: &str = "\
name: vip-orders
type: order
trigger: order.received
filter: vip
priority: 10
steps:
  - id: mark
    uses: set-attribute
    with: {name: route, value: vip}
";

async fn put(client: &Client, server: &Server, path: &str, body: Value) {
    let resp = client
        .put(format!("{}{path}", server.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(
        status.is_success(),
        "PUT {path}: {status} {}",
        resp.text().await.unwrap()
    );
}

async fn put_yaml(client: &Client, server: &Server, path: &str, text: &str) {
    let resp = client
        .put(format!("{}{path}", server.url))
        .bearer_auth(TOKEN)
        .header("content-type", "application/yaml")
        .body(text.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(
        status.is_success(),
        "PUT {path}: {status} {}",
        resp.text().await.unwrap()
    );
}

/// Every kind of object a setup holds, through the API.
async fn set_up(server: &Server) {
    let c = Client::new();
    put(
        &c,
        server,
        "/api/v1/nodes/WH-EAST",
        json!({"name": "East DC", "kind": "warehouse",
        "location": {"lat": 40.7, "lon": -74.0}, "daily_capacity": 500,
        "costs": {"per_shipment": "4.50", "per_unit": "0.25", "per_km": "0.01"}}),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/nodes/ST-1",
        json!({"kind": "store",
        "location": {"lat": 47.6, "lon": -122.3}, "safety_stock": 2}),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/node-groups/EAST",
        json!({"nodes": ["WH-EAST", "ST-1"]}),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/fulfillment/profiles/nearest",
        json!({"objective": "distance",
        "max_nodes": 2, "exclude_nodes": ["ST-1"]}),
    )
    .await;
    put_yaml(&c, server, "/api/v1/policies/vip", VIP_POLICY).await;
    put_yaml(&c, server, "/api/v1/flows/vip-orders", VIP_FLOW).await;
    let resp = c
        .post(format!("{}/api/v1/flows/vip-orders/publish", server.url))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    // A draft newer than the active version.
    put_yaml(
        &c,
        server,
        "/api/v1/flows/vip-orders",
        &VIP_FLOW.replace("value: vip", "value: vip-2"),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/providers/shop",
        json!({"type": "shopify",
        "connection": {"shop": "example.myshopify.com", "access_token": ACCESS_TOKEN,
                       "webhook_secret": WEBHOOK_SECRET},
        "mappings": {"sku": {"EXT-1": "SKU-1"}}}),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/subscriptions/erp",
        json!({"url": "http://127.0.0.1:9/hook",
        "types": ["order.*"], "secret": SUBSCRIPTION_SECRET}),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/alerts/late",
        json!({"condition": {"type": "order_not_released",
        "hours": 4}, "notify": {"email": "ops@example.com"}}),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/notification-templates/ops-shipped",
        json!({"event": "order.shipped",
        "to": "ops@example.com", "subject": "Shipped {{ order.external_id }}",
        "body": "Order {{ order.external_id }} shipped."}),
    )
    .await;
    put(
        &c,
        server,
        "/api/v1/return-policy",
        json!({"default_window_days": 45}),
    )
    .await;
}

/// Runs `iom config ARGS` with `env`; (success, stdout, stderr).
async fn iom_config(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iom"))
        .arg("config")
        .args(args)
        .env("IOM_LOG", "warn")
        .env("IOM_MASTER_KEY", KEY)
        .env_remove("IOM_SECRET_SHOP_ACCESS_TOKEN")
        .env_remove("IOM_SECRET_SHOP_WEBHOOK_SECRET")
        .env_remove("IOM_SECRET_SUBSCRIPTION_ERP")
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn export(url: &str) -> String {
    let (ok, out, err) = iom_config(&["export", "--database", url], &[]).await;
    assert!(ok, "{err}");
    out
}

async fn import(file: &Path, url: &str, extra: &[&str], env: &[(&str, &str)]) -> String {
    let mut args = vec!["import", file.to_str().unwrap(), "--database", url];
    args.extend(extra);
    let (ok, out, err) = iom_config(&args, env).await;
    assert!(ok, "{out}\n{err}");
    out
}

const SECRETS: [(&str, &str); 3] = [
    ("IOM_SECRET_SHOP_ACCESS_TOKEN", ACCESS_TOKEN),
    ("IOM_SECRET_SHOP_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ("IOM_SECRET_SUBSCRIPTION_ERP", SUBSCRIPTION_SECRET),
];

/// What shows that an import wrote nothing: the last event, the flow's versions, when the
/// provider and the node were last changed.
async fn fingerprint(url: &str) -> (i64, usize, Option<String>, Option<String>) {
    let store = Store::open(url).await.unwrap();
    (
        store.last_event_seq().await.unwrap(),
        store
            .flow_versions("vip-orders".into())
            .await
            .unwrap()
            .len(),
        store
            .get_provider("shop".into())
            .await
            .unwrap()
            .map(|p| p.updated_at.to_rfc3339()),
        store
            .get_node("WH-EAST".into())
            .await
            .unwrap()
            .map(|n| n.updated_at.to_rfc3339()),
    )
}

/// A Shopify webhook signed with `secret`: 202 when the instance holds that secret.
async fn webhook_status(server: &Server, secret: &str) -> StatusCode {
    let body = br#"{"id": 1}"#;
    Client::new()
        .post(format!("{}/api/v1/inbound/shop", server.url))
        .header("X-Shopify-Topic", "orders/create")
        .header(
            "X-Shopify-Hmac-Sha256",
            iom_providers::secrets::shopify_signature(secret, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
}

async fn provider(server: &Server) -> Value {
    Client::new()
        .get(format!("{}/api/v1/providers/shop", server.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_setup_moves_between_databases_through_one_file_with_secrets_as_references() {
    for (source, target) in iom_store::testing::all()
        .into_iter()
        .zip(iom_store::testing::all())
    {
        let backend = source.backend;
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_with(&source.url, &[("IOM_MASTER_KEY", KEY)]).await;
        set_up(&server).await;
        server.kill().await;

        let exported = export(&source.url).await;
        for secret in [ACCESS_TOKEN, WEBHOOK_SECRET, SUBSCRIPTION_SECRET] {
            assert!(
                !exported.contains(secret),
                "{backend}: a secret in\n{exported}"
            );
        }
        for expected in [
            "code: WH-EAST",
            "name: EAST",
            "name: nearest",
            "name: vip",
            "value: vip-2",
            "env: IOM_SECRET_SHOP_ACCESS_TOKEN",
            "env: IOM_SECRET_SUBSCRIPTION_ERP",
            "EXT-1: SKU-1",
            "name: late",
            "name: ops-shipped",
            "default_window_days: 45",
        ] {
            assert!(
                exported.contains(expected),
                "{backend}: no {expected:?} in\n{exported}"
            );
        }
        let file = dir.path().join("setup.yaml");
        std::fs::write(&file, &exported).unwrap();

        // A dry run shows what would change and changes nothing.
        let before = export(&target.url).await;
        let dry = import(&file, &target.url, &["--dry-run"], &SECRETS).await;
        for line in [
            "+ node WH-EAST",
            "+ flow vip-orders",
            "+ provider shop",
            "+ subscription erp",
            "~ return policy default",
            "dry run:",
        ] {
            assert!(dry.contains(line), "{backend}: no {line:?} in\n{dry}");
        }
        assert_eq!(
            export(&target.url).await,
            before,
            "{backend}: a dry run wrote"
        );

        // Imported into a fresh database, the setup exports as the same text.
        let first = import(&file, &target.url, &[], &SECRETS).await;
        assert!(first.contains("+ node ST-1"), "{backend}: {first}");
        assert!(first.contains("applied:"), "{backend}: {first}");
        assert_eq!(export(&target.url).await, exported, "{backend}: round trip");

        // The same file again changes nothing and writes nothing.
        let mark = fingerprint(&target.url).await;
        let second = import(&file, &target.url, &[], &SECRETS).await;
        assert!(second.contains("nothing to change"), "{backend}: {second}");
        assert!(
            !second
                .lines()
                .any(|l| l.starts_with("+ ") || l.starts_with("~ ")),
            "{backend}: {second}"
        );
        assert_eq!(
            fingerprint(&target.url).await,
            mark,
            "{backend}: a second import wrote"
        );

        // The secrets were resolved: the instance verifies webhooks signed with its secret.
        let server = Server::start_with(&target.url, &[("IOM_MASTER_KEY", KEY)]).await;
        let shop = provider(&server).await;
        assert_eq!(
            shop["secrets_set"],
            json!(["access_token", "webhook_secret"]),
            "{shop}"
        );
        assert_eq!(
            webhook_status(&server, WEBHOOK_SECRET).await,
            StatusCode::ACCEPTED
        );
        assert_eq!(
            webhook_status(&server, "another secret").await,
            StatusCode::UNAUTHORIZED
        );
        server.kill().await;

        // A changed file without the variables: the node changes, the secrets stay, and the
        // output says so.
        let changed = dir.path().join("changed.yaml");
        std::fs::write(
            &changed,
            exported.replace("daily_capacity: 500", "daily_capacity: 600"),
        )
        .unwrap();
        let third = import(&changed, &target.url, &[], &[]).await;
        assert!(
            third.contains("~ node WH-EAST (daily_capacity)"),
            "{backend}: {third}"
        );
        assert!(
            third.contains(
                "IOM_SECRET_SHOP_WEBHOOK_SECRET is not set, so secret webhook_secret is kept"
            ),
            "{backend}: {third}"
        );
        assert!(
            third.contains("IOM_SECRET_SUBSCRIPTION_ERP is not set"),
            "{backend}: {third}"
        );
        let server = Server::start_with(&target.url, &[("IOM_MASTER_KEY", KEY)]).await;
        assert_eq!(
            webhook_status(&server, WEBHOOK_SECRET).await,
            StatusCode::ACCEPTED
        );
        server.kill().await;

        // A new instance whose variables are not set is created without its secrets.
        let fresh = match backend {
            "sqlite" => iom_store::testing::sqlite(),
            _ => iom_store::testing::postgres().unwrap(),
        };
        let only_shop = dir.path().join("shop.yaml");
        std::fs::write(
            &only_shop,
            "providers:\n- name: shop\n  type: shopify\n  connection:\n    shop: example.myshopify.com\n    \
             access_token: {env: IOM_SECRET_SHOP_ACCESS_TOKEN}\n    webhook_secret: {env: IOM_SECRET_SHOP_WEBHOOK_SECRET}\n",
        )
        .unwrap();
        let out = import(&only_shop, &fresh.url, &[], &[]).await;
        assert!(out.contains("+ provider shop"), "{backend}: {out}");
        assert!(
            out.contains(
                "IOM_SECRET_SHOP_ACCESS_TOKEN is not set, so secret access_token is left unset"
            ),
            "{backend}: {out}"
        );
        let store = Store::open(&fresh.url).await.unwrap();
        let stored = store.get_provider("shop".into()).await.unwrap().unwrap();
        assert!(stored.secrets.is_empty(), "{backend}: {:?}", stored.secrets);
        drop(store);

        // A broken file is refused with the place of each error, and nothing changes.
        let broken = dir.path().join("broken.yaml");
        std::fs::write(
            &broken,
            "nodes:\n- code: WH-NEW\n  kind: warehouse\n\
             profiles:\n- name: far\n  exclude_nodes: [NOWHERE]\n\
             policies:\n- name: bad\n  definition: |\n    name: bad\n    kind: filter\n    rule: order.totals.total > \"500\"\n",
        )
        .unwrap();
        let before = export(&target.url).await;
        let mark = fingerprint(&target.url).await;
        let (ok, out, err) = iom_config(
            &[
                "import",
                broken.to_str().unwrap(),
                "--database",
                &target.url,
            ],
            &[],
        )
        .await;
        assert!(!ok, "{backend}: a broken file was accepted: {out}");
        assert!(
            err.contains("policies[0].definition: line 3"),
            "{backend}: {err}"
        );
        assert!(
            err.contains("profiles[0].exclude_nodes[0]"),
            "{backend}: {err}"
        );
        assert!(err.contains("nothing was changed"), "{backend}: {err}");
        assert_eq!(export(&target.url).await, before, "{backend}");
        assert_eq!(fingerprint(&target.url).await, mark, "{backend}");

        // A file that is not a setup at all.
        std::fs::write(&broken, "nodes: [{code: X}]\nwarehouses: []\n").unwrap();
        let (ok, _, err) = iom_config(
            &[
                "import",
                broken.to_str().unwrap(),
                "--database",
                &target.url,
            ],
            &[],
        )
        .await;
        assert!(!ok && err.contains("warehouses"), "{backend}: {err}");
    }
}
