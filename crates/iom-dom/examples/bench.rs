//! Prints the benchmark figures: `cargo run --release -p iom-dom --example bench`.

fn main() {
    let config = iom_dom::bench::BenchConfig::default();
    match iom_dom::bench::run(&config) {
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
