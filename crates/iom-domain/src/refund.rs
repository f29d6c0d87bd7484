//! What a return gives back, computed from what was paid: each unit's price, its share of the line's
//! and the order's discounts and of the line's tax, less a restocking fee by reason; shipping by
//! policy. No I/O.
//!
//! Refunds of a line are cumulative: the refund for units `k₀+1 … k₀+q` is the rounded amount for
//! `k₀+q` units less the rounded amount for `k₀`. However a line is returned, in one return or in
//! many, the refunds add up to the rounded amount for all the units returned, which never exceeds
//! what the customer paid for the line; [`crate::order::Totals`] uses the same shares and rounding,
//! so refunding every active unit (and the shipping) gives back exactly the order's total.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Order;
use crate::return_policy::{ReturnPolicy, ShippingRefund};

/// What the customer paid for the whole ordered quantity of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinePaid {
    /// Quantity × unit price.
    pub merchandise: Decimal,
    /// The line's own discount and its share of the order's discount.
    pub discount: Decimal,
    pub tax: Decimal,
}

impl LinePaid {
    pub fn total(&self) -> Decimal {
        self.merchandise - self.discount + self.tax
    }
}

/// `amount × part / whole`, rounded to the currency's minor units (banker's rounding, as totals).
pub fn portion(amount: Decimal, part: u32, whole: u32, scale: u32) -> Decimal {
    if whole == 0 || part == 0 {
        return Decimal::ZERO;
    }
    if part == whole {
        return amount;
    }
    (amount * Decimal::from(part) / Decimal::from(whole))
        .round_dp_with_strategy(scale, RoundingStrategy::MidpointNearestEven)
}

/// Per line, in the order's line order: what was paid for it. The order's discount is shared in
/// proportion to each line's value after its own discount, rounded down to the smallest unit of
/// the amounts, and the rounding remainder goes to the first lines with room for it, so that no
/// line's share exceeds its value and the shares add up to the order's discount exactly.
pub fn paid_lines(order: &Order) -> Vec<LinePaid> {
    let nets: Vec<Decimal> = order
        .lines
        .iter()
        .map(|l| (l.unit_price * Decimal::from(l.quantity) - l.discount).max(Decimal::ZERO))
        .collect();
    let total_net: Decimal = nets.iter().sum();
    let discount = order.discount_amount.min(total_net);
    let mut shares = vec![Decimal::ZERO; nets.len()];
    if discount > Decimal::ZERO && total_net > Decimal::ZERO {
        let scale = discount.scale().max(order.currency_scale());
        for (share, net) in shares.iter_mut().zip(&nets) {
            *share = (discount * net / total_net)
                .round_dp_with_strategy(scale, RoundingStrategy::ToZero)
                .min(*net);
        }
        let mut left = discount - shares.iter().sum::<Decimal>();
        for (share, net) in shares.iter_mut().zip(&nets) {
            if left <= Decimal::ZERO {
                break;
            }
            let add = left.min(*net - *share);
            *share += add;
            left -= add;
        }
    }
    order
        .lines
        .iter()
        .zip(shares)
        .map(|(l, share)| LinePaid {
            merchandise: l.unit_price * Decimal::from(l.quantity),
            discount: l.discount + share,
            tax: l.tax,
        })
        .collect()
}

/// One line of a refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefundLine {
    pub line_no: u32,
    pub quantity: u32,
    pub reason: String,
    #[schema(value_type = String)]
    pub merchandise: Decimal,
    #[schema(value_type = String)]
    pub discount: Decimal,
    #[schema(value_type = String)]
    pub tax: Decimal,
    #[schema(value_type = String)]
    pub restocking_fee: Decimal,
    /// merchandise − discount + tax − restocking fee.
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// A refund, line by line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefundBreakdown {
    pub lines: Vec<RefundLine>,
    #[schema(value_type = String)]
    pub shipping: Decimal,
    #[schema(value_type = String)]
    pub restocking_fee: Decimal,
    /// Lines and shipping: what the customer is owed.
    #[schema(value_type = String)]
    pub amount: Decimal,
}

/// A line to refund: which, how many units, and why they came back.
#[derive(Debug, Clone, PartialEq)]
pub struct RefundRequestLine {
    pub line_no: u32,
    pub quantity: u32,
    pub reason: String,
}

/// The refund for `lines` of `order`, continuing from what the order's lines have had refunded.
/// Lines the order does not have, and quantities beyond what is shipped and not yet refunded,
/// count for nothing: callers check eligibility first, and the cap here keeps the promise anyway.
pub fn compute(order: &Order, lines: &[RefundRequestLine], policy: &ReturnPolicy) -> RefundBreakdown {
    let scale = order.currency_scale();
    let paid = paid_lines(order);
    let mut out = Vec::new();
    let mut refunded_units: u32 = 0;
    let mut merchant_fault = false;
    for request in lines {
        let Some(index) = order.lines.iter().position(|l| l.line_no == request.line_no) else {
            continue;
        };
        let line = &order.lines[index];
        let before_here: u32 = out
            .iter()
            .filter(|l: &&RefundLine| l.line_no == line.line_no)
            .map(|l| l.quantity)
            .sum();
        let done = line.refunded_quantity + before_here;
        let room = line.shipped_quantity.min(line.active_quantity()).saturating_sub(done);
        let quantity = request.quantity.min(room);
        if quantity == 0 {
            continue;
        }
        let p = paid[index];
        let step = |amount: Decimal| {
            portion(amount, done + quantity, line.quantity, scale)
                - portion(amount, done, line.quantity, scale)
        };
        let merchandise = step(p.merchandise);
        let discount = step(p.discount);
        let tax = step(p.tax);
        let percent = policy.restocking_fee(&request.reason);
        let fee = ((merchandise - discount) * percent / Decimal::ONE_HUNDRED)
            .round_dp_with_strategy(scale, RoundingStrategy::MidpointNearestEven)
            .max(Decimal::ZERO)
            .min((merchandise - discount + tax).max(Decimal::ZERO));
        merchant_fault |= policy.is_merchant_fault(&request.reason);
        refunded_units += quantity;
        out.push(RefundLine {
            line_no: line.line_no,
            quantity,
            reason: request.reason.clone(),
            merchandise,
            discount,
            tax,
            restocking_fee: fee,
            amount: (merchandise - discount + tax - fee).max(Decimal::ZERO),
        });
    }
    let shipping_left = (order.shipping_amount - order.refunded_shipping).max(Decimal::ZERO);
    let everything_back = || {
        let active: u32 = order.lines.iter().map(|l| l.active_quantity()).sum();
        let refunded: u32 = order.lines.iter().map(|l| l.refunded_quantity).sum();
        active > 0 && refunded + refunded_units >= active
    };
    let shipping = if refunded_units == 0 {
        Decimal::ZERO
    } else {
        match policy.shipping_refund {
            ShippingRefund::Never => Decimal::ZERO,
            ShippingRefund::Always => shipping_left,
            ShippingRefund::FullReturn if everything_back() => shipping_left,
            ShippingRefund::MerchantFault if merchant_fault || everything_back() => shipping_left,
            _ => Decimal::ZERO,
        }
    };
    let restocking_fee = out.iter().map(|l| l.restocking_fee).sum();
    let mut amount = out.iter().map(|l| l.amount).sum::<Decimal>() + shipping;
    // The last guard: never more than what is left of what was paid.
    amount = amount.min((order.totals.total - order.refunded_amount).max(Decimal::ZERO));
    RefundBreakdown {
        lines: out,
        shipping,
        restocking_fee,
        amount: rescale(amount, scale),
    }
}

/// At least the currency's minor units ("0.00", not "0").
pub fn rescale(mut amount: Decimal, scale: u32) -> Decimal {
    if amount.scale() < scale {
        amount.rescale(scale);
    }
    amount
}
