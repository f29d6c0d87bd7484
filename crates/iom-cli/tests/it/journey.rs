//! `iom bench journey` on SQLite, as a user runs it: a child `iom serve`, orders through to
//! delivered, the figures printed.

use std::process::Command;

#[test]
fn bench_journey_prints_every_figure_without_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_iom"))
        .args([
            "bench",
            "journey",
            "--orders",
            "50",
            "--clients",
            "4",
            "--warmup",
            "10",
        ])
        .env("IOM_LOG", "warn")
        .env_remove("IOM_TOKEN")
        .output()
        .expect("run iom bench journey");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for figure in [
        "sqlite, 4 clients: intake ",
        "sqlite, 4 clients: released ",
        "sqlite, 4 clients: shipped ",
        "sqlite, 4 clients: delivered ",
        "sqlite, 4 clients: intake → released p50 ",
        "sqlite, 4 clients: intake → released p99 ",
        "sqlite, 4 clients: intake → released max ",
        "sqlite, 4 clients: 50 journeys done in ",
        "sqlite, 4 clients: errors 0\n",
    ] {
        assert!(stdout.contains(figure), "no {figure:?} in:\n{stdout}");
    }
    assert!(stdout.contains(" orders/s ("), "{stdout}");
}
