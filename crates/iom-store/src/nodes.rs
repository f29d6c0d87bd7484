//! Fulfilment nodes, node groups and sourcing profiles, stored as their JSON definitions. The store
//! does not interpret a definition beyond the columns it filters on; `iom-sourcing` owns their meaning.

use chrono::{DateTime, Utc};
use serde_json::Value as Json;

use crate::db::{Conn, Value};
use crate::{Store, StoreError, Tx, from_micros, micros};

/// A stored node definition.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    pub code: String,
    pub kind: String,
    pub active: bool,
    /// Units held back at this node for every SKU without an override.
    pub safety_stock: i64,
    pub doc: Json,
    pub updated_at: DateTime<Utc>,
}

/// A named JSON definition: a node group or a profile.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedDoc {
    pub name: String,
    pub doc: Json,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy)]
pub enum DocKind {
    NodeGroup,
    Profile,
}

impl DocKind {
    fn table(self) -> &'static str {
        match self {
            DocKind::NodeGroup => "node_groups",
            DocKind::Profile => "fulfillment_profiles",
        }
    }

    /// The kind as the audit log names it (`node-group:EAST`, `profile:standard`).
    fn subject(self) -> &'static str {
        match self {
            DocKind::NodeGroup => "node-group",
            DocKind::Profile => "profile",
        }
    }
}

impl Store {
    /// Creates or replaces a node; `true` when it is new.
    pub async fn put_node(&self, node: NodeRecord) -> Result<bool, StoreError> {
        self.write(move |tx| put_node_in(tx, &node)).await
    }

    pub async fn get_node(&self, code: String) -> Result<Option<NodeRecord>, StoreError> {
        self.read(move |c| {
            c.query_one(
                "SELECT code, kind, active, safety_stock, doc, updated_at FROM nodes WHERE code = $1",
                &[Value::Text(&code)],
            )?
            .map(node)
            .transpose()
        })
        .await
    }

    pub async fn list_nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT code, kind, active, safety_stock, doc, updated_at FROM nodes ORDER BY code",
                &[],
            )?
            .into_iter()
            .map(node)
            .collect()
        })
        .await
    }

    /// Creates or replaces a node group or a profile; `true` when it is new.
    pub async fn put_doc(
        &self,
        kind: DocKind,
        name: String,
        doc: Json,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| put_doc_in(tx, kind, &name, &doc))
            .await
    }

    pub async fn get_doc(
        &self,
        kind: DocKind,
        name: String,
    ) -> Result<Option<NamedDoc>, StoreError> {
        self.read(move |c| {
            c.query_one(
                &format!(
                    "SELECT name, doc, updated_at FROM {} WHERE name = $1",
                    kind.table()
                ),
                &[Value::Text(&name)],
            )?
            .map(named)
            .transpose()
        })
        .await
    }

    pub async fn list_docs(&self, kind: DocKind) -> Result<Vec<NamedDoc>, StoreError> {
        self.read(move |c| {
            c.query(
                &format!(
                    "SELECT name, doc, updated_at FROM {} ORDER BY name",
                    kind.table()
                ),
                &[],
            )?
            .into_iter()
            .map(named)
            .collect()
        })
        .await
    }
}

impl Store {
    /// Stores postal-code centroids `(country, postal_code, lat, lon)`, replacing those with the same
    /// code; returns how many were stored.
    pub async fn put_postal_centroids(
        &self,
        rows: Vec<(String, String, f64, f64)>,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| {
            for chunk in rows.chunks(64) {
                let numbers: Vec<(String, String)> = chunk
                    .iter()
                    .map(|(_, _, lat, lon)| (lat.to_string(), lon.to_string()))
                    .collect();
                let mut params = Vec::with_capacity(chunk.len() * 4);
                for ((country, code, _, _), (lat, lon)) in chunk.iter().zip(&numbers) {
                    params.extend([
                        Value::Text(country),
                        Value::Text(code),
                        Value::Text(lat),
                        Value::Text(lon),
                    ]);
                }
                let sql = format!(
                    "{} ON CONFLICT (country, postal_code) DO UPDATE SET lat = excluded.lat, lon = excluded.lon",
                    crate::db::multi_row_insert(
                        "postal_centroids (country, postal_code, lat, lon)",
                        4,
                        chunk.len()
                    )
                );
                tx.conn().execute(&sql, &params)?;
            }
            Ok(rows.len())
        })
        .await
    }
}

/// The stored centroid of the first of `postal_codes` (candidates of one code, as given, then
/// without a ZIP+4 suffix) that has one: where an address without coordinates is.
pub fn centroid_in(
    conn: &mut dyn Conn,
    country: &str,
    postal_codes: &[String],
) -> Result<Option<(f64, f64)>, StoreError> {
    for code in postal_codes {
        if let Some(row) = conn.query_one(
            "SELECT lat, lon FROM postal_centroids WHERE country = $1 AND postal_code = $2",
            &[Value::Text(country), Value::Text(code)],
        )? {
            let number = |i: usize| row.text(i).ok().and_then(|t| t.parse::<f64>().ok());
            if let (Some(lat), Some(lon)) = (number(0), number(1)) {
                return Ok(Some((lat, lon)));
            }
        }
    }
    Ok(None)
}

fn node(row: crate::Row) -> Result<NodeRecord, StoreError> {
    Ok(NodeRecord {
        code: row.text(0)?.to_owned(),
        kind: row.text(1)?.to_owned(),
        active: row.int(2)? != 0,
        safety_stock: row.int(3)?,
        doc: serde_json::from_str(row.text(4)?)?,
        updated_at: from_micros(row.int(5)?),
    })
}

fn named(row: crate::Row) -> Result<NamedDoc, StoreError> {
    Ok(NamedDoc {
        name: row.text(0)?.to_owned(),
        doc: serde_json::from_str(row.text(1)?)?,
        updated_at: from_micros(row.int(2)?),
    })
}

/// Every node, on any connection (inside a write as well).
pub fn nodes_in(conn: &mut dyn crate::Conn) -> Result<Vec<NodeRecord>, StoreError> {
    conn.query(
        "SELECT code, kind, active, safety_stock, doc, updated_at FROM nodes ORDER BY code",
        &[],
    )?
    .into_iter()
    .map(node)
    .collect()
}

/// Every node group or profile, on any connection.
pub fn docs_in(conn: &mut dyn crate::Conn, kind: DocKind) -> Result<Vec<NamedDoc>, StoreError> {
    conn.query(
        &format!(
            "SELECT name, doc, updated_at FROM {} ORDER BY name",
            kind.table()
        ),
        &[],
    )?
    .into_iter()
    .map(named)
    .collect()
}

/// One node group or profile, on any connection.
pub fn doc_in(
    conn: &mut dyn crate::Conn,
    kind: DocKind,
    name: &str,
) -> Result<Option<NamedDoc>, StoreError> {
    conn.query_one(
        &format!(
            "SELECT name, doc, updated_at FROM {} WHERE name = $1",
            kind.table()
        ),
        &[Value::Text(name)],
    )?
    .map(named)
    .transpose()
}

/// One node's definition, on any connection.
pub fn node_doc_in(conn: &mut dyn crate::Conn, code: &str) -> Result<Option<Json>, StoreError> {
    conn.query_one(
        "SELECT doc FROM nodes WHERE code = $1",
        &[Value::Text(code)],
    )?
    .map(|r| Ok(serde_json::from_str(r.text(0)?)?))
    .transpose()
}

/// Creates or replaces a node inside a write; `true` when it is new.
pub fn put_node_in(tx: &mut Tx<'_>, node: &NodeRecord) -> Result<bool, StoreError> {
    let now = micros(tx.now());
    let doc = node.doc.to_string();
    let before = tx
        .conn()
        .query_one(
            "SELECT doc FROM nodes WHERE code = $1",
            &[Value::Text(&node.code)],
        )?
        .map(|row| Ok::<_, StoreError>(serde_json::from_str::<Json>(row.text(0)?)?))
        .transpose()?;
    let existed = before.is_some();
    tx.audit(
        &format!("node:{}", node.code),
        before.as_ref(),
        Some(&node.doc),
    )?;
    tx.conn().execute(
        "INSERT INTO nodes (code, kind, active, safety_stock, doc, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (code) DO UPDATE SET kind = excluded.kind, active = excluded.active,
           safety_stock = excluded.safety_stock, doc = excluded.doc, updated_at = excluded.updated_at",
        &[
            Value::Text(&node.code),
            Value::Text(&node.kind),
            Value::Int(node.active.into()),
            Value::Int(node.safety_stock),
            Value::Text(&doc),
            Value::Int(now),
        ],
    )?;
    tx.emit(iom_domain::EventDraft::new(
        if existed {
            "node.updated"
        } else {
            "node.created"
        },
        format!("node:{}", node.code),
        node.doc.clone(),
    ));
    Ok(!existed)
}

/// Creates or replaces a node group or a profile inside a write; `true` when it is new.
pub fn put_doc_in(
    tx: &mut Tx<'_>,
    kind: DocKind,
    name: &str,
    doc: &Json,
) -> Result<bool, StoreError> {
    let now = micros(tx.now());
    let table = kind.table();
    let before = crate::audit::stored_doc(tx.conn(), table, name)?;
    let existed = before.is_some();
    tx.audit(
        &format!("{}:{name}", kind.subject()),
        before.as_ref(),
        Some(doc),
    )?;
    let text = doc.to_string();
    tx.conn().execute(
        &format!(
            "INSERT INTO {table} (name, doc, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at"
        ),
        &[Value::Text(name), Value::Text(&text), Value::Int(now)],
    )?;
    Ok(!existed)
}
