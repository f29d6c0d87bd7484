//! The return policy: return windows per channel and product category, non-returnable SKUs and
//! categories, the reason catalogue, restocking fees by reason, how shipping is refunded, and when
//! an exchange ships. Configured over the API (`PUT /api/v1/return-policy`); every field has a
//! default, so a new installation accepts returns within 30 days.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;

/// A reason a customer gives for a return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReturnReason {
    /// Short lower-case code (`damaged`, `changed_mind`): what a return line's `reason` names.
    pub code: String,
    #[serde(default)]
    pub description: String,
    /// The seller is at fault (damaged, defective, wrong item): no restocking fee unless one is
    /// configured for the reason, and shipping is refunded under `merchant_fault`.
    #[serde(default)]
    pub merchant_fault: bool,
}

/// A return window: `days` after delivery (or shipment, when no delivery is recorded) for the
/// orders of `channel` and the products of `category`; either may be left out to match all. The
/// most specific rule that matches wins (channel and category, then category, then channel).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReturnWindow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    pub days: u32,
}

/// When the shipping charge is refunded (once per order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShippingRefund {
    /// Never.
    Never,
    /// When the return makes the whole order returned.
    #[default]
    FullReturn,
    /// When a line comes back for a reason that is the seller's fault, or the whole order is
    /// returned.
    MerchantFault,
    /// With the first refund of the order.
    Always,
}

/// When the order of an exchange ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExchangeRelease {
    /// The exchange order is held (`awaiting_return`) until the return is received.
    #[default]
    OnReceipt,
    /// The exchange order goes ahead at once.
    Immediately,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReturnPolicy {
    /// Days to return when no window rule matches.
    pub default_window_days: u32,
    pub windows: Vec<ReturnWindow>,
    /// SKUs that cannot be returned.
    pub non_returnable_skus: Vec<String>,
    /// Product categories that cannot be returned (a SKU's category is the order line's
    /// `attributes.category`, else the SKU's `category` attribute).
    pub non_returnable_categories: Vec<String>,
    /// The reason catalogue: a return line's reason must be one of these codes.
    pub reasons: Vec<ReturnReason>,
    /// Percent of the refunded merchandise (after discounts) kept, by reason code.
    #[schema(value_type = Object)]
    pub restocking_fees: BTreeMap<String, Decimal>,
    pub shipping_refund: ShippingRefund,
    pub exchange_release: ExchangeRelease,
    /// Refund at authorisation instead of after receipt.
    pub refund_before_receipt: bool,
}

impl Default for ReturnPolicy {
    fn default() -> Self {
        let reason = |code: &str, description: &str, merchant_fault: bool| ReturnReason {
            code: code.into(),
            description: description.into(),
            merchant_fault,
        };
        ReturnPolicy {
            default_window_days: 30,
            windows: Vec::new(),
            non_returnable_skus: Vec::new(),
            non_returnable_categories: Vec::new(),
            reasons: vec![
                reason("damaged", "Arrived damaged", true),
                reason("defective", "Does not work", true),
                reason("wrong_item", "Not what was ordered", true),
                reason("not_as_described", "Differs from its description", true),
                reason("late_delivery", "Arrived too late", true),
                reason("size_fit", "Wrong size or fit", false),
                reason("changed_mind", "No longer wanted", false),
                reason("better_price", "Found a better price", false),
                reason("other", "Another reason", false),
            ],
            restocking_fees: BTreeMap::new(),
            shipping_refund: ShippingRefund::default(),
            exchange_release: ExchangeRelease::default(),
            refund_before_receipt: false,
        }
    }
}

/// Longest return window accepted: ten years.
const MAX_WINDOW_DAYS: u32 = 3650;

impl ReturnPolicy {
    /// Every bad field at once.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.default_window_days > MAX_WINDOW_DAYS {
            errors.push(FieldError::new(
                "default_window_days",
                format!("must be at most {MAX_WINDOW_DAYS}"),
            ));
        }
        for (i, w) in self.windows.iter().enumerate() {
            if w.days > MAX_WINDOW_DAYS {
                errors.push(FieldError::new(
                    format!("windows[{i}].days"),
                    format!("must be at most {MAX_WINDOW_DAYS}"),
                ));
            }
            let same = self.windows[..i]
                .iter()
                .any(|o| o.channel == w.channel && o.category == w.category);
            if same {
                errors.push(FieldError::new(
                    format!("windows[{i}]"),
                    "another window has the same channel and category",
                ));
            }
        }
        if self.reasons.is_empty() {
            errors.push(FieldError::new("reasons", "must have at least one reason"));
        }
        for (i, r) in self.reasons.iter().enumerate() {
            if !is_code(&r.code) {
                errors.push(FieldError::new(
                    format!("reasons[{i}].code"),
                    "must be 1 to 64 lower-case letters, digits or _",
                ));
            } else if self.reasons[..i].iter().any(|o| o.code == r.code) {
                errors.push(FieldError::new(
                    format!("reasons[{i}].code"),
                    format!("{:?} is listed twice", r.code),
                ));
            }
        }
        for (code, percent) in &self.restocking_fees {
            if self.reason(code).is_none() {
                errors.push(FieldError::new(
                    format!("restocking_fees.{code}"),
                    "is not a reason of the catalogue",
                ));
            }
            if *percent < Decimal::ZERO || *percent > Decimal::ONE_HUNDRED {
                errors.push(FieldError::new(
                    format!("restocking_fees.{code}"),
                    "must be a percentage between 0 and 100",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn reason(&self, code: &str) -> Option<&ReturnReason> {
        self.reasons.iter().find(|r| r.code == code)
    }

    pub fn is_merchant_fault(&self, code: &str) -> bool {
        self.reason(code).is_some_and(|r| r.merchant_fault)
    }

    /// Percent kept for `reason`: none unless configured.
    pub fn restocking_fee(&self, reason: &str) -> Decimal {
        self.restocking_fees
            .get(reason)
            .copied()
            .unwrap_or(Decimal::ZERO)
    }

    /// Days to return a product of `category` bought through `channel`.
    pub fn window_days(&self, channel: &str, category: Option<&str>) -> u32 {
        let score = |w: &ReturnWindow| -> Option<u8> {
            let channel_ok = w.channel.as_deref().is_none_or(|c| c == channel);
            let category_ok = w
                .category
                .as_deref()
                .is_none_or(|c| Some(c) == category);
            (channel_ok && category_ok)
                .then(|| 2 * u8::from(w.category.is_some()) + u8::from(w.channel.is_some()))
        };
        self.windows
            .iter()
            .filter_map(|w| score(w).map(|s| (s, w.days)))
            .max_by_key(|(s, _)| *s)
            .map_or(self.default_window_days, |(_, days)| days)
    }

    /// Why `sku` (of `category`) cannot be returned, if it cannot.
    pub fn not_returnable(&self, sku: &str, category: Option<&str>) -> Option<String> {
        if self.non_returnable_skus.iter().any(|s| s == sku) {
            return Some(format!("{sku} is not returnable"));
        }
        let category = category?;
        self.non_returnable_categories
            .iter()
            .any(|c| c == category)
            .then(|| format!("{sku} is in category {category:?}, which is not returnable"))
    }
}

/// A short machine code: lower-case letters, digits and `_`, starting with a letter.
pub fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}
