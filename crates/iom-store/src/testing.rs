//! Fresh databases for tests: a SQLite file in a temporary directory always, and a new PostgreSQL
//! database when `IOM_TEST_POSTGRES_URL` names a server (CI sets it). Each test gets its own, so
//! tests run in parallel without seeing each other's rows.

use std::thread;

/// A database that exists for as long as this value lives.
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

/// The PostgreSQL server for tests, if one is configured.
pub fn postgres_url() -> Option<String> {
    std::env::var("IOM_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temporary directory");
    TestDb {
        url: format!("sqlite://{}", dir.path().join("iom.db").display()),
        backend: "sqlite",
        _dir: Some(dir),
        postgres: None,
    }
}

/// A new, empty PostgreSQL database, or `None` when no server is configured.
pub fn postgres() -> Option<TestDb> {
    let admin = postgres_url()?;
    let name = format!("iom_test_{}", hex::encode(rand::random::<[u8; 6]>()));
    let sql = format!("CREATE DATABASE {name}");
    // The sync client must not run on an async runtime's thread.
    let admin_for_create = admin.clone();
    thread::spawn(move || {
        let mut client = postgres::Client::connect(&admin_for_create, postgres::NoTls)
            .expect("connect to IOM_TEST_POSTGRES_URL");
        client.batch_execute(&sql).expect("create test database");
    })
    .join()
    .expect("create test database");
    Some(TestDb {
        url: with_database(&admin, &name),
        backend: "postgresql",
        _dir: None,
        postgres: Some((admin, name)),
    })
}

/// SQLite, and PostgreSQL when configured: the backends a conformance test runs against.
pub fn all() -> Vec<TestDb> {
    let mut dbs = vec![sqlite()];
    dbs.extend(postgres());
    dbs
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            let _ = thread::spawn(move || {
                if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            })
            .join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            super::with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }
}
