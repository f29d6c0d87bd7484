//! `iom user create|list|disable`: the people who sign in to the web UI, managed directly in the
//! database through `iom_app::people::users`.

use std::io::Read;

use anyhow::{Context, bail};
use clap::Subcommand;
use iom_app::people::users;
use iom_store::Store;

use crate::DatabaseArg;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input (its first line).
    Create {
        /// The e-mail the user signs in with.
        #[arg(long)]
        email: String,
        /// admin, operator, service (customer service: orders and returns) or viewer.
        #[arg(long)]
        role: String,
        /// No password: the user signs in only through OpenID Connect (`IOM_OIDC_ISSUER`).
        #[arg(long)]
        no_password: bool,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List users: e-mail, role, state, created.
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Disable a user: they cannot sign in, and their sessions end at once.
    Disable {
        email: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

pub async fn run(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            email,
            role,
            no_password,
            db,
        } => {
            let password = if no_password {
                None
            } else {
                Some(read_password()?)
            };
            let store = open(&db).await?;
            let user = users::create(&store, &email, &role, password).await?;
            eprintln!(
                "created user {} with role {}",
                user.email,
                user.role.as_str()
            );
        }
        UserCommand::List { db } => {
            let store = open(&db).await?;
            for u in users::list(&store).await? {
                let state = match u.disabled_at {
                    Some(at) => format!("disabled {}", at.to_rfc3339()),
                    None => "active".into(),
                };
                println!(
                    "{}\t{}\t{}\t{}",
                    u.email,
                    u.role.as_str(),
                    state,
                    u.created_at.to_rfc3339()
                );
            }
        }
        UserCommand::Disable { email, db } => {
            let store = open(&db).await?;
            let user = users::disable(&store, &email).await?;
            eprintln!("disabled {}; their sessions have ended", user.email);
        }
    }
    Ok(())
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("reading the password from standard input")?;
    let password = input.lines().next().unwrap_or("").to_owned();
    if password.is_empty() {
        bail!("give the password on standard input, e.g. `echo \"$PASSWORD\" | iom user create …`");
    }
    Ok(password)
}

async fn open(db: &DatabaseArg) -> anyhow::Result<Store> {
    Store::open(&db.url)
        .await
        .with_context(|| format!("opening {}", iom_app::redact(&db.url)))
}
