//! `iom import orders FILE --provider NAME`: loads a file of orders through a provider instance,
//! exactly as if the source had posted it to `POST /api/v1/inbound/{provider}` (same parsing,
//! mappings, validation, message log and de-duplication), without a server.
//!
//! The file is cut into documents so that one bad record does not hold back the others:
//! JSONL is one document per line, an X12 file one per interchange, a CSV file is one document
//! (its rows are grouped into orders by `external_id`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use iom_app::pipeline::{self, Pipeline};
use iom_store::Store;
use iom_store::providers::Processed;

use crate::DatabaseArg;

#[derive(clap::Args)]
pub struct OrdersArgs {
    file: PathBuf,
    /// The provider instance the documents come from (its type decides how they are read).
    #[arg(long)]
    provider: String,
    #[command(flatten)]
    db: DatabaseArg,
    /// Opens the instance's sealed secrets, as for `iom serve`.
    #[arg(long, env = "IOM_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Format {
    Csv,
    Jsonl,
    X12,
}

/// By extension, else by the first bytes.
fn format_of(path: &std::path::Path, data: &[u8]) -> Format {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("csv") => return Format::Csv,
        Some("jsonl" | "ndjson" | "json") => return Format::Jsonl,
        Some("edi" | "x12" | "850") => return Format::X12,
        _ => {}
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(64)]);
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with("ISA") || start.starts_with("GS") || start.starts_with("ST") {
        Format::X12
    } else if start.starts_with('{') || start.starts_with('[') {
        Format::Jsonl
    } else {
        Format::Csv
    }
}

/// The documents of a file.
fn documents(format: &Format, data: &[u8]) -> anyhow::Result<Vec<Vec<u8>>> {
    Ok(match format {
        Format::Csv => vec![data.to_vec()],
        Format::Jsonl => data
            .split(|b| *b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(<[u8]>::to_vec)
            .collect(),
        // One body: the pipeline takes each transaction set of each interchange on its own.
        Format::X12 => vec![data.to_vec()],
    })
}

pub async fn run(args: OrdersArgs) -> anyhow::Result<()> {
    let data =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let format = format_of(&args.file, &data);
    let docs = documents(&format, &data)?;
    let store = Store::open(&args.db.url)
        .await
        .with_context(|| format!("opening {}", iom_app::redact(&args.db.url)))?;
    let (key, _) = pipeline::master_key(args.master_key.as_deref(), &args.db.url)?;
    let pipeline = Pipeline::new(key);
    let loaded = pipeline
        .load(&store, &args.provider)
        .await
        .with_context(|| format!("loading provider {}", args.provider))?;
    if !loaded.kind.receives() {
        bail!(
            "provider {} ({}) receives no documents",
            args.provider,
            loaded.kind.name
        );
    }
    let bar = ProgressBar::new(docs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} documents {per_sec} {msg}")
            .expect("a static template"),
    );
    let (mut created, mut existing, mut duplicates) = (0usize, 0usize, 0usize);
    let mut failed: Vec<(usize, String, String)> = Vec::new();
    let mut n = 0;
    for doc in docs {
        for outcome in pipeline.receive(&store, &loaded, doc).await? {
            n += 1;
            match outcome {
                Processed::Done {
                    id,
                    status,
                    order_ids,
                    created: new,
                    error,
                } => {
                    if status == "failed" {
                        let reason = error.as_ref().map(|e| e.to_string()).unwrap_or_default();
                        failed.push((n, id, reason));
                    } else {
                        created += new;
                        existing += order_ids.len() - new;
                    }
                }
                Processed::Duplicate { .. } | Processed::AlreadyProcessed { .. } => duplicates += 1,
            }
        }
        bar.inc(1);
        bar.set_message(format!("{created} created, {} failed", failed.len()));
    }
    bar.finish();
    println!("format: {format:?}");
    println!("orders created: {created}");
    println!("orders that existed already: {existing}");
    println!("documents imported before (skipped): {duplicates}");
    println!("documents failed: {}", failed.len());
    for (n, id, reason) in &failed {
        println!("  document {n} (message {id}): {reason}");
    }
    if !failed.is_empty() {
        println!(
            "fix the mappings, then import the same files again (documents that failed are processed again) or retry one: POST /api/v1/providers/{}/messages/{{id}}/retry",
            args.provider
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension_then_content() {
        let p = std::path::Path::new;
        assert_eq!(format_of(p("a.csv"), b"ISA"), Format::Csv);
        assert_eq!(format_of(p("a.jsonl"), b""), Format::Jsonl);
        assert_eq!(format_of(p("a.edi"), b""), Format::X12);
        assert_eq!(format_of(p("a"), b"\xef\xbb\xbfISA*00*"), Format::X12);
        assert_eq!(format_of(p("a"), b" {\"x\":1}"), Format::Jsonl);
        assert_eq!(format_of(p("a"), b"external_id,sku"), Format::Csv);
        let docs = documents(&Format::Jsonl, b"{}\n\n{\"a\":1}\n").unwrap();
        assert_eq!(docs.len(), 2);
    }
}
