//! Tax calculated by a tax service for an order that arrived without it: the lines' `tax` and
//! the totals as the service computed them, and where the service's document stands
//! (calculated before release, committed once shipped, voided when cancelled).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{Order, Totals};
use crate::{DomainError, EventDraft, OrderStatus};

pub const TAX_CALCULATED: &str = "tax.calculated";
pub const TAX_COMMITTED: &str = "tax.committed";
pub const TAX_VOIDED: &str = "tax.voided";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaxStatus {
    /// Calculated; the service's document is not committed.
    Calculated,
    /// Committed (reported) once the order shipped, adjusted to what shipped.
    Committed,
    /// Voided: the order was cancelled with nothing shipped.
    Voided,
}

impl TaxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxStatus::Calculated => "calculated",
            TaxStatus::Committed => "committed",
            TaxStatus::Voided => "voided",
        }
    }
}

/// The order's `tax_transaction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaxTransaction {
    /// The `tax` provider instance.
    pub provider: String,
    /// The document's code at the tax service (AvaTax `code`).
    pub code: String,
    pub status: TaxStatus,
    #[schema(value_type = String)]
    pub total_tax: Decimal,
    /// Tax given back with returns' refunds (the service's refund documents).
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    #[schema(value_type = String)]
    pub refunded: Decimal,
}

impl Order {
    /// The order carries no tax of its own: every line's tax is zero.
    pub fn untaxed(&self) -> bool {
        self.lines.iter().all(|l| l.tax.is_zero())
    }

    /// The service's tax per line (`taxes` by line number) becomes the lines' tax. Only before
    /// release, and before the payment is authorised (which authorises the taxed total).
    pub fn apply_tax(
        &mut self,
        provider: &str,
        code: &str,
        taxes: &[(u32, Decimal)],
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if !matches!(
            self.status,
            OrderStatus::Received | OrderStatus::Processing | OrderStatus::OnHold
        ) || self.lines.iter().any(|l| l.shipped_quantity > 0)
        {
            return Err(DomainError::conflict(format!(
                "an order that is {} cannot be taxed again",
                self.status
            )));
        }
        if self
            .payment
            .as_ref()
            .is_some_and(|p| p.authorized > Decimal::ZERO)
        {
            return Err(DomainError::conflict(
                "the order's payment is authorised; its tax can no longer change",
            ));
        }
        let scale = self.currency_scale();
        for (line_no, tax) in taxes {
            let Some(line) = self.lines.iter_mut().find(|l| l.line_no == *line_no) else {
                return Err(DomainError::invalid(
                    "lines",
                    format!("the tax service taxed a line {line_no} the order does not have"),
                ));
            };
            let mut tax = tax.round_dp(scale);
            if tax.scale() < scale {
                tax.rescale(scale);
            }
            line.tax = tax;
        }
        self.totals = Totals::of(self);
        let total_tax = self.totals.tax;
        self.tax_transaction = Some(TaxTransaction {
            provider: provider.to_owned(),
            code: code.to_owned(),
            status: TaxStatus::Calculated,
            total_tax,
            refunded: Decimal::ZERO,
        });
        self.updated_at = now;
        self.version += 1;
        Ok(vec![EventDraft::new(
            TAX_CALCULATED,
            self.id.to_string(),
            json!({"order_id": self.id, "provider": provider, "code": code,
                   "tax": total_tax, "total": self.totals.total}),
        )])
    }

    /// The service's document moved to `status` (committed or voided).
    pub fn settle_tax(
        &mut self,
        status: TaxStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let Some(t) = self.tax_transaction.as_mut() else {
            return Err(DomainError::conflict("the order's tax was not calculated"));
        };
        if t.status == status {
            return Ok(Vec::new());
        }
        t.status = status;
        let kind = match status {
            TaxStatus::Voided => TAX_VOIDED,
            _ => TAX_COMMITTED,
        };
        let data = json!({"order_id": self.id, "provider": t.provider, "code": t.code});
        self.updated_at = now;
        self.version += 1;
        Ok(vec![EventDraft::new(kind, self.id.to_string(), data)])
    }

    /// `amount` of the committed document's tax was given back with a refund.
    pub fn refund_tax(&mut self, amount: Decimal, now: DateTime<Utc>) -> Result<(), DomainError> {
        let Some(t) = self.tax_transaction.as_mut() else {
            return Err(DomainError::conflict("the order's tax was not calculated"));
        };
        t.refunded += amount;
        self.updated_at = now;
        self.version += 1;
        Ok(())
    }
}
