//! API tokens. Only a SHA-256 hash of each token is stored: a leaked database yields no usable token.
//! (Tokens are 256-bit random values, so a fast unsalted hash is enough; passwords would need more.)

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Row, Value};
use crate::{Store, StoreError, from_micros, micros};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// What the token is limited to; everything its role allows when unlimited.
    pub limits: Option<TokenLimits>,
}

impl TokenRecord {
    /// The token as the audit log keeps it (it never held the token's value, only its hash).
    fn audited(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The channels and provider instances a token is limited to. Orders a provider instance
/// creates carry its name as their channel, so a provider also counts as a channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TokenLimits {
    pub channels: Vec<String>,
    pub providers: Vec<String>,
}

const COLUMNS: &str = "id, name, role, created_at, revoked_at, channels, providers";

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Stores a token (by hash) with a role. Storing the same token again updates its name and role.
    pub async fn put_token(
        &self,
        name: String,
        role: String,
        token: String,
    ) -> Result<TokenRecord, StoreError> {
        self.put_limited_token(name, role, token, None).await
    }

    /// Stores a token limited to some channels and providers (`None`: not limited).
    pub async fn put_limited_token(
        &self,
        name: String,
        role: String,
        token: String,
        limits: Option<TokenLimits>,
    ) -> Result<TokenRecord, StoreError> {
        let channels = limits
            .as_ref()
            .map(|l| serde_json::to_string(&l.channels))
            .transpose()?;
        let providers = limits
            .as_ref()
            .map(|l| serde_json::to_string(&l.providers))
            .transpose()?;
        self.write(move |tx| {
            let hash = hash_token(&token);
            let now = tx.now();
            let id = uuid::Uuid::now_v7().to_string();
            let rows = tx.conn().query(
                &format!(
                    "INSERT INTO api_tokens (id, name, role, hash, created_at, channels, providers)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (hash) DO UPDATE SET name = excluded.name, role = excluded.role,
                         channels = excluded.channels, providers = excluded.providers, revoked_at = NULL
                     RETURNING {COLUMNS}"
                ),
                &[
                    Value::Text(&id),
                    Value::Text(&name),
                    Value::Text(&role),
                    Value::Text(&hash),
                    Value::Int(micros(now)),
                    channels.as_ref().into(),
                    providers.as_ref().into(),
                ],
            )?;
            let stored = rows
                .into_iter()
                .next()
                .map(record)
                .ok_or_else(|| StoreError::Corrupt("token insert returned nothing".into()))??;
            tx.audit(
                &format!("token:{}", stored.id),
                None,
                Some(&stored.audited()),
            )?;
            Ok(stored)
        })
        .await
    }

    /// The active token with this value, if any.
    pub async fn find_token(&self, token: &str) -> Result<Option<TokenRecord>, StoreError> {
        let hash = hash_token(token);
        self.read(move |c| {
            c.query_one(
                &format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL"),
                &[Value::Text(&hash)],
            )?
            .map(record)
            .transpose()
        })
        .await
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(|c| {
            c.query(
                &format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at"),
                &[],
            )?
            .into_iter()
            .map(record)
            .collect()
        })
        .await
    }

    /// Revokes a token by id or name; `false` when no active token matched.
    pub async fn revoke_token(&self, id_or_name: String) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let revoked = tx.conn().query(
                &format!(
                    "UPDATE api_tokens SET revoked_at = $2 WHERE (id = $1 OR name = $1) AND revoked_at IS NULL
                     RETURNING {COLUMNS}"
                ),
                &[Value::Text(&id_or_name), Value::Int(now)],
            )?;
            let any = !revoked.is_empty();
            for row in revoked {
                let token = record(row)?;
                let before = TokenRecord {
                    revoked_at: None,
                    ..token.clone()
                };
                tx.audit(
                    &format!("token:{}", token.id),
                    Some(&before.audited()),
                    Some(&token.audited()),
                )?;
            }
            Ok(any)
        })
        .await
    }
}

fn record(row: Row) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: row.text(0)?.to_owned(),
        name: row.text(1)?.to_owned(),
        role: row.text(2)?.to_owned(),
        created_at: from_micros(row.int(3)?),
        revoked_at: row.opt_int(4)?.map(from_micros),
        limits: match (row.opt_text(5)?, row.opt_text(6)?) {
            (None, None) => None,
            (channels, providers) => {
                let names = |text: Option<&str>| -> Result<Vec<String>, StoreError> {
                    Ok(text
                        .map(serde_json::from_str)
                        .transpose()?
                        .unwrap_or_default())
                };
                Some(TokenLimits {
                    channels: names(channels)?,
                    providers: names(providers)?,
                })
            }
        },
    })
}
