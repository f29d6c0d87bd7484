//! `iom bench intake` against several `iom serve` processes with PostgreSQL a round trip away
//! (through the bench's delaying proxy): the table row printed, and every order in the database.

use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_intake_over_two_processes_with_a_distant_database() {
    let Some(db) = iom_store::testing::postgres() else {
        eprintln!("IOM_TEST_POSTGRES_URL is not set: skipping the PostgreSQL half");
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_iom"))
        .args([
            "bench",
            "intake",
            "--database",
            &db.url,
            "--processes",
            "2",
            "--db-latency-ms",
            "1",
            "--orders",
            "200",
            "--warmup",
            "20",
            "--clients",
            "8",
        ])
        .env("IOM_LOG", "warn")
        .env_remove("IOM_TOKEN")
        .output()
        .await
        .expect("run iom bench intake");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("errors: 0\n"), "{stdout}");
    assert!(
        stdout.contains("processes |") && stdout.contains(" db round trip (ms) |"),
        "no table header in:\n{stdout}"
    );
    let row: Vec<&str> = stdout
        .lines()
        .map(|line| line.split('|').map(str::trim).collect::<Vec<_>>())
        .find(|cells| cells.first() == Some(&"2"))
        .unwrap_or_else(|| panic!("no row for 2 processes in:\n{stdout}"));
    assert_eq!(row[1], "1", "{stdout}");
    let throughput: f64 = row[2]
        .strip_suffix(" orders/s")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("throughput {:?}", row[2]));
    assert!(throughput > 0.0, "{stdout}");
    let p99: f64 = row[3]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("p99 {:?}", row[3]));
    // Every order commits through the proxy at least once: at least one round trip of 1 ms.
    assert!(
        p99 >= 1.0,
        "p99 {p99} ms below the added round trip:\n{stdout}"
    );

    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let count = |pattern: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "SELECT count(*) FROM orders WHERE channel = 'bench' AND external_id LIKE $1",
                    &[&pattern],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    assert_eq!(count("m%").await, 200, "measured orders in the database");
    assert_eq!(count("w%").await, 20, "warm-up orders in the database");
}
