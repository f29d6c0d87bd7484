//! Fulfilment optimisation figures: the heuristic's latency on one order over a large network, the
//! exact solver on a batch, how far the heuristic is from the exact answer, and what both save
//! against shipping each line from the closest node with stock. All data is generated from fixed
//! seeds, so runs differ only by the machine.

use iom_sourcing::bench::{BenchConfig, run as run_bench};

#[derive(clap::Args)]
pub struct DomArgs {
    /// Print the full report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: DomArgs) -> anyhow::Result<()> {
    let config = BenchConfig::default();
    let r = tokio::task::spawn_blocking(move || run_bench(&config).map(|r| (r, config))).await??;
    let (r, config) = r;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    println!(
        "heuristic, one {}-line order over {} nodes ({} orders): p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        config.latency_lines,
        config.latency_network.nodes,
        config.latency_orders,
        r.heuristic_p50_us,
        r.heuristic_p99_us,
        r.heuristic_max_us
    );
    println!(
        "batch of {} orders over {} nodes:",
        config.batch_orders.orders, config.batch_network.nodes
    );
    for (name, t) in [
        ("exact", &r.exact),
        ("heuristic", &r.heuristic),
        ("closest", &r.closest),
    ] {
        println!(
            "  {name:<9} {:>8.2} s  cost {:>12}  units {:>6} sourced {:>4} unassigned  {:>5} shipments  {:>10.0} km",
            t.secs,
            t.cost.round_dp(2),
            t.units_sourced,
            t.units_unassigned,
            t.shipments,
            t.distance_km
        );
    }
    println!(
        "heuristic gap vs exact: {:.2} % over the batch{}",
        r.heuristic_gap_pct,
        match r.heuristic_order_gap_pct {
            Some(g) => format!(", {g:.2} % order by order"),
            None => String::new(),
        }
    );
    println!(
        "exact batch vs independent optimum (bound): {:.2} %",
        r.exact_vs_bound_pct
    );
    println!(
        "saving vs closest-with-stock: heuristic {:.2} %, exact {:.2} %",
        r.heuristic_saving_vs_closest_pct, r.exact_saving_vs_closest_pct
    );
    let s = &r.batch_stats;
    println!(
        "exact decomposition: {} conflicted orders in {} clusters, {} joint solves, {} re-planned one by one",
        s.conflicted_orders, s.clusters, s.joint_solves, s.sequential_orders
    );
    Ok(())
}
