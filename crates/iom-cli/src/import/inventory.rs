//! `iom import inventory FILE.csv`: on-hand counts or deltas straight into the database, with a
//! progress bar and a summary of what was rejected and why. Rows without an id get one from the
//! file's content and row number, so importing the same file again changes nothing.

use std::path::PathBuf;

use anyhow::{Context, bail};
use iom_app::Inventory;
use iom_domain::DomainError;
use iom_inventory::request;
use iom_store::{Store, StoreError};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::DatabaseArg;

/// `iom import inventory`: on-hand counts or deltas from CSV.
#[derive(clap::Args)]
pub struct InventoryArgs {
    file: PathBuf,
    /// `set` (a count) or `delta`, for rows without a `kind` column.
    #[arg(long, default_value = "set")]
    kind: String,
    #[command(flatten)]
    db: DatabaseArg,
}

pub async fn run(args: InventoryArgs) -> anyhow::Result<()> {
    inventory(args.file, args.kind, args.db).await
}

struct Summary {
    applied: usize,
    duplicates: usize,
    rejected: Vec<(usize, String)>,
}

async fn inventory(file: PathBuf, default_kind: String, db: DatabaseArg) -> anyhow::Result<()> {
    if !matches!(default_kind.as_str(), "set" | "delta") {
        bail!("--kind must be set or delta");
    }
    let content = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let digest = hex::encode(&Sha256::digest(&content)[..6]);
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(content.as_slice());
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    for required in ["sku", "node", "quantity"] {
        if !headers.iter().any(|h| h == required) {
            bail!("{}: the header has no {required:?} column", file.display());
        }
    }
    let mut summary = Summary {
        applied: 0,
        duplicates: 0,
        rejected: Vec::new(),
    };
    // (row number in the file, change as JSON)
    let mut rows: Vec<(usize, Value)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                summary.rejected.push((row, e.to_string()));
                continue;
            }
        };
        let mut entry = Map::new();
        for (name, value) in headers.iter().zip(record.iter()) {
            if value.is_empty() {
                continue;
            }
            let value = if name == "quantity" {
                value
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(value))
            } else {
                Value::from(value)
            };
            entry.insert(name.clone(), value);
        }
        entry
            .entry("id")
            .or_insert_with(|| Value::from(format!("{digest}:{row}")));
        entry
            .entry("kind")
            .or_insert_with(|| Value::from(default_kind.clone()));
        let entry = Value::Object(entry);
        match request::parse_changes(std::slice::from_ref(&entry)) {
            Ok(_) => rows.push((row, entry)),
            Err(errors) => summary.rejected.push((row, describe(&errors))),
        }
    }

    let store = Store::open(&db.url)
        .await
        .with_context(|| format!("opening {}", iom_app::redact(&db.url)))?;
    let inventory = Inventory::new(store);
    let progress = indicatif::ProgressBar::new(rows.len() as u64);
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} {eta}")
            .expect("static template"),
    );
    for chunk in rows.chunks(request::MAX_BATCH) {
        let mut batch: Vec<(usize, Value)> = chunk.to_vec();
        // A bad entry refuses the whole batch: set it aside with its reason and send the rest.
        while !batch.is_empty() {
            let values: Vec<Value> = batch.iter().map(|(_, v)| v.clone()).collect();
            let changes =
                request::parse_changes(&values).map_err(|e| anyhow::anyhow!(describe(&e)))?;
            match inventory.apply_changes(changes).await {
                Ok(outcome) => {
                    summary.applied += outcome.applied;
                    summary.duplicates += outcome.duplicates;
                    break;
                }
                Err(StoreError::Domain(DomainError::Invalid(errors))) => {
                    let mut bad: Vec<usize> =
                        errors.iter().filter_map(|e| index_of(&e.field)).collect();
                    bad.sort_unstable();
                    bad.dedup();
                    if bad.is_empty() {
                        bail!("the batch was refused: {}", describe(&errors));
                    }
                    for &i in bad.iter().rev() {
                        let (row, _) = batch.remove(i);
                        let reasons: Vec<_> = errors
                            .iter()
                            .filter(|e| index_of(&e.field) == Some(i))
                            .cloned()
                            .collect();
                        summary.rejected.push((row, describe(&reasons)));
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    summary.rejected.sort();
    println!(
        "{}: {} applied, {} duplicates skipped, {} rejected",
        file.display(),
        summary.applied,
        summary.duplicates,
        summary.rejected.len()
    );
    for (row, reason) in summary.rejected.iter().take(50) {
        println!("  row {row}: {reason}");
    }
    if summary.rejected.len() > 50 {
        println!("  … and {} more", summary.rejected.len() - 50);
    }
    Ok(())
}

/// `changes[12].node` → 12.
fn index_of(field: &str) -> Option<usize> {
    field
        .strip_prefix("changes[")?
        .split(']')
        .next()?
        .parse()
        .ok()
}

fn describe(errors: &[iom_domain::FieldError]) -> String {
    errors
        .iter()
        .map(|e| {
            let field = e.field.split_once('.').map_or(e.field.as_str(), |(_, f)| f);
            format!("{field}: {}", e.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}
