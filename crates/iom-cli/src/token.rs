//! `iom token create|list|revoke`: manage API tokens directly in the database.

use anyhow::{Context, bail};
use clap::Subcommand;
use iom_app::access::{Role, generate_token};
use iom_store::Store;

use crate::DatabaseArg;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it is shown only once).
    Create {
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// admin, operator, integration or viewer.
        #[arg(long, default_value = "integration")]
        role: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List tokens (never their values).
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Revoke a token by id or name.
    Revoke {
        id: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

pub async fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create { name, role, db } => {
            let Some(role) = Role::parse(&role) else {
                bail!("unknown role {role:?}: use admin, operator, integration or viewer");
            };
            let store = open(&db).await?;
            let token = generate_token();
            let record = store
                .put_token(name, role.as_str().into(), token.clone())
                .await?;
            eprintln!(
                "created token {} ({}) with role {}",
                record.id, record.name, record.role
            );
            println!("{token}");
        }
        TokenCommand::List { db } => {
            let store = open(&db).await?;
            for t in store.list_tokens().await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.role,
                    t.created_at.to_rfc3339(),
                    state
                );
            }
        }
        TokenCommand::Revoke { id, db } => {
            let store = open(&db).await?;
            if !store.revoke_token(id.clone()).await? {
                bail!("no active token with id or name {id:?}");
            }
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}

async fn open(db: &DatabaseArg) -> anyhow::Result<Store> {
    Store::open(&db.url)
        .await
        .with_context(|| format!("opening {}", iom_app::redact(&db.url)))
}
