//! `iom bench documents` on SQLite, as a user runs it: a backlog of shipped orders of an x12
//! channel drained by a child `iom serve`, every document built, the figure printed.

use std::process::Command;

#[test]
fn bench_documents_drains_the_backlog_and_prints_documents_per_second() {
    let out = Command::new(env!("CARGO_BIN_EXE_iom"))
        .args(["bench", "documents", "--orders", "40"])
        .env("IOM_LOG", "warn")
        .output()
        .expect("run iom bench documents");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("X12 documents (855, 856, 810) drained by iom serve, sqlite: 120 in "),
        "{stdout}"
    );
}
