//! The templates iom starts with, in English. Each is addressed to the order's customer and names
//! the order as the customer knows it (`external_id`); an operator replaces any of them with
//! `PUT /notification-templates/{name}`, or disables it (`"enabled": false`).

use super::{Channel, DEFAULT_TO, Template};

/// The order's lines and totals, in plain text; shared by the defaults.
const TEXT_LINES: &str = "{% for line in order.lines %}  {{ line.quantity }} x {{ line.sku }}  {{ line.unit_price }} {{ order.currency }}
{% endfor %}Total: {{ order.totals.total }} {{ order.currency }}
";

const HTML_LINES: &str = "<table>{% for line in order.lines %}<tr><td>{{ line.quantity }} x</td><td>{{ line.sku }}</td><td>{{ line.unit_price }} {{ order.currency }}</td></tr>{% endfor %}
<tr><td colspan=\"2\">Total</td><td>{{ order.totals.total }} {{ order.currency }}</td></tr></table>";

fn email(event: &str, subject: &str, text: &str, html: &str) -> Template {
    Template {
        event: event.to_owned(),
        channel: Channel::Email,
        to: DEFAULT_TO.to_owned(),
        subject: subject.to_owned(),
        body: text.to_owned(),
        html: Some(html.to_owned()),
        enabled: true,
    }
}

/// Every default template by name.
pub fn defaults() -> Vec<(&'static str, Template)> {
    vec![
        (
            "order-confirmation",
            email(
                "order.received",
                "We received your order {{ order.external_id }}",
                &format!(
                    "Hello {{{{ order.customer.name or 'there' }}}},\n\nthank you for your order {{{{ order.external_id }}}}. We are preparing it now.\n\n{TEXT_LINES}"
                ),
                &format!(
                    "<p>Hello {{{{ order.customer.name or 'there' }}}},</p><p>thank you for your order <b>{{{{ order.external_id }}}}</b>. We are preparing it now.</p>\n{HTML_LINES}"
                ),
            ),
        ),
        (
            "order-shipped",
            email(
                "order.shipment_created",
                "Your order {{ order.external_id }} is on its way",
                "Hello {{ order.customer.name or 'there' }},\n\npart or all of your order {{ order.external_id }} has shipped{% if shipment.carrier %} with {{ shipment.carrier | upper }}{% endif %}.\n{% if shipment.tracking %}Tracking number: {{ shipment.tracking }}\n{% endif %}{% if shipment.tracking_url %}Track it: {{ shipment.tracking_url }}\n{% endif %}\nIn this parcel:\n{% for l in shipment.lines %}  {{ l.quantity }} x line {{ l.line_no }}\n{% endfor %}",
                "<p>Hello {{ order.customer.name or 'there' }},</p><p>part or all of your order <b>{{ order.external_id }}</b> has shipped{% if shipment.carrier %} with {{ shipment.carrier | upper }}{% endif %}.</p>{% if shipment.tracking %}<p>Tracking number: {% if shipment.tracking_url %}<a href=\"{{ shipment.tracking_url }}\">{{ shipment.tracking }}</a>{% else %}{{ shipment.tracking }}{% endif %}</p>{% endif %}",
            ),
        ),
        (
            "order-delivered",
            email(
                "order.delivered",
                "Your order {{ order.external_id }} was delivered",
                "Hello {{ order.customer.name or 'there' }},\n\nyour order {{ order.external_id }} was delivered. We hope you enjoy it.\n",
                "<p>Hello {{ order.customer.name or 'there' }},</p><p>your order <b>{{ order.external_id }}</b> was delivered. We hope you enjoy it.</p>",
            ),
        ),
        (
            "order-backordered",
            email(
                "order.backordered",
                "Your order {{ order.external_id }} is delayed",
                &format!(
                    "Hello {{{{ order.customer.name or 'there' }}}},\n\nsome items of your order {{{{ order.external_id }}}} are not in stock right now. We will ship them as soon as they arrive and write to you when they do.\n\n{TEXT_LINES}"
                ),
                &format!(
                    "<p>Hello {{{{ order.customer.name or 'there' }}}},</p><p>some items of your order <b>{{{{ order.external_id }}}}</b> are not in stock right now. We will ship them as soon as they arrive and write to you when they do.</p>\n{HTML_LINES}"
                ),
            ),
        ),
        (
            "return-authorised",
            email(
                "return.authorized",
                "Your return for order {{ order.external_id }}",
                "Hello {{ order.customer.name or 'there' }},\n\nyour return{% if return.reference %} {{ return.reference }}{% endif %} for order {{ order.external_id }} is authorised:\n{% for l in return.lines %}  {{ l.quantity }} x {{ l.sku }}\n{% endfor %}{% if return.label and return.label.url %}\nPrint your label: {{ return.label.url }}\n{% endif %}{% if return.return_to and return.return_to.address %}\nPlease send the items to:\n{{ return.return_to.address.name }}\n{{ return.return_to.address.line1 }}\n{{ return.return_to.address.postal_code }} {{ return.return_to.address.city }}\n{{ return.return_to.address.country }}\n{% endif %}\nPlease pack the items safely and quote your order number {{ order.external_id }}.\n",
                "<p>Hello {{ order.customer.name or 'there' }},</p><p>your return{% if return.reference %} {{ return.reference }}{% endif %} for order <b>{{ order.external_id }}</b> is authorised.</p><ul>{% for l in return.lines %}<li>{{ l.quantity }} x {{ l.sku }}</li>{% endfor %}</ul>{% if return.label and return.label.url %}<p><a href=\"{{ return.label.url }}\">Print your label</a></p>{% endif %}{% if return.return_to and return.return_to.address %}<p>Please send the items to:<br>{{ return.return_to.address.name }}<br>{{ return.return_to.address.line1 }}<br>{{ return.return_to.address.postal_code }} {{ return.return_to.address.city }}<br>{{ return.return_to.address.country }}</p>{% endif %}",
            ),
        ),
        (
            "refund-issued",
            email(
                "return.refunded",
                "Your refund for order {{ order.external_id }}",
                "Hello {{ order.customer.name or 'there' }},\n\nwe refunded {{ refund.amount }} {{ order.currency }} for your return on order {{ order.external_id }}. Depending on your bank it may take a few days to appear.\n",
                "<p>Hello {{ order.customer.name or 'there' }},</p><p>we refunded <b>{{ refund.amount }} {{ order.currency }}</b> for your return on order <b>{{ order.external_id }}</b>. Depending on your bank it may take a few days to appear.</p>",
            ),
        ),
        (
            "alert-email",
            Template {
                event: "alert.fired".into(),
                channel: Channel::Email,
                to: "{{ alert.notify.email }}".into(),
                subject: "Alert {{ alert.alert }}: {{ alert.subject }}".into(),
                body: "The alert {{ alert.alert }} ({{ alert.condition.type }}) fired for {{ alert.subject }} at {{ alert.fired_at }}.\n{% if order %}Order {{ order.external_id }} from {{ order.channel }} is {{ order.status }}.\n{% endif %}".into(),
                html: None,
                enabled: true,
            },
        ),
        (
            "alert-webhook",
            Template {
                event: "alert.fired".into(),
                channel: Channel::Webhook,
                to: "{{ alert.notify.webhook or alert.notify.url }}".into(),
                subject: String::new(),
                body: "{{ alert | tojson }}".into(),
                html: None,
                enabled: true,
            },
        ),
    ]
}

/// A link to follow a parcel, when the carrier is one whose public tracking page takes the
/// number in its address. A shipment that carries its own `tracking_url` keeps it.
pub fn tracking_url(carrier: Option<&str>, tracking: Option<&str>) -> Option<String> {
    let tracking = tracking?.trim();
    if tracking.is_empty() || !tracking.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let carrier = carrier?.trim().to_ascii_lowercase();
    let base = match carrier.as_str() {
        "ups" => "https://www.ups.com/track?tracknum=",
        "fedex" => "https://www.fedex.com/fedextrack/?trknbr=",
        "usps" => "https://tools.usps.com/go/TrackConfirmAction?tLabels=",
        "dhl" | "dhl express" => "https://www.dhl.com/en/express/tracking.html?AWB=",
        "dpd" => "https://tracking.dpd.de/status/en_US/parcel/",
        _ => return None,
    };
    Some(format!("{base}{tracking}"))
}
