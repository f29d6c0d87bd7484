use serde_json::json;

use super::*;

#[test]
fn every_default_renders_against_its_sample() {
    for (name, template) in defaults() {
        assert!(valid_name(name), "{name}");
        template.check().unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let rendered = template.render(&sample_scope(&template.event)).unwrap();
        assert!(!rendered.to.is_empty(), "{name} has a recipient");
        if template.channel == Channel::Email {
            assert!(
                rendered.subject.contains("1001") || name.starts_with("alert"),
                "{name}"
            );
        }
    }
}

#[test]
fn shipped_names_the_carrier_and_links_the_tracking_number() {
    let shipped = defaults()
        .into_iter()
        .find(|(n, _)| *n == "order-shipped")
        .unwrap()
        .1;
    let r = shipped
        .render(&sample_scope("order.shipment_created"))
        .unwrap();
    assert_eq!(r.to, ["customer@example.com"]);
    assert!(r.text.contains("with UPS"), "{}", r.text);
    assert!(
        r.text
            .contains("https://www.ups.com/track?tracknum=1Z999AA10123456784")
    );
    // MiniJinja escapes `/` as well in HTML; a browser reads the entity back.
    let html = r.html.unwrap();
    assert!(
        html.contains(
            "<a href=\"https:&#x2f;&#x2f;www.ups.com&#x2f;track?tracknum=1Z999AA10123456784\">"
        ),
        "{html}"
    );
}

#[test]
fn a_syntax_error_is_named_by_field_and_line() {
    let errors = Template::parse(&json!({
        "event": "order.shipped", "channel": "email", "subject": "Order {{ order.external_id }}",
        "body": "Hello\nthere\n{% for l in order.lines %}{{ l.sku }\n{% endfor %}"
    }))
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "body");
    assert!(
        errors[0].message.starts_with("line 3: syntax error"),
        "{}",
        errors[0].message
    );
}

#[test]
fn an_unknown_filter_is_refused_at_save_time() {
    let errors = Template::parse(&json!({
        "event": "order.received", "subject": "x",
        "body": "ok", "html": "<p>\n{{ order.external_id | shout }}</p>"
    }))
    .unwrap_err();
    assert_eq!(errors[0].field, "html");
    assert!(
        errors[0].message.contains("line 2"),
        "{}",
        errors[0].message
    );
    assert!(
        errors[0].message.contains("unknown filter"),
        "{}",
        errors[0].message
    );
}

#[test]
fn bad_fields_are_all_named() {
    let errors = Template::parse(&json!({
        "event": "Shipped!", "channel": "pigeon", "body": 3, "colour": "red"
    }))
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["colour", "event", "channel", "body"]);
}

#[test]
fn html_is_escaped_only_in_the_html_part() {
    let t = Template::parse(&json!({
        "event": "order.received", "subject": "{{ order.customer.name }}",
        "body": "{{ order.customer.name }}", "html": "<p>{{ order.customer.name }}</p>"
    }))
    .unwrap();
    let mut scope = sample_scope("order.received");
    scope["order"]["customer"]["name"] = json!("Tom & <Jerry>");
    let r = t.render(&scope).unwrap();
    assert_eq!(r.subject, "Tom & <Jerry>");
    assert_eq!(r.text, "Tom & <Jerry>");
    assert_eq!(r.html.unwrap(), "<p>Tom &amp; &lt;Jerry&gt;</p>");
}

#[test]
fn recipients_are_split_and_an_order_without_email_has_none() {
    let t = Template::parse(&json!({
        "event": "order.received", "subject": "s", "body": "b",
        "to": "{{ order.customer.email }}, ops@example.com; ops@example.com"
    }))
    .unwrap();
    let mut scope = sample_scope("order.received");
    assert_eq!(
        t.render(&scope).unwrap().to,
        ["customer@example.com", "ops@example.com"]
    );
    scope["order"]["customer"] = json!(null);
    let default = &defaults()[0].1;
    assert!(default.render(&scope).unwrap().to.is_empty());
}

#[test]
fn tracking_links_only_for_known_carriers_and_plain_numbers() {
    assert_eq!(
        tracking_url(Some("FedEx"), Some("123")).as_deref(),
        Some("https://www.fedex.com/fedextrack/?trknbr=123")
    );
    assert_eq!(tracking_url(Some("acme"), Some("123")), None);
    assert_eq!(tracking_url(Some("ups"), Some("1 2")), None);
    assert_eq!(tracking_url(Some("ups"), None), None);
}
