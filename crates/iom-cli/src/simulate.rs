//! `iom simulate`: replays orders against a fulfilment network once per profile and prints what
//! each profile would have cost. Orders are planned one after another in file order, each taking
//! stock and capacity from what the earlier ones left, as they would have been when they arrived.
//! Nothing is written to the database.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::Utc;
use iom_app::fulfillment::{load_availability, load_network, load_profile};
use iom_domain::OrderIntake;
use iom_sourcing::bench::{NetworkSpec, OrderSpec};
use iom_sourcing::{
    Availability, ExactOptions, Network, NodeKind, Plan, PlanRequest, Profile, Summary, plan_batch,
    plan_batch_closest, plan_batch_exact,
};
use iom_store::Store;
use serde::Serialize;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NetworkSource {
    /// Nodes, profiles and inventory from `--database`.
    Database,
    /// The generated benchmark network (50 nodes at US cities, 200 SKUs); no database.
    Bench,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SolverArg {
    Heuristic,
    Exact,
    Closest,
}

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// Orders to replay: JSON Lines of order intake objects, or CSV (`.csv`, one row per order
    /// line: external_id,sku,quantity,unit_price,currency,ship_to_postal_code,ship_to_country,
    /// ship_to_lat,ship_to_lon). Required unless `--network bench`, which generates orders.
    #[arg(long)]
    orders: Option<PathBuf>,
    /// A profile to compare (repeat for several): a stored profile's name, or a `.json` file.
    /// With `--network bench`: default, distance, shipments, single-node, no-split, warehouses.
    #[arg(long = "profile", required = true)]
    profiles: Vec<String>,
    #[arg(long, value_enum, default_value = "database")]
    network: NetworkSource,
    #[command(flatten)]
    db: crate::DatabaseArg,
    #[arg(long, value_enum, default_value = "heuristic")]
    solver: SolverArg,
    /// Orders generated with `--network bench` when `--orders` is not given.
    #[arg(long, default_value_t = 1000)]
    bench_orders: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct ProfileResult {
    profile: String,
    #[serde(flatten)]
    summary: Summary,
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let file_orders = match &args.orders {
        Some(path) => Some(read_orders(path)?),
        None if args.network == NetworkSource::Bench => None,
        None => bail!("--orders is required unless --network bench"),
    };
    let (network, availability, requests, profiles) = match args.network {
        NetworkSource::Bench => {
            let spec = NetworkSpec::default();
            let (network, availability) = iom_sourcing::bench::network(&spec);
            let requests = file_orders.unwrap_or_else(|| {
                let orders = OrderSpec {
                    orders: args.bench_orders,
                    ..OrderSpec::default()
                };
                iom_sourcing::bench::orders(&orders, spec.skus, Utc::now())
            });
            let profiles = args
                .profiles
                .iter()
                .map(|name| match from_file(name)? {
                    Some(p) => Ok(p),
                    None => preset(name),
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            (network, availability, requests, profiles)
        }
        NetworkSource::Database => {
            let store = Store::open(&args.db.url)
                .await
                .with_context(|| format!("opening {}", iom_app::redact(&args.db.url)))?;
            // Ship-tos without coordinates are placed as the server would place them.
            let requests = iom_app::fulfillment::locate::locate_requests(
                &store,
                file_orders.unwrap_or_default(),
            )
            .await?;
            let network = load_network(&store).await?;
            let mut skus: Vec<String> = requests
                .iter()
                .flat_map(|r| r.lines.iter().map(|l| l.sku.clone()))
                .collect();
            skus.sort();
            skus.dedup();
            let availability = load_availability(&store, &network, skus).await?;
            let mut profiles = Vec::new();
            for name in &args.profiles {
                let profile = match from_file(name)? {
                    Some(p) => p,
                    // `default` falls back to the built-in profile, as planning requests do.
                    None if name == iom_app::fulfillment::DEFAULT_PROFILE => {
                        load_profile(&store, None).await?.unwrap_or_default()
                    }
                    None => load_profile(&store, Some(name))
                        .await?
                        .with_context(|| format!("no profile is called {name:?}"))?,
                };
                profiles.push(profile);
            }
            (network, availability, requests, profiles)
        }
    };
    if network.is_empty() {
        bail!("the network has no nodes: define some with PUT /api/v1/nodes/{{code}}");
    }

    let solver = args.solver;
    let results = tokio::task::spawn_blocking(move || {
        profiles
            .into_iter()
            .map(|profile| {
                let plans = replay(solver, &requests, &network, &availability, &profile)?;
                Ok(ProfileResult {
                    profile: profile.name,
                    summary: Summary::of(&plans),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await??;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        print_table(&results);
    }
    Ok(())
}

fn replay(
    solver: SolverArg,
    requests: &[PlanRequest],
    network: &Network,
    availability: &Availability,
    profile: &Profile,
) -> anyhow::Result<Vec<Plan>> {
    Ok(match solver {
        SolverArg::Heuristic => plan_batch(requests, network, availability, profile)?,
        SolverArg::Closest => plan_batch_closest(requests, network, availability, profile)?,
        SolverArg::Exact => {
            plan_batch_exact(
                requests,
                network,
                availability,
                profile,
                &ExactOptions::default(),
            )?
            .plans
        }
    })
}

fn print_table(results: &[ProfileResult]) {
    println!(
        "{:<20} {:>7} {:>7} {:>14} {:>9} {:>7} {:>10} {:>11}",
        "profile", "orders", "lines", "cost", "shipments", "split", "avg km", "unfulfilled"
    );
    for r in results {
        let s = &r.summary;
        println!(
            "{:<20} {:>7} {:>7} {:>14} {:>9} {:>7} {:>10.1} {:>11}",
            r.profile,
            s.orders,
            s.lines,
            s.cost.round_dp(2),
            s.shipments,
            s.split_orders,
            s.avg_shipment_km,
            s.unfulfilled_lines
        );
    }
    println!(
        "cost: total shipping cost; split: orders shipped from more than one node; avg km: mean \
         shipment distance; unfulfilled: lines not fully sourced"
    );
}

/// A profile read from `name` when it names a `.json` file; the file's stem is its name.
fn from_file(name: &str) -> anyhow::Result<Option<Profile>> {
    let path = Path::new(name);
    if path.extension().is_none_or(|e| e != "json") {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut profile: Profile =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let errors = profile.validate();
    if !errors.is_empty() {
        bail!("{}: {}", path.display(), describe(&errors));
    }
    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
        profile.name = stem.to_owned();
    }
    Ok(Some(profile))
}

/// Profiles to compare on the bench network without writing any.
fn preset(name: &str) -> anyhow::Result<Profile> {
    let base = Profile {
        name: name.to_owned(),
        ..Profile::default()
    };
    Ok(match name {
        "default" | "cost" => base,
        "distance" => Profile {
            objective: iom_sourcing::Objective::Distance,
            ..base
        },
        "shipments" => Profile {
            objective: iom_sourcing::Objective::Shipments,
            ..base
        },
        "single-node" => Profile {
            max_nodes: Some(1),
            ..base
        },
        "no-split" => Profile {
            allow_line_split: false,
            ..base
        },
        "warehouses" => Profile {
            node_kinds: vec![NodeKind::Warehouse, NodeKind::ThirdParty],
            ..base
        },
        other => bail!(
            "{other:?} is not a bench profile (default, cost, distance, shipments, single-node, \
             no-split, warehouses) nor a .json file"
        ),
    })
}

fn describe(errors: &[iom_domain::FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads and validates the orders of a JSON Lines or CSV file, in file order. Each order is planned
/// as of the moment it was placed, so cut-offs and ship dates are those it would have had.
fn read_orders(path: &Path) -> anyhow::Result<Vec<PlanRequest>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let intakes: Vec<(usize, OrderIntake)> = if is_csv {
        iom_providers::csv::parse_orders(&bytes, "simulate")
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            .into_iter()
            .enumerate()
            .map(|(i, o)| (i + 1, o))
            .collect()
    } else {
        let text = std::str::from_utf8(&bytes)
            .with_context(|| format!("{} is not UTF-8", path.display()))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                let mut intake: OrderIntake = serde_json::from_str(l)
                    .with_context(|| format!("{} line {}", path.display(), n + 1))?;
                if intake.channel.is_none() {
                    intake.channel = Some("simulate".into());
                }
                Ok((n + 1, intake))
            })
            .collect::<anyhow::Result<_>>()?
    };
    let now = Utc::now();
    let what = if is_csv { "order" } else { "line" };
    intakes
        .into_iter()
        .map(|(n, intake)| {
            let order = intake
                .validate(now)
                .map_err(|e| anyhow::anyhow!("{} {what} {n}: {}", path.display(), describe(&e)))?;
            Ok(PlanRequest::from_order(&order, order.placed_at))
        })
        .collect()
}
