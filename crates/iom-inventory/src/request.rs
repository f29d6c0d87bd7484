//! Reading change batches as feeds send them, reporting every bad entry at once (a non-integer
//! quantity included, which typed deserialisation would stop at).

use iom_domain::FieldError;
use serde_json::Value;

use crate::{Change, ChangeKind};

/// Most changes in one batch.
pub const MAX_BATCH: usize = 1_000;

pub fn parse_changes(entries: &[Value]) -> Result<Vec<Change>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if entries.is_empty() {
        errors.push(FieldError::new("changes", "must have at least one change"));
    }
    if entries.len() > MAX_BATCH {
        errors.push(FieldError::new(
            "changes",
            format!("must have at most {MAX_BATCH} changes"),
        ));
        return Err(errors);
    }
    let mut changes = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let at = |f: &str| format!("changes[{i}].{f}");
        let Some(obj) = entry.as_object() else {
            errors.push(FieldError::new(
                format!("changes[{i}]"),
                "must be an object",
            ));
            continue;
        };
        let text = |f: &str, errors: &mut Vec<FieldError>, required: bool| -> Option<String> {
            match obj.get(f) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                Some(Value::Number(n)) if f == "id" || f == "sku" => Some(n.to_string()),
                None | Some(Value::Null) if !required => None,
                _ => {
                    errors.push(FieldError::new(
                        at(f),
                        if required {
                            "is required text"
                        } else {
                            "must be text"
                        },
                    ));
                    None
                }
            }
        };
        let id = text("id", &mut errors, true);
        let sku = text("sku", &mut errors, true);
        let node = text("node", &mut errors, true);
        let reason = text("reason", &mut errors, false);
        let source = text("source", &mut errors, false);
        let kind = match obj.get("kind").and_then(Value::as_str) {
            Some("delta") | None => Some(ChangeKind::Delta),
            Some("set") => Some(ChangeKind::Set),
            Some(other) => {
                errors.push(FieldError::new(
                    at("kind"),
                    format!("{other:?} is not delta or set"),
                ));
                None
            }
        };
        let quantity = match obj.get("quantity") {
            Some(Value::Number(n)) => match n.as_i64() {
                Some(q) if q.unsigned_abs() <= 1_000_000_000 => Some(q),
                _ => {
                    errors.push(FieldError::new(
                        at("quantity"),
                        format!("{n} is not a whole number of units"),
                    ));
                    None
                }
            },
            None => {
                errors.push(FieldError::new(at("quantity"), "is required"));
                None
            }
            Some(other) => {
                errors.push(FieldError::new(
                    at("quantity"),
                    format!("{other} is not a whole number of units"),
                ));
                None
            }
        };
        if let (Some(ChangeKind::Set), Some(q)) = (kind, quantity)
            && q < 0
        {
            errors.push(FieldError::new(
                at("quantity"),
                "a count cannot be negative",
            ));
        }
        if let (Some(id), Some(sku), Some(node), Some(kind), Some(quantity)) =
            (id, sku, node, kind, quantity)
        {
            changes.push(Change {
                id,
                sku,
                node,
                kind,
                quantity,
                reason,
                source,
            });
        }
    }
    if errors.is_empty() {
        Ok(changes)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn every_bad_entry_is_named() {
        let entries = vec![
            json!({"id": "1", "sku": "A", "node": "N", "kind": "delta", "quantity": 1.5}),
            json!({"id": "2", "sku": "A", "node": "N", "kind": "move", "quantity": 1}),
            json!({"sku": "A", "node": "N", "quantity": "3"}),
            json!({"id": "4", "sku": "A", "node": "N", "kind": "set", "quantity": -1}),
            json!({"id": 5, "sku": "A", "node": "N", "quantity": 2}),
            json!({"id": "6", "sku": "A", "node": "N", "quantity": i64::MIN}),
        ];
        let errors = super::parse_changes(&entries).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "changes[0].quantity",
                "changes[1].kind",
                "changes[2].id",
                "changes[2].quantity",
                "changes[3].quantity",
                "changes[5].quantity"
            ]
        );
    }
}
