//! Value mappings: tables that translate a source system's codes into iom's (a partner's part
//! number into our SKU, `UPSG` into `ground`, a marketplace's warehouse code into a node). They
//! belong to a provider instance (`"mappings"` in `PUT /api/v1/providers/{name}`) and are applied
//! after parsing and transformation, so the same parser serves every partner.
//!
//! The rule for a value without an entry: a table that is empty means "this instance does not
//! map this kind", and values pass through unchanged; a table with entries is taken as complete,
//! and a value missing from it is an error rather than passed through, because an unknown SKU
//! that slips through would be allocated, reserved and shipped as the wrong article. The error
//! lists every unmapped value of the document at once, so that the table can be completed in one
//! go. Keys are matched exactly, after trimming surrounding spaces.

use std::collections::HashMap;
use std::fmt;

use iom_domain::intake::OrderIntake;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::shipment::ShipmentNotice;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mappings {
    /// Applied to each line's `sku`.
    pub sku: HashMap<String, String>,
    /// Applied to the order's `ship_method`.
    pub ship_method: HashMap<String, String>,
    /// Applied to the `node` attribute of the order and of its lines (where a channel says which
    /// node fulfils, e.g. marketplace-fulfilled orders or store pick-up), and to a shipment
    /// notice's `node`.
    pub node: HashMap<String, String>,
    /// Applied to each line's `uom`.
    pub uom: HashMap<String, String>,
    /// Applied to the customer's `id`.
    pub customer: HashMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingKind {
    Sku,
    ShipMethod,
    Node,
    Uom,
    Customer,
}

impl fmt::Display for MappingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sku => "sku",
            Self::ShipMethod => "ship_method",
            Self::Node => "node",
            Self::Uom => "uom",
            Self::Customer => "customer",
        })
    }
}

/// A value that its table lacks, and the first field where it occurs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmapped {
    pub kind: MappingKind,
    pub value: String,
    /// e.g. `lines[2].sku`
    pub field: String,
}

/// Every value a document holds that its mapping table lacks, each once.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct UnmappedValues(pub Vec<Unmapped>);

impl fmt::Display for UnmappedValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no mapping for ")?;
        for (i, u) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{} {:?} ({})", u.kind, u.value, u.field)?;
        }
        Ok(())
    }
}

/// Collects translations and misses over a whole document.
struct Run<'m> {
    mappings: &'m Mappings,
    missing: Vec<Unmapped>,
}

impl Run<'_> {
    fn table(&self, kind: MappingKind) -> &HashMap<String, String> {
        match kind {
            MappingKind::Sku => &self.mappings.sku,
            MappingKind::ShipMethod => &self.mappings.ship_method,
            MappingKind::Node => &self.mappings.node,
            MappingKind::Uom => &self.mappings.uom,
            MappingKind::Customer => &self.mappings.customer,
        }
    }

    fn map(
        &mut self,
        kind: MappingKind,
        value: &mut Option<String>,
        field: impl FnOnce() -> String,
    ) {
        let Some(v) = value.as_mut() else { return };
        let table = self.table(kind);
        if table.is_empty() {
            return;
        }
        let key = v.trim();
        match table.get(key) {
            Some(mapped) => *v = mapped.clone(),
            None => {
                let key = key.to_owned();
                if !self
                    .missing
                    .iter()
                    .any(|u| u.kind == kind && u.value == key)
                {
                    self.missing.push(Unmapped {
                        kind,
                        value: key,
                        field: field(),
                    });
                }
            }
        }
    }

    /// Maps a string attribute in place.
    fn map_attribute(
        &mut self,
        kind: MappingKind,
        attributes: &mut Option<serde_json::Map<String, Value>>,
        name: &str,
        field: impl FnOnce() -> String,
    ) {
        let Some(Value::String(s)) = attributes.as_mut().and_then(|a| a.get_mut(name)) else {
            return;
        };
        let mut value = Some(std::mem::take(s));
        self.map(kind, &mut value, field);
        *s = value.unwrap_or_default();
    }

    fn finish<T>(self, value: T) -> Result<T, UnmappedValues> {
        if self.missing.is_empty() {
            Ok(value)
        } else {
            Err(UnmappedValues(self.missing))
        }
    }
}

impl Mappings {
    /// True when no table has entries: applying changes nothing.
    pub fn is_empty(&self) -> bool {
        self.sku.is_empty()
            && self.ship_method.is_empty()
            && self.node.is_empty()
            && self.uom.is_empty()
            && self.customer.is_empty()
    }

    /// Translates the intake's codes, or lists every value that has no entry.
    pub fn apply(&self, mut intake: OrderIntake) -> Result<OrderIntake, UnmappedValues> {
        let mut run = Run {
            mappings: self,
            missing: Vec::new(),
        };
        run.map(MappingKind::ShipMethod, &mut intake.ship_method, || {
            "ship_method".into()
        });
        if let Some(customer) = intake.customer.as_mut() {
            run.map(MappingKind::Customer, &mut customer.id, || {
                "customer.id".into()
            });
        }
        run.map_attribute(MappingKind::Node, &mut intake.attributes, "node", || {
            "attributes.node".into()
        });
        for (i, line) in intake.lines.iter_mut().flatten().enumerate() {
            run.map(MappingKind::Sku, &mut line.sku, || {
                format!("lines[{i}].sku")
            });
            run.map(MappingKind::Uom, &mut line.uom, || {
                format!("lines[{i}].uom")
            });
            run.map_attribute(MappingKind::Node, &mut line.attributes, "node", || {
                format!("lines[{i}].attributes.node")
            });
        }
        run.finish(intake)
    }

    /// Translates a shipment notice's SKUs, units and node the same way.
    pub fn apply_to_shipment(
        &self,
        mut notice: ShipmentNotice,
    ) -> Result<ShipmentNotice, UnmappedValues> {
        let mut run = Run {
            mappings: self,
            missing: Vec::new(),
        };
        run.map(MappingKind::Node, &mut notice.node, || "node".into());
        for (i, line) in notice.lines.iter_mut().enumerate() {
            run.map(MappingKind::Sku, &mut line.sku, || {
                format!("lines[{i}].sku")
            });
            run.map(MappingKind::Uom, &mut line.uom, || {
                format!("lines[{i}].uom")
            });
        }
        run.finish(notice)
    }
}
