//! Prints the benchmark figures: `cargo run --release -p iom-sourcing --example bench`.

fn main() {
    let config = iom_sourcing::bench::BenchConfig::default();
    match iom_sourcing::bench::run(&config) {
        Ok(report) => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    }
}
