//! An order's payment and tax as the order page shows them: the payment service's ids (the
//! authorisation, each refund), what was authorised, captured per shipment, let go and refunded;
//! the tax service's document and where it stands.

use iom_domain::Order;
use maud::{Markup, html};

use super::format;

pub fn card(order: &Order) -> Markup {
    html! {
        section.card #payment {
            h2 { "Payment and tax" }
            p {
                "Tax " (order.totals.tax) " " (order.currency)
                " of a total of " (order.totals.total) " " (order.currency)
                @if let Some(t) = &order.tax_transaction {
                    " · calculated by " code { (t.provider) } ", document " code.tax-code { (t.code) }
                    " " (format::badge(t.status.as_str()))
                }
            }
            @match &order.payment {
                None => p.muted { "No payment instance serves this order's channel." },
                Some(p) => {
                    p {
                        (format::badge(status(p.status))) " through " code { (p.provider) }
                        @if let Some(r) = &p.reference { " · authorisation " code.payment-reference { (r) } }
                        @if let Some(m) = &p.method { " · method " code { (m) } }
                    }
                    @if let Some(f) = &p.failure { p.error { (f) } }
                    table #payment-amounts {
                        thead { tr { th.num { "Authorised" } th.num { "Captured" } th.num { "Released" } th.num { "Refunded" } } }
                        tbody { tr {
                            td.num { (p.authorized) } td.num { (p.captured) }
                            td.num { (p.released) } td.num { (p.refunded) }
                        } }
                    }
                    @if !p.captures.is_empty() {
                        table #payment-captures {
                            thead { tr { th { "Shipment" } th.num { "Captured" } th { "At" } } }
                            tbody { @for c in &p.captures { tr {
                                td { code { (c.shipment_id) } } td.num { (c.amount) } td { (format::time(c.at)) }
                            } } }
                        }
                    }
                    @if !p.refunds.is_empty() {
                        table #payment-refunds {
                            thead { tr { th { "Refund" } th { "For" } th.num { "Amount" } th { "At" } } }
                            tbody { @for r in &p.refunds { tr {
                                td { code { (r.refund_id) } } td { (r.reference) } td.num { (r.amount) } td { (format::time(r.at)) }
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
