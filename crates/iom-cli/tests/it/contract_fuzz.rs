//! `iom serve` against its own OpenAPI document, under schemathesis (PyPI), on SQLite and on
//! PostgreSQL: no 5xx, no status code the document does not list for the operation, no content
//! type or body that does not match the documented response. The budget is small and the seed
//! fixed (`IOM_CONTRACT_SEED` overrides it, `IOM_CONTRACT_EXAMPLES` the examples per operation),
//! so a finding is reproducible and both runs take about a minute.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Server, TOKEN};

/// The pinned schemathesis; the findings are relative to its generators.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// The `schemathesis` command: `IOM_SCHEMATHESIS`, else a virtual environment under
/// `~/.cache/iom`, made on first use.
fn schemathesis() -> PathBuf {
    if let Ok(path) = std::env::var("IOM_SCHEMATHESIS") {
        return path.into();
    }
    let home = std::env::var("HOME").expect("HOME");
    let venv = Path::new(&home).join(".cache/iom/schemathesis");
    let command = venv.join("bin/schemathesis");
    let version = SCHEMATHESIS.split_once("==").expect("pinned").1;
    let ready = Command::new(&command)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(version));
    if !ready {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", SCHEMATHESIS])
            .status()
            .expect("pip install schemathesis");
        assert!(installed.success(), "pip install {SCHEMATHESIS}");
    }
    command
}

/// Runs schemathesis against a fresh server on `database_url`; panics with its report when a
/// check failed.
async fn fuzz(database_url: &str) {
    let server = Server::start(database_url).await;
    let seed = std::env::var("IOM_CONTRACT_SEED").unwrap_or_else(|_| "1".into());
    let examples = std::env::var("IOM_CONTRACT_EXAMPLES").unwrap_or_else(|_| "10".into());
    // Hypothesis keeps its database in the working directory: a directory of the run's own.
    let workdir = tempfile::tempdir().unwrap();
    let command = schemathesis();
    let schema = format!("{}/api/v1/openapi.json", server.url);
    let output = tokio::process::Command::new(command)
        .current_dir(workdir.path())
        .args(["run", &schema])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--max-examples", &examples, "--seed", &seed])
        .args(["--workers", "2", "--request-timeout", "30"])
        .args(["--output-truncate", "false"])
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "schemathesis found failures against {database_url}:\n{stdout}\n{stderr}"
    );
    // It really tested the API: every operation of the document, none skipped for want of a
    // schema it could read.
    assert!(stdout.contains("Tested: "), "{stdout}");
    assert!(!stdout.contains("Tested: 0"), "{stdout}");
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_keeps_its_openapi_contract_under_a_fuzzer_on_sqlite() {
    let db = iom_store::testing::sqlite();
    fuzz(&db.url).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_keeps_its_openapi_contract_under_a_fuzzer_on_postgres() {
    let Some(db) = iom_store::testing::postgres() else {
        eprintln!("IOM_TEST_POSTGRES_URL is not set: skipping the PostgreSQL half");
        return;
    };
    fuzz(&db.url).await;
}
