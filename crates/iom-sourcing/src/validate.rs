//! What makes a node, a node group or a profile acceptable as configuration. Serde already refuses
//! wrong shapes (an unknown `kind`, a negative `daily_capacity`); these checks cover what the types
//! cannot say, and report every bad field at once with its path, as the HTTP API answers it.

use iom_domain::FieldError;
use rust_decimal::Decimal;

use crate::node::{Node, NodeGroup, RateTable};
use crate::profile::Profile;

/// Longest node code, group name or profile name: they appear in URLs and plans.
pub const MAX_NAME_LEN: usize = 100;
/// Longest chain of alternate profiles; the engine stops following alternates beyond it.
pub const MAX_ALTERNATES: usize = 7;

/// Checks a code or name taken from a URL path.
pub fn check_name(field: &str, name: &str, errors: &mut Vec<FieldError>) {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        errors.push(FieldError::new(
            field,
            format!("must be 1 to {MAX_NAME_LEN} characters"),
        ));
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        errors.push(FieldError::new(
            field,
            "must not contain spaces or control characters",
        ));
    }
}

fn non_negative_money(field: &str, value: Decimal, errors: &mut Vec<FieldError>) {
    if value.is_sign_negative() && !value.is_zero() {
        errors.push(FieldError::new(field, "must not be negative"));
    }
}

fn non_negative_km(field: &str, value: Option<f64>, errors: &mut Vec<FieldError>) {
    if let Some(v) = value
        && !(v.is_finite() && v >= 0.0)
    {
        errors.push(FieldError::new(
            field,
            "must be a non-negative number of kilometres",
        ));
    }
}

impl Node {
    /// Every problem of this definition; empty when the node can join a [`crate::Network`].
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_name("code", &self.code, &mut errors);
        if self.name.chars().count() > 200 {
            errors.push(FieldError::new("name", "must be at most 200 characters"));
        }
        if let Some(loc) = self.location {
            if !(loc.lat.is_finite() && (-90.0..=90.0).contains(&loc.lat)) {
                errors.push(FieldError::new(
                    "location.lat",
                    "must be between -90 and 90",
                ));
            }
            if !(loc.lon.is_finite() && (-180.0..=180.0).contains(&loc.lon)) {
                errors.push(FieldError::new(
                    "location.lon",
                    "must be between -180 and 180",
                ));
            }
        }
        non_negative_money("costs.per_shipment", self.costs.per_shipment, &mut errors);
        non_negative_money("costs.per_unit", self.costs.per_unit, &mut errors);
        non_negative_money("costs.per_km", self.costs.per_km, &mut errors);
        match &self.costs.rate_table {
            None => {}
            Some(RateTable::Weight { brackets }) => {
                if brackets.is_empty() {
                    errors.push(FieldError::new(
                        "costs.rate_table.brackets",
                        "must hold at least one bracket",
                    ));
                }
                for (i, b) in brackets.iter().enumerate() {
                    let at = format!("costs.rate_table.brackets[{i}]");
                    if !(b.up_to_kg.is_finite() && b.up_to_kg >= 0.0) {
                        errors.push(FieldError::new(
                            format!("{at}.up_to_kg"),
                            "must be a non-negative number",
                        ));
                    }
                    non_negative_money(&format!("{at}.price"), b.price, &mut errors);
                }
            }
            Some(RateTable::Zone { zones }) => {
                if zones.is_empty() {
                    errors.push(FieldError::new(
                        "costs.rate_table.zones",
                        "must hold at least one zone",
                    ));
                }
                for (i, z) in zones.iter().enumerate() {
                    let at = format!("costs.rate_table.zones[{i}]");
                    non_negative_km(&format!("{at}.up_to_km"), Some(z.up_to_km), &mut errors);
                    non_negative_money(&format!("{at}.price"), z.price, &mut errors);
                    non_negative_money(&format!("{at}.per_kg"), z.per_kg, &mut errors);
                }
            }
        }
        non_negative_km("max_distance_km", self.max_distance_km, &mut errors);
        // Real offsets lie within ±14 hours; ±18 is what RFC 3339 and chrono accept.
        if self.calendar.utc_offset_minutes.unsigned_abs() > 18 * 60 {
            errors.push(FieldError::new(
                "calendar.utc_offset_minutes",
                "must be between -1080 and 1080",
            ));
        }
        if self.calendar.processing_days > 365 {
            errors.push(FieldError::new(
                "calendar.processing_days",
                "must be at most 365",
            ));
        }
        if let Some(p) = &self.provider
            && p.trim().is_empty()
        {
            errors.push(FieldError::new("provider", "must not be empty when given"));
        }
        errors
    }
}

impl NodeGroup {
    /// Problems of the definition itself; whether its members exist is the caller's to check.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_name("name", &self.name, &mut errors);
        if self.nodes.is_empty() {
            errors.push(FieldError::new("nodes", "must name at least one node"));
        }
        for (i, code) in self.nodes.iter().enumerate() {
            if self.nodes[..i].contains(code) {
                errors.push(FieldError::new(
                    format!("nodes[{i}]"),
                    format!("{code:?} appears more than once"),
                ));
            }
        }
        non_negative_km("max_distance_km", self.max_distance_km, &mut errors);
        errors
    }
}

impl Profile {
    /// Every problem of this profile and its alternates (fields of an alternate are reported as
    /// `alternate.FIELD`).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        self.validate_at("", 0, &mut errors);
        errors
    }

    fn validate_at(&self, prefix: &str, depth: usize, errors: &mut Vec<FieldError>) {
        let field = |name: &str| format!("{prefix}{name}");
        non_negative_km(&field("max_distance_km"), self.max_distance_km, errors);
        if self.max_nodes == Some(0) {
            errors.push(FieldError::new(field("max_nodes"), "must be at least 1"));
        }
        if self.max_nodes_per_line == Some(0) {
            errors.push(FieldError::new(
                field("max_nodes_per_line"),
                "must be at least 1",
            ));
        }
        for (i, tier) in self.tiers.iter().enumerate() {
            if tier.is_empty() {
                errors.push(FieldError::new(
                    field(&format!("tiers[{i}]")),
                    "must name at least one node or group",
                ));
            }
        }
        if let Some(alt) = &self.alternate {
            if depth == MAX_ALTERNATES {
                errors.push(FieldError::new(
                    field("alternate"),
                    format!("at most {MAX_ALTERNATES} alternates may be chained"),
                ));
            } else {
                alt.validate_at(&field("alternate."), depth + 1, errors);
            }
        }
    }

    /// Names in `exclude_nodes`, `source_groups` and `tiers` (of this profile and its alternates)
    /// for which `known` says no node or group exists. The engine ignores such names, which for
    /// `source_groups` means no node qualifies; callers report them as warnings.
    pub fn unknown_references(&self, known: &dyn Fn(&str) -> bool) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut prefix = String::new();
        for profile in self.chain() {
            let mut check = |field: String, name: &str| {
                if !known(name) {
                    out.push(FieldError::new(
                        field,
                        format!("{name:?} is neither a node nor a node group"),
                    ));
                }
            };
            for (i, n) in profile.exclude_nodes.iter().enumerate() {
                check(format!("{prefix}exclude_nodes[{i}]"), n);
            }
            for (i, n) in profile.source_groups.iter().enumerate() {
                check(format!("{prefix}source_groups[{i}]"), n);
            }
            for (t, tier) in profile.tiers.iter().enumerate() {
                for (i, n) in tier.iter().enumerate() {
                    check(format!("{prefix}tiers[{t}][{i}]"), n);
                }
            }
            prefix.push_str("alternate.");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn node_reports_every_bad_field() {
        let node: Node = serde_json::from_str(
            r#"{"code":"DC 1","location":{"lat":91,"lon":-181},
                "costs":{"per_shipment":"-1","per_unit":"0.25","per_km":"-0.01"},
                "max_distance_km":-5,"calendar":{"utc_offset_minutes":2000}}"#,
        )
        .unwrap();
        assert_eq!(
            fields(&node.validate()),
            [
                "code",
                "location.lat",
                "location.lon",
                "costs.per_shipment",
                "costs.per_km",
                "max_distance_km",
                "calendar.utc_offset_minutes"
            ]
        );
        let good: Node =
            serde_json::from_str(r#"{"code":"DC1","location":{"lat":47.6,"lon":-122.3}}"#).unwrap();
        assert!(good.validate().is_empty());
    }

    #[test]
    fn the_most_negative_offset_is_refused_without_overflow() {
        let node: Node = serde_json::from_str(
            r#"{"code":"DC1","location":{"lat":47.6,"lon":-122.3},
                "calendar":{"utc_offset_minutes":-2147483648}}"#,
        )
        .unwrap();
        assert_eq!(fields(&node.validate()), ["calendar.utc_offset_minutes"]);
    }

    #[test]
    fn group_rejects_empty_and_repeated_members() {
        let g = NodeGroup {
            name: "west".into(),
            nodes: vec!["A".into(), "B".into(), "A".into()],
            max_distance_km: Some(-1.0),
        };
        assert_eq!(fields(&g.validate()), ["nodes[2]", "max_distance_km"]);
    }

    #[test]
    fn profile_checks_limits_and_alternates() {
        let p: Profile = serde_json::from_str(
            r#"{"max_distance_km":-1,"max_nodes":0,"alternate":{"max_nodes_per_line":0,"tiers":[[]]}}"#,
        )
        .unwrap();
        assert_eq!(
            fields(&p.validate()),
            [
                "max_distance_km",
                "max_nodes",
                "alternate.max_nodes_per_line",
                "alternate.tiers[0]"
            ]
        );
        let p: Profile = serde_json::from_str(
            r#"{"exclude_nodes":["A","ghost"],"alternate":{"tiers":[["east","A"]]}}"#,
        )
        .unwrap();
        let unknown = p.unknown_references(&|n| n == "A");
        assert_eq!(
            fields(&unknown),
            ["exclude_nodes[1]", "alternate.tiers[0][0]"]
        );
    }
}
