//! An order's payment and tax as the order page shows them: the payment service's ids (the
//! authorisation, when it lapses, the ones renewals replaced, each capture's and refund's),
//! what was authorised, captured per shipment, let go and refunded; a `payment` hold; the tax
//! service's document, where it stands, and the tax given back with returns' refunds.

use iom_domain::Order;
use iom_domain::order::payment::PAYMENT_HOLD;
use maud::{Markup, html};
use serde_json::Value;

use super::format;

/// `returns`: the order's returns as the returns API answers them.
pub fn card(order: &Order, returns: &[Value]) -> Markup {
    let hold = order.holds.iter().find(|h| h.code == PAYMENT_HOLD);
    let cur = order.currency.code();
    let money = |amount: rust_decimal::Decimal| format::money(amount, cur);
    let tax_refunds: Vec<(&str, &str, &str)> = returns
        .iter()
        .filter_map(|r| {
            let tax = &r["refund"]["tax"];
            Some((
                r["id"].as_str()?,
                tax["code"].as_str()?,
                tax["amount"].as_str()?,
            ))
        })
        .collect();
    html! {
        section.card #payment {
            h2 { "Payment and tax" }
            p {
                "Tax " (format::money(order.totals.tax, order.currency.code()))
                " of a total of " (format::money(order.totals.total, order.currency.code()))
                @if let Some(t) = &order.tax_transaction {
                    " · calculated by " code { (t.provider) } ", document " code.tax-code { (t.code) }
                    " " (format::badge(t.status.as_str()))
                    @if !t.refunded.is_zero() { " · tax refunded " span.tax-refunded { (money(t.refunded)) } }
                }
            }
            @if !tax_refunds.is_empty() {
                table #tax-refunds {
                    thead { tr { th { "Return" } th { "Tax refund document" } th.num { "Tax refunded" } } }
                    tbody { @for (ret, code, amount) in &tax_refunds { tr {
                        td { code { (ret) } } td { code.tax-refund-code { (code) } } td.num { (format::money_text(amount, cur)) }
                    } } }
                }
            }
            @if let Some(h) = hold {
                p.error #payment-hold {
                    "On hold for its payment"
                    @if let Some(r) = &h.reason { ": " (r) }
                    " (since " (format::time(h.at)) "). Release the hold once the payment is fixed."
                }
            }
            @match &order.payment {
                None => p.muted { "No payment instance serves this order's channel." },
                Some(p) => {
                    p {
                        (format::badge(status(p.status))) " through " code { (p.provider) }
                        @if let Some(r) = &p.reference { " · authorisation " code.payment-reference { (r) } }
                        @if let Some(m) = &p.method { " · method " code { (m) } }
                        @if let Some(at) = p.expires_at { " · lapses " span.payment-expires { (format::time(at)) } }
                    }
                    @if let Some(f) = &p.failure { p.error { (f) } }
                    table #payment-amounts {
                        thead { tr { th.num { "Authorised" } th.num { "Captured" } th.num { "Released" } th.num { "Refunded" } } }
                        tbody { tr {
                            td.num { (money(p.authorized)) } td.num { (money(p.captured)) }
                            td.num { (money(p.released)) } td.num { (money(p.refunded)) }
                        } }
                    }
                    @if !p.replaced.is_empty() {
                        table #payment-replaced {
                            thead { tr { th { "Replaced authorisation" } th.num { "Uncaptured" } th { "At" } } }
                            tbody { @for r in &p.replaced { tr {
                                td { code { (r.reference) } } td.num { (money(r.uncaptured)) } td { (format::time(r.at)) }
                            } } }
                        }
                    }
                    @if !p.captures.is_empty() {
                        table #payment-captures {
                            thead { tr { th { "Shipment" } th.num { "Captured" } th { "From" } th { "At" } } }
                            tbody { @for c in &p.captures { tr {
                                td { code { (c.shipment_id) } } td.num { (money(c.amount)) }
                                td { @if let Some(r) = &c.reference { code { (r) } } }
                                td { (format::time(c.at)) }
                            } } }
                        }
                    }
                    @if !p.refunds.is_empty() {
                        table #payment-refunds {
                            thead { tr { th { "Refund" } th { "For" } th.num { "Amount" } th { "At" } } }
                            tbody { @for r in &p.refunds { tr {
                                td { code { (r.refund_id) } } td { (r.reference) } td.num { (money(r.amount)) } td { (format::time(r.at)) }
                            } } }
                        }
                    }
                }
            }
        }
    }
}

fn status(s: iom_domain::PaymentStatus) -> &'static str {
    use iom_domain::PaymentStatus::*;
    match s {
        Authorized => "authorized",
        PartiallyCaptured => "partially_captured",
        Captured => "captured",
        PartiallyRefunded => "partially_refunded",
        Refunded => "refunded",
        Released => "released",
        Failed => "failed",
    }
}
