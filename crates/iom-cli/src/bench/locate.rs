//! Locating a ship-to without coordinates from the place data shipped with iom: what reading the
//! data costs once (time, memory), and what each lookup costs after, by postal code, by city and
//! falling back to the country. The ship-tos are real codes and names taken from the data itself,
//! written as addresses write them (ZIP+4, a UK postcode's inward part, lower case), so every
//! lookup goes through the same normalisation as at capture.

use std::time::Instant;

use hdrhistogram::Histogram;
use iom_app::fulfillment::locate::locate_by_shipped_data;
use iom_domain::{Address, CountryCode, LocatedBy};

#[derive(clap::Args)]
pub struct LocateArgs {
    /// Ship-tos located per kind (postal code, city, country).
    #[arg(long, default_value_t = 200_000)]
    lookups: usize,
}

pub async fn run(args: LocateArgs) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || measure(args.lookups)).await?
}

fn measure(lookups: usize) -> anyhow::Result<()> {
    let rss_before = resident_kb();
    let started = Instant::now();
    let geo = iom_geo::built_in();
    let load = started.elapsed();
    let rss_after = resident_kb();
    let (postal, cities, countries) = geo.counts();
    println!(
        "load: {:.1} ms, tables {:.1} MB, resident memory +{} ({} postal codes, {} city names, {} countries)",
        load.as_secs_f64() * 1e3,
        geo.heap_bytes() as f64 / 1e6,
        match (rss_before, rss_after) {
            (Some(b), Some(a)) => format!("{:.1} MB", a.saturating_sub(b) as f64 / 1e3),
            _ => "unknown".to_owned(),
        },
        postal,
        cities,
        countries
    );

    let kinds: [(&str, LocatedBy, Box<dyn Iterator<Item = Address>>); 3] = [
        (
            "postal code",
            LocatedBy::PostalCode,
            Box::new(
                spread(|| geo.postal_keys(), postal, lookups)
                    .map(|(c, key)| address(c, Some(as_written(c, key)), None)),
            ),
        ),
        (
            "city",
            LocatedBy::City,
            Box::new(
                spread(|| geo.city_keys(), cities, lookups)
                    .map(|(c, key)| address(c, None, Some(key.to_uppercase()))),
            ),
        ),
        (
            // Neither the code nor the name is anything: the country places the ship-to.
            "country",
            LocatedBy::Country,
            Box::new(
                spread(|| geo.postal_keys(), postal, lookups)
                    .map(|(c, _)| address(c, Some("!".to_owned()), Some("·".to_owned()))),
            ),
        ),
    ];
    for (name, expected, addresses) in kinds {
        let mut latency = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3)?;
        let mut missed = 0;
        // Each address is made outside the timed part, and dropped before the next.
        for a in addresses {
            let t = Instant::now();
            let location = locate_by_shipped_data(&a);
            latency.record(t.elapsed().as_nanos().max(1) as u64)?;
            if location.by != expected {
                missed += 1;
            }
        }
        let us = |q: f64| latency.value_at_quantile(q) as f64 / 1e3;
        println!(
            "by {name} ({} ship-tos): p50 {:.2} µs, p99 {:.2} µs, max {:.1} µs{}",
            latency.len(),
            us(0.5),
            us(0.99),
            latency.max() as f64 / 1e3,
            if missed > 0 {
                format!(", {missed} not located by {name}")
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

/// `n` of the `len` items that `items` makes, spread evenly over all of them (starting over when
/// there are fewer than `n`).
fn spread<'a, I>(
    items: impl Fn() -> I + 'a,
    len: usize,
    n: usize,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a
where
    I: Iterator<Item = (&'a str, &'a str)> + 'a,
{
    let step = (len / n.max(1)).max(1);
    // Nothing to spread would otherwise start over for ever.
    let n = if len == 0 { 0 } else { n };
    std::iter::repeat_with(move || items().step_by(step))
        .flatten()
        .take(n)
}

/// A postal code key as an address writes it: ZIP+4, a full UK postcode, a full Canadian postal
/// code, a Dutch postcode with its letters, in lower case.
fn as_written(country: &str, key: &str) -> String {
    match country {
        "US" => format!("{key}-1234"),
        "GB" => format!("{} 1aa", key.to_lowercase()),
        "CA" => format!("{} 1a1", key.to_lowercase()),
        "NL" => format!("{key} AB"),
        _ => key.to_owned(),
    }
}

fn address(country: &str, postal_code: Option<String>, city: Option<String>) -> Address {
    Address {
        name: None,
        company: None,
        line1: None,
        line2: None,
        city,
        region: None,
        postal_code,
        country: CountryCode::parse(country).expect("the data's countries are ISO 3166-1"),
        phone: None,
        lat: None,
        lon: None,
        located_by: None,
    }
}

/// The resident memory of this process, in kB (Linux).
fn resident_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
