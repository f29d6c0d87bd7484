//! Notification templates: what is sent to a customer or an operator when a business event
//! happens, rendered with MiniJinja. A template names its event, its channel (`email` or
//! `webhook`), whom it goes `to` (itself a template, rendering to addresses or a URL), a
//! `subject`, a plain-text `body` and, for e-mail, an optional `html` part.
//!
//! A template is checked when it is saved, never first when it is sent: [`Template::parse`]
//! compiles every part and renders it against a sample scope ([`sample_scope`]) shaped like the
//! one a real event gets, so a syntax error, an unknown filter or a type error is answered with
//! the field and the line. Undefined values render empty (MiniJinja's lenient mode): an order
//! without a ship-to must not make its confirmation fail.
//!
//! The scope of a render: `order` (the order as the API answers it, `null` for events that are
//! not about one), `event` (`type`, `seq`, `at`, `data`), and, where the event carries them,
//! `shipment` (with `tracking_url` when one is known), `return`, `refund` and `alert`.
//! The templates iom starts with are in [`defaults`].

mod defaults;

pub use defaults::{defaults, tracking_url};

use iom_domain::FieldError;
use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// An e-mail through the SMTP server of `IOM_SMTP_URL`.
    Email,
    /// A JSON (or text) POST of the rendered body to the URL `to` renders.
    Webhook,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }
}

/// A notification template, as stored and as `PUT /notification-templates/{name}` takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// The business event type that sends it (`order.received`, `alert.fired`, …).
    pub event: String,
    pub channel: Channel,
    /// Recipients: renders to e-mail addresses separated by commas, or to one URL.
    pub to: String,
    pub subject: String,
    /// The plain-text part (for a webhook, the body posted).
    pub body: String,
    /// The HTML part of an e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// A disabled template sends nothing.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// A template rendered for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// Each recipient once, in the order written; empty when `to` rendered to nothing (an
    /// order without a customer e-mail).
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
}

/// Longest a name may be; names are also path segments.
const MAX_NAME: usize = 64;

/// 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Template {
    /// Reads a request body, naming every bad field; each part is compiled and rendered against
    /// [`sample_scope`] so that an error in it is found now, with its line.
    pub fn parse(body: &Value) -> Result<Template, Vec<FieldError>> {
        let Some(object) = body.as_object() else {
            return Err(vec![FieldError::new("", "must be a JSON object")]);
        };
        let mut errors = Vec::new();
        for key in object.keys() {
            if ![
                "event", "channel", "to", "subject", "body", "html", "enabled",
            ]
            .contains(&key.as_str())
            {
                errors.push(FieldError::new(
                    key.as_str(),
                    "is not a field of a notification template",
                ));
            }
        }
        let text =
            |field: &str, required: bool, errors: &mut Vec<FieldError>| match object.get(field) {
                Some(Value::String(s)) => Some(s.clone()),
                None | Some(Value::Null) if !required => None,
                None | Some(Value::Null) => {
                    errors.push(FieldError::new(field, "is required"));
                    None
                }
                Some(_) => {
                    errors.push(FieldError::new(field, "must be a string"));
                    None
                }
            };
        let event = text("event", true, &mut errors);
        if let Some(e) = &event
            && !valid_event(e)
        {
            errors.push(FieldError::new(
                "event",
                "must be a business event type such as order.shipped",
            ));
        }
        let channel = match object.get("channel") {
            None | Some(Value::Null) => Some(Channel::Email),
            Some(v) => match serde_json::from_value::<Channel>(v.clone()) {
                Ok(c) => Some(c),
                Err(_) => {
                    errors.push(FieldError::new("channel", "must be email or webhook"));
                    None
                }
            },
        };
        let to = text("to", false, &mut errors).unwrap_or_else(|| DEFAULT_TO.to_owned());
        let subject = text("subject", false, &mut errors).unwrap_or_default();
        let body_text = text("body", true, &mut errors);
        let html = text("html", false, &mut errors).filter(|h| !h.is_empty());
        let enabled = match object.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.push(FieldError::new("enabled", "must be true or false"));
                true
            }
        };
        if channel == Some(Channel::Email) && subject.trim().is_empty() {
            errors.push(FieldError::new("subject", "an e-mail needs a subject"));
        }
        let (Some(event), Some(channel), Some(body_text)) = (event, channel, body_text) else {
            return Err(errors);
        };
        let template = Template {
            event,
            channel,
            to,
            subject,
            body: body_text,
            html,
            enabled,
        };
        if let Err(more) = template.check() {
            errors.extend(more);
        }
        if errors.is_empty() {
            Ok(template)
        } else {
            Err(errors)
        }
    }

    /// Compiles every part and renders it against the sample scope of the template's event.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let scope = sample_scope(&self.event);
        let errors: Vec<FieldError> = self
            .parts()
            .filter_map(|(field, source)| render_part(field, source, &scope).err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn parts(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("to", Some(self.to.as_str())),
            ("subject", Some(self.subject.as_str())),
            ("body", Some(self.body.as_str())),
            ("html", self.html.as_deref()),
        ]
        .into_iter()
        .filter_map(|(f, s)| s.map(|s| (f, s)))
    }

    /// Renders every part with `scope`; an error names the part and its line.
    pub fn render(&self, scope: &Value) -> Result<Rendered, FieldError> {
        self.compile()?.render(scope)
    }

    /// Every part parsed once, to render many scopes (each event of a consumer's round) without
    /// parsing them again.
    pub fn compile(&self) -> Result<Compiled, FieldError> {
        let mut text = environment(false);
        let mut html = environment(true);
        for (field, source) in self.parts() {
            let env = if field == "html" {
                &mut html
            } else {
                &mut text
            };
            env.add_template_owned(field, source.to_owned())
                .map_err(|e| explain(field, e))?;
        }
        Ok(Compiled {
            text,
            html,
            has_html: self.html.is_some(),
            channel: self.channel,
        })
    }
}

/// A [`Template`] with its parts parsed.
pub struct Compiled {
    /// `to`, `subject` and `body`: nothing escaped.
    text: Environment<'static>,
    /// `html`: HTML-escaped.
    html: Environment<'static>,
    has_html: bool,
    channel: Channel,
}

impl Compiled {
    /// Renders every part with `scope`; an error names the part and its line.
    pub fn render(&self, scope: &Value) -> Result<Rendered, FieldError> {
        let part = |env: &Environment<'static>, field: &str| {
            env.get_template(field)
                .and_then(|t| t.render(scope))
                .map_err(|e| explain(field, e))
        };
        let to = part(&self.text, "to")?;
        let mut recipients: Vec<String> = Vec::new();
        let pieces: Vec<&str> = match self.channel {
            Channel::Email => to.split([',', ';', '\n']).collect(),
            Channel::Webhook => vec![to.as_str()],
        };
        for r in pieces.into_iter().map(str::trim).filter(|r| !r.is_empty()) {
            if !recipients.iter().any(|x| x == r) {
                recipients.push(r.to_owned());
            }
        }
        Ok(Rendered {
            to: recipients,
            subject: part(&self.text, "subject")?.trim().to_owned(),
            text: part(&self.text, "body")?,
            html: self
                .has_html
                .then(|| part(&self.html, "html"))
                .transpose()?,
        })
    }
}

/// Whom an e-mail goes to when the template does not say: the order's customer.
pub const DEFAULT_TO: &str = "{{ order.customer.email }}";

fn valid_event(e: &str) -> bool {
    e.contains('.')
        && e.len() <= 64
        && e.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
}

/// The environment parts render in: lenient about missing values, HTML-escaping only for the
/// `html` part (a subject or a plain-text body is not HTML).
fn environment(html: bool) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    env.set_auto_escape_callback(move |_| {
        if html {
            minijinja::AutoEscape::Html
        } else {
            minijinja::AutoEscape::None
        }
    });
    env.set_keep_trailing_newline(true);
    env
}

/// One part parsed and rendered on its own, so that `check` reports every part's error.
fn render_part(field: &str, source: &str, scope: &Value) -> Result<String, FieldError> {
    let env = environment(field == "html");
    let template = env
        .template_from_str(source)
        .map_err(|e| explain(field, e))?;
    template.render(scope).map_err(|e| explain(field, e))
}

/// A template error as a field error: the part, and the line when known.
fn explain(field: &str, e: minijinja::Error) -> FieldError {
    let line = e.line().map(|l| format!("line {l}: ")).unwrap_or_default();
    let detail = e.detail().map(str::to_owned).unwrap_or_else(|| {
        // Without a detail the kind is the message ("syntax error", "unknown filter").
        e.kind().to_string()
    });
    FieldError::new(field, format!("{line}{}: {detail}", e.kind()))
}

/// A scope shaped like the one `event` is rendered with, for checking templates at save time
/// and for previews of events without an order at hand.
pub fn sample_scope(event: &str) -> Value {
    let order = json!({
        "id": "0190b6d2-5b7e-7c4e-9a51-2f0c1e2d3a4b",
        "channel": "web",
        "external_id": "1001",
        "status": "allocated",
        "currency": "EUR",
        "placed_at": "2026-03-04T05:06:00Z",
        "customer": {"id": "c-1", "email": "customer@example.com", "name": "Ada Lovelace",
                     "phone": null, "group": null},
        "ship_to": {"name": "Ada Lovelace", "line1": "1 Main Street", "line2": null,
                    "city": "Berlin", "postal_code": "10115", "region": null, "country": "DE"},
        "bill_to": null,
        "ship_method": "standard",
        "requested_delivery_at": null,
        "attributes": {},
        "lines": [
            {"line_no": 1, "sku": "SKU-1", "quantity": 2,
             "unit_price": "12.50", "discount": "0", "tax": "4.75", "status": "allocated",
             "shipped_quantity": 0, "delivered_quantity": 0, "cancelled_quantity": 0,
             "attributes": {}}
        ],
        "shipments": [],
        "deliveries": [],
        "totals": {"subtotal": "25.00", "discount": "0", "tax": "4.75", "shipping": "4.90",
                   "total": "34.65"},
    });
    let shipment = json!({"id": "s-1", "node": "berlin", "carrier": "ups",
        "tracking": "1Z999AA10123456784",
        "tracking_url": tracking_url(Some("ups"), Some("1Z999AA10123456784")),
        "lines": [{"line_no": 1, "quantity": 2}], "at": "2026-03-05T09:00:00Z"});
    let ret = json!({"id": "r-1", "reference": "RMA-1", "status": "authorized",
        "return_to": {"node": "berlin", "distance_km": 3.2, "address": {"name": "Returns",
                      "line1": "2 Dock Road", "city": "Berlin", "postal_code": "10117",
                      "country": "DE"}},
        "label": {"url": "https://labels.example.com/r-1.pdf", "tracking": "1Z999AA10123456785"},
        "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": 1, "reason": "damaged"}]});
    let refund = json!({"amount": "12.50", "computed": "12.50", "shipping": "0",
        "restocking_fee": "0", "lines": [{"line_no": 1, "quantity": 1, "amount": "12.50"}],
        "reference": "re_1", "at": "2026-03-09T10:00:00Z"});
    let alert = json!({"alert": "late-orders", "subject": order["id"],
        "condition": {"type": "order_not_released", "hours": 4},
        "notify": {"email": "ops@example.com", "webhook": "https://hooks.example.com/iom"},
        "fired_at": "2026-03-04T09:06:00Z", "details": {}});
    let data = match event {
        "order.shipment_created" | "order.shipment_updated" => shipment.clone(),
        "return.authorized" => ret.clone(),
        "return.refunded" => json!({"refund": refund}),
        "alert.fired" => alert.clone(),
        _ => json!({}),
    };
    json!({
        "order": order,
        "event": {"type": event, "seq": 1, "at": "2026-03-04T05:06:00Z", "data": data},
        "shipment": shipment,
        "return": ret,
        "refund": refund,
        "alert": alert,
    })
}

#[cfg(test)]
mod tests;
