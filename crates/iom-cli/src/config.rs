//! `iom config export|import`: a database's setup as one YAML file, and a file applied to a
//! database object by object in one transaction (the use case is `iom_app::config`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use iom_app::config::{self, ConfigError, ImportOptions};
use iom_app::pipeline;
use iom_store::Store;

use crate::DatabaseArg;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the setup (nodes, groups, profiles, policies, flows, providers, subscriptions,
    /// alerts, notification templates, return policy) as YAML; secrets are `{env: NAME}`
    /// references, never values.
    Export(ExportArgs),
    /// Show the difference between FILE and the database, object by object, and apply it in one
    /// transaction. Objects only in the database are kept.
    Import(ImportArgs),
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    db: DatabaseArg,
    /// Write to this file rather than to standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    file: PathBuf,
    /// Show the difference only; write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    db: DatabaseArg,
    /// Seals the secrets the file refers to, as for `iom serve`.
    #[arg(long, env = "IOM_MASTER_KEY", hide_env_values = true)]
    master_key: Option<String>,
}

pub async fn run(cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Export(args) => export(args).await,
        // What an import changes names it in the audit log.
        ConfigCommand::Import(args) => {
            iom_store::acting::scope(iom_domain::Actor::system("iom config import"), import(args))
                .await
        }
    }
}

async fn open(db: &DatabaseArg) -> anyhow::Result<Store> {
    Store::open(&db.url)
        .await
        .with_context(|| format!("opening {}", iom_app::redact(&db.url)))
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let store = open(&args.db).await?;
    let text = config::export(&store).await?;
    match args.output {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => print!("{text}"),
    }
    Ok(())
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let store = open(&args.db).await?;
    let (key, _) = pipeline::master_key(args.master_key.as_deref(), &args.db.url)?;
    let env = |name: &str| std::env::var(name).ok();
    let result = config::import(
        &store,
        &text,
        ImportOptions {
            dry_run: args.dry_run,
            key: key.as_ref(),
            env: &env,
        },
    )
    .await;
    match result {
        Ok(report) => {
            for line in report.lines(args.dry_run) {
                println!("{line}");
            }
            Ok(())
        }
        Err(ConfigError::Invalid(problems)) => {
            for p in &problems {
                eprintln!("{p}");
            }
            bail!(
                "{}: {} problem(s); nothing was changed",
                args.file.display(),
                problems.len()
            )
        }
        Err(e) => Err(e)
            .with_context(|| format!("importing {}; nothing was changed", args.file.display())),
    }
}
