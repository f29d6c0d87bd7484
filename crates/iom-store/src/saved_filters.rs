//! Filters people saved on a list: a name and the list's query string, per user and list.

use crate::{Store, StoreError, Value, micros};

/// One saved filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedFilter {
    pub name: String,
    /// The list's query string without its leading `?` (`status=on_hold&channel=web`).
    pub query: String,
}

impl Store {
    /// Saves (or replaces) `owner`'s filter `name` of `list`.
    pub async fn save_filter(
        &self,
        owner: String,
        list: String,
        filter: SavedFilter,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "INSERT INTO saved_filters (owner, list, name, query, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (owner, list, name) DO UPDATE SET query = excluded.query",
                &[
                    Value::Text(&owner),
                    Value::Text(&list),
                    Value::Text(&filter.name),
                    Value::Text(&filter.query),
                    Value::Int(now),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Removes `owner`'s filter `name` of `list`; false when there was none.
    pub async fn delete_filter(
        &self,
        owner: String,
        list: String,
        name: String,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            Ok(tx.conn().execute(
                "DELETE FROM saved_filters WHERE owner = $1 AND list = $2 AND name = $3",
                &[Value::Text(&owner), Value::Text(&list), Value::Text(&name)],
            )? > 0)
        })
        .await
    }

    /// `owner`'s filters of `list`, by name.
    pub async fn saved_filters(
        &self,
        owner: String,
        list: String,
    ) -> Result<Vec<SavedFilter>, StoreError> {
        self.read(move |c| {
            c.query(
                "SELECT name, query FROM saved_filters WHERE owner = $1 AND list = $2
                 ORDER BY name LIMIT 100",
                &[Value::Text(&owner), Value::Text(&list)],
            )?
            .iter()
            .map(|r| {
                Ok(SavedFilter {
                    name: r.text(0)?.to_owned(),
                    query: r.text(1)?.to_owned(),
                })
            })
            .collect()
        })
        .await
    }
}
