//! `iom import …`: load files into the database with a progress bar and a summary.

mod inventory;
mod orders;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// On-hand counts or deltas from CSV: columns `sku,node,quantity`, optionally
    /// `id,kind,reason,source`.
    Inventory(inventory::InventoryArgs),
    /// Orders from a CSV, JSONL or X12 file, read through a provider instance as if posted to it.
    Orders(orders::OrdersArgs),
}

pub async fn run(cmd: ImportCommand) -> anyhow::Result<()> {
    match cmd {
        ImportCommand::Inventory(args) => inventory::run(args).await,
        ImportCommand::Orders(args) => orders::run(args).await,
    }
}
