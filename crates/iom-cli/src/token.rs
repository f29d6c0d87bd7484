//! `iom token create|list|revoke`: manage API tokens directly in the database.

use anyhow::{Context, bail};
use clap::Subcommand;
use iom_app::access::{Role, generate_token};
use iom_store::{Store, TokenLimits};

use crate::DatabaseArg;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it is shown only once).
    Create {
        /// A name to recognise the token by.
        #[arg(long)]
        name: String,
        /// admin, operator, integration, service (customer service: orders and returns) or viewer.
        #[arg(long, default_value = "integration")]
        role: String,
        /// Limit the token to this channel's orders (repeatable). A limited token sees and
        /// changes only the orders of its channels and providers, and no stock.
        #[arg(long = "channel")]
        channels: Vec<String>,
        /// Limit the token to this provider instance: its documents, its messages and the
        /// orders it created (repeatable).
        #[arg(long = "provider")]
        providers: Vec<String>,
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
        TokenCommand::Create {
            name,
            role,
            channels,
            providers,
            db,
        } => {
            let Some(role) = Role::parse(&role) else {
                bail!("unknown role {role:?}: use admin, operator, integration, service or viewer");
            };
            let limits = (!channels.is_empty() || !providers.is_empty()).then_some(TokenLimits {
                channels,
                providers,
            });
            let store = open(&db).await?;
            let token = generate_token();
            let record = store
                .put_limited_token(name, role.as_str().into(), token.clone(), limits)
                .await?;
            eprintln!(
                "created token {} ({}) with role {}{}",
                record.id,
                record.name,
                record.role,
                describe(record.limits.as_ref())
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
                    "{}\t{}\t{}\t{}\t{}{}",
                    t.id,
                    t.name,
                    t.role,
                    t.created_at.to_rfc3339(),
                    state,
                    describe(t.limits.as_ref())
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

/// ", limited to channels web and providers shop-eu", or nothing for an unlimited token.
fn describe(limits: Option<&TokenLimits>) -> String {
    let Some(limits) = limits else {
        return String::new();
    };
    let mut parts = Vec::new();
    if !limits.channels.is_empty() {
        parts.push(format!("channels {}", limits.channels.join(", ")));
    }
    if !limits.providers.is_empty() {
        parts.push(format!("providers {}", limits.providers.join(", ")));
    }
    format!(", limited to {}", parts.join(" and "))
}
