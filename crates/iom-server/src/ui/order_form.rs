//! Entering an order by hand (`/ui/orders/new`) and copying one (`/ui/orders/{id}/clone`).
//!
//! The form's inputs are named by the API's own field paths (`customer.email`, `ship_to.city`,
//! `lines[0].sku`), so every error the capture use case names is shown beside its input. The
//! order goes through the API's handler (`POST /api/v1/orders`) with the signed-in user's
//! principal: the same validation, events and flow as any channel's order. "Add line" posts the
//! form back and gets it again with one more row, so it works without JavaScript.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use iom_domain::address::AddressIntake;
use iom_domain::{CustomerIntake, FieldError, LineIntake, Order, OrderIntake};
use maud::{Markup, html};
use rust_decimal::Decimal;
use serde_json::Value;

use super::session::{Flash, Session};
use super::{UiResult, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::json::CheckedJson;
use crate::routes::orders as api;

/// Known SKUs and customers offered for look-up, at most this many each.
const LOOKUP: usize = 500;

/// What the browser sent (or what a form starts from), by field path.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    pub values: BTreeMap<String, String>,
    /// Line rows shown.
    pub rows: usize,
}

impl Fields {
    /// Reads a posted form; a button named `add_line` asks for one more row.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> (Fields, bool) {
        let mut fields = Fields::default();
        let mut add = false;
        for (name, value) in pairs {
            if name == "add_line" {
                add = true;
                continue;
            }
            if let Some(row) = line_row(&name) {
                fields.rows = fields.rows.max(row + 1);
            }
            fields.values.insert(name, value);
        }
        if add {
            fields.rows += 1;
        }
        fields.rows = fields.rows.max(1);
        (fields, add)
    }

    pub fn get(&self, name: &str) -> &str {
        self.values.get(name).map_or("", |v| v.as_str())
    }

    fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name).trim().to_owned()).filter(|v| !v.is_empty())
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// The ship-to, when any of its fields is filled.
    pub fn ship_to(&self) -> Option<AddressIntake> {
        let any = ADDRESS
            .iter()
            .any(|(f, _)| self.opt(&format!("ship_to.{f}")).is_some());
        any.then(|| AddressIntake {
            name: self.opt("ship_to.name"),
            line1: self.opt("ship_to.line1"),
            line2: self.opt("ship_to.line2"),
            city: self.opt("ship_to.city"),
            region: self.opt("ship_to.region"),
            postal_code: self.opt("ship_to.postal_code"),
            country: self.opt("ship_to.country"),
            ..AddressIntake::default()
        })
    }

    /// The filled line rows as the API's lines, each with the row it came from; numbers that
    /// do not read are errors named at their row.
    pub fn lines(&self, errors: &mut Vec<FieldError>) -> Vec<(usize, LineIntake)> {
        let mut lines = Vec::new();
        for row in 0..self.rows {
            let name = |f: &str| format!("lines[{row}].{f}");
            let filled = ["sku", "quantity", "unit_price"]
                .iter()
                .any(|f| self.opt(&name(f)).is_some());
            if !filled || self.get(&name("remove")) == "on" {
                continue;
            }
            let quantity = self
                .opt(&name("quantity"))
                .and_then(|q| match q.parse::<i64>() {
                    Ok(q) => Some(q),
                    Err(_) => {
                        errors.push(FieldError::new(name("quantity"), "must be a whole number"));
                        None
                    }
                });
            let unit_price =
                self.opt(&name("unit_price"))
                    .and_then(|p| match p.parse::<Decimal>() {
                        Ok(p) => Some(p),
                        Err(_) => {
                            errors.push(FieldError::new(
                                name("unit_price"),
                                "must be an amount, e.g. 19.99",
                            ));
                            None
                        }
                    });
            let line_no = self.opt(&name("line_no")).and_then(|n| n.parse().ok());
            lines.push((
                row,
                LineIntake {
                    line_no,
                    sku: self.opt(&name("sku")),
                    quantity,
                    unit_price,
                    ..LineIntake::default()
                },
            ));
        }
        lines
    }

    /// The form as the order intake; errors of numbers that did not read are added to `errors`.
    fn intake(&self, errors: &mut Vec<FieldError>) -> (OrderIntake, Vec<usize>) {
        let rows = self.lines(errors);
        let customer = [
            self.opt("customer.name"),
            self.opt("customer.email"),
            self.opt("customer.id"),
        ];
        let intake = OrderIntake {
            channel: self.opt("channel"),
            external_id: self.opt("external_id"),
            currency: self.opt("currency"),
            customer: customer.iter().any(Option::is_some).then(|| {
                let [name, email, id] = customer.clone();
                CustomerIntake {
                    id,
                    email,
                    name,
                    ..CustomerIntake::default()
                }
            }),
            ship_to: self.ship_to(),
            ship_method: self.opt("ship_method"),
            lines: Some(
                rows.iter()
                    .map(|(_, l)| LineIntake {
                        line_no: None,
                        ..l.clone()
                    })
                    .collect(),
            ),
            ..OrderIntake::default()
        };
        (intake, rows.into_iter().map(|(row, _)| row).collect())
    }

    /// The form filled from an order: its customer, ship-to, method and lines.
    pub fn of_order(order: &Order) -> Fields {
        let mut f = Fields::default();
        f.set("channel", order.channel.clone());
        f.set("currency", order.currency.code());
        if let Some(c) = &order.customer {
            f.set("customer.name", c.name.clone().unwrap_or_default());
            f.set("customer.email", c.email.clone().unwrap_or_default());
            f.set("customer.id", c.id.clone().unwrap_or_default());
        }
        f.set_address(order);
        f.set("ship_method", order.ship_method.clone().unwrap_or_default());
        let lines: Vec<_> = order
            .lines
            .iter()
            .filter(|l| l.active_quantity() > 0)
            .collect();
        for (row, l) in lines.iter().enumerate() {
            f.set(format!("lines[{row}].line_no"), l.line_no.to_string());
            f.set(format!("lines[{row}].sku"), l.sku.clone());
            f.set(format!("lines[{row}].quantity"), l.quantity.to_string());
            f.set(format!("lines[{row}].unit_price"), l.unit_price.to_string());
        }
        f.rows = lines.len().max(1);
        f
    }

    pub fn set_address(&mut self, order: &Order) {
        if let Some(a) = &order.ship_to {
            for (field, value) in [
                ("name", &a.name),
                ("line1", &a.line1),
                ("line2", &a.line2),
                ("city", &a.city),
                ("region", &a.region),
                ("postal_code", &a.postal_code),
            ] {
                self.set(
                    format!("ship_to.{field}"),
                    value.clone().unwrap_or_default(),
                );
            }
            self.set("ship_to.country", a.country.to_string());
        }
    }
}

/// The row of a `lines[N].field` input.
fn line_row(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("lines[")?;
    let (n, _) = rest.split_once(']')?;
    n.parse().ok().filter(|n: &usize| *n < 1000)
}

/// The ship-to's inputs: (field, label).
pub const ADDRESS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("line1", "Street"),
    ("line2", "Street (2)"),
    ("city", "City"),
    ("region", "Region"),
    ("postal_code", "Postal code"),
    ("country", "Country"),
];

/// Errors by the form's field paths.
#[derive(Debug, Default)]
pub struct Errors {
    pub by_field: BTreeMap<String, Vec<String>>,
    /// What is not about one field (a conflict), shown above the form.
    pub general: Vec<String>,
}

/// The API names the j-th line it was sent `lines[j]`; the form shows it in row `rows[j]`
/// (empty rows are not sent).
pub fn at_rows(errors: Vec<FieldError>, rows: &[usize]) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| match line_row(&e.field) {
            Some(j) => {
                let row = rows.get(j).copied().unwrap_or(j);
                let field = e
                    .field
                    .replacen(&format!("lines[{j}]"), &format!("lines[{row}]"), 1);
                FieldError::new(field, e.message)
            }
            None => e,
        })
        .collect()
}

impl Errors {
    /// Errors named by the form's own field paths.
    pub fn new(errors: Vec<FieldError>) -> Errors {
        let mut out = Errors::default();
        for e in errors {
            out.by_field.entry(e.field).or_default().push(e.message);
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty() && self.general.is_empty()
    }

    /// The messages of `field` (and of its parts, for a group such as `customer`).
    pub fn at(&self, field: &str) -> Markup {
        html! {
            @if let Some(messages) = self.by_field.get(field) {
                @for m in messages { span.field-error role="alert" { (m) } }
            }
        }
    }

    fn banner(&self) -> Markup {
        html! {
            @if !self.is_empty() {
                div.flash.error role="alert" {
                    @for g in &self.general { p { (g) } }
                    @if !self.by_field.is_empty() {
                        p { "Please correct the fields marked below." }
                        ul { @for (field, messages) in &self.by_field { @for m in messages {
                            li { code { (field) } " " (m) }
                        } } }
                    }
                }
            }
        }
    }
}

/// One labelled text input named by its field path, with its errors beside it.
pub fn input(
    fields: &Fields,
    errors: &Errors,
    name: &str,
    label: &str,
    list: Option<&str>,
) -> Markup {
    let invalid = errors.by_field.contains_key(name);
    html! {
        label {
            (label)
            input type="text" name=(name) value=(fields.get(name)) list=[list]
                aria-invalid=[invalid.then_some("true")];
            (errors.at(name))
        }
    }
}

/// The ship-to's inputs.
pub fn address_fieldset(fields: &Fields, errors: &Errors) -> Markup {
    html! {
        fieldset.form-grid {
            legend { "Ship to" }
            @for (field, label) in ADDRESS {
                (input(fields, errors, &format!("ship_to.{field}"), label, None))
            }
            (errors.at("ship_to"))
        }
    }
}

/// The lines' rows; `editing` shows the order's own line numbers and a "remove" box.
pub fn line_rows(fields: &Fields, errors: &Errors, editing: bool) -> Markup {
    html! {
        table #form-lines {
            thead { tr {
                @if editing { th { "#" } }
                th { "SKU" } th { "Quantity" } th { "Unit price" }
                @if editing { th { "Remove" } }
            } }
            tbody {
                @for row in 0..fields.rows {
                    @let name = |f: &str| format!("lines[{row}].{f}");
                    tr {
                        @if editing {
                            td {
                                @let line_no = fields.get(&name("line_no"));
                                @if line_no.is_empty() { span.muted { "new" } } @else {
                                    (line_no)
                                    input type="hidden" name=(name("line_no")) value=(line_no);
                                }
                            }
                        }
                        td {
                            input type="text" name=(name("sku")) value=(fields.get(&name("sku")))
                                list="known-skus" aria-label={ "SKU of row " (row + 1) }
                                aria-invalid=[errors.by_field.contains_key(&name("sku")).then_some("true")];
                            (errors.at(&name("sku")))
                        }
                        td {
                            input type="number" name=(name("quantity")) value=(fields.get(&name("quantity")))
                                min="1" step="1" aria-label={ "Quantity of row " (row + 1) } style="width:6rem"
                                aria-invalid=[errors.by_field.contains_key(&name("quantity")).then_some("true")];
                            (errors.at(&name("quantity")))
                        }
                        td {
                            input type="text" inputmode="decimal" name=(name("unit_price")) value=(fields.get(&name("unit_price")))
                                aria-label={ "Unit price of row " (row + 1) } style="width:8rem"
                                aria-invalid=[errors.by_field.contains_key(&name("unit_price")).then_some("true")];
                            (errors.at(&name("unit_price")))
                            (errors.at(&name("line_no")))
                        }
                        @if editing {
                            td {
                                @if !fields.get(&name("line_no")).is_empty() {
                                    input type="checkbox" name=(name("remove")) checked[fields.get(&name("remove")) == "on"]
                                        aria-label={ "Remove line " (fields.get(&name("line_no"))) };
                                }
                            }
                        }
                    }
                }
            }
        }
        (errors.at("lines"))
        p { button.secondary type="submit" name="add_line" value="1" formnovalidate { "Add line" } }
    }
}

/// Known SKUs and customers (from earlier orders), for the inputs' `datalist`s.
pub async fn lookups(state: &AppState) -> Result<Markup, ApiError> {
    let skus = state
        .store
        .inventory_skus(String::new(), None, LOOKUP)
        .await?;
    let recent = state
        .store
        .list_orders(iom_store::OrderFilter {
            limit: LOOKUP,
            ..Default::default()
        })
        .await?;
    let mut emails = BTreeMap::new();
    let mut names = BTreeMap::new();
    for o in &recent {
        if let Some(c) = &o.customer {
            if let Some(email) = &c.email {
                emails
                    .entry(email.clone())
                    .or_insert_with(|| c.name.clone().unwrap_or_default());
            }
            if let Some(name) = &c.name {
                names
                    .entry(name.clone())
                    .or_insert_with(|| c.email.clone().unwrap_or_default());
            }
        }
    }
    Ok(html! {
        datalist #known-skus { @for sku in &skus { option value=(sku) {} } }
        datalist #known-emails { @for (email, name) in &emails { option value=(email) { (name) } } }
        datalist #known-names { @for (name, email) in &names { option value=(name) { (email) } } }
    })
}

fn page_body(
    title: &str,
    fields: &Fields,
    errors: &Errors,
    session: &Session,
    lookups: Markup,
) -> Markup {
    html! {
        p.muted { a href="/ui/orders" { "Orders" } " ›" }
        h1 { (title) }
        (errors.banner())
        form.order-form method="post" action="/ui/orders/new" {
            input type="hidden" name="csrf" value=(session.csrf);
            (lookups)
            div.grid {
                fieldset.form-grid {
                    legend { "Order" }
                    (input(fields, errors, "channel", "Channel", None))
                    (input(fields, errors, "external_id", "External id", None))
                    (input(fields, errors, "currency", "Currency", None))
                    (input(fields, errors, "ship_method", "Ship method", None))
                }
                fieldset.form-grid {
                    legend { "Customer" }
                    (input(fields, errors, "customer.name", "Name", Some("known-names")))
                    (input(fields, errors, "customer.email", "E-mail", Some("known-emails")))
                    (input(fields, errors, "customer.id", "Customer id", None))
                    p.hint { "Known customers from earlier orders are offered as you type." }
                }
                (address_fieldset(fields, errors))
            }
            fieldset {
                legend { "Lines" }
                (line_rows(fields, errors, false))
            }
            p { button type="submit" name="create" value="1" { "Create order" } " " a href="/ui/orders" { "Back to orders" } }
        }
    }
}

fn render(
    session: &Session,
    title: &str,
    fields: &Fields,
    errors: &Errors,
    lookups: Markup,
    status: StatusCode,
) -> Response {
    let mut response = layout::page(
        session,
        title,
        "/ui/orders",
        page_body(title, fields, errors, session, lookups),
    );
    *response.status_mut() = status;
    response
}

fn require_capture(session: &Session) -> UiResult<()> {
    if session.can(Access::CaptureOrders) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "your role ({}) cannot enter orders",
            session.principal.role.as_str()
        ))
        .into())
    }
}

/// A new external id for an order entered by hand.
fn new_external_id(prefix: &str) -> String {
    format!("{prefix}{}", Utc::now().format("%Y%m%d-%H%M%S"))
}

pub async fn new_page(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    require_capture(&session)?;
    let mut fields = Fields {
        rows: 1,
        ..Fields::default()
    };
    fields.set("channel", "manual");
    fields.set("currency", "USD");
    fields.set("external_id", new_external_id("M-"));
    fields.set("lines[0].quantity", "1");
    let lookups = lookups(&state).await?;
    Ok(render(
        &session,
        "New order",
        &fields,
        &Errors::default(),
        lookups,
        StatusCode::OK,
    ))
}

/// The new-order form filled from order `id`, under a new external id.
pub async fn clone_page(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> UiResult<Response> {
    require_capture(&session)?;
    let order = api::get(State(state.clone()), session.principal.clone(), Path(id))
        .await?
        .0;
    let mut fields = Fields::of_order(&order);
    // A copy is a new order: its lines get numbers of their own.
    for row in 0..fields.rows {
        fields.values.remove(&format!("lines[{row}].line_no"));
    }
    fields.set(
        "external_id",
        new_external_id(&format!("{}-copy-", order.external_id)),
    );
    let lookups = lookups(&state).await?;
    Ok(render(
        &session,
        &format!("New order, copied from {}", order.external_id),
        &fields,
        &Errors::default(),
        lookups,
        StatusCode::OK,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(pairs): Form<Vec<(String, String)>>,
) -> UiResult<Response> {
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    session.verify(&csrf)?;
    require_capture(&session)?;
    let (mut fields, add_line) = Fields::from_pairs(
        pairs
            .into_iter()
            .filter(|(k, _)| k != "csrf" && k != "create")
            .collect(),
    );
    if add_line {
        let lookups = lookups(&state).await?;
        return Ok(render(
            &session,
            "New order",
            &fields,
            &Errors::default(),
            lookups,
            StatusCode::OK,
        ));
    }
    let mut errors = Vec::new();
    let (intake, rows) = fields.intake(&mut errors);
    let problem_from_form = !errors.is_empty();
    let result = if errors.is_empty() {
        api::create(
            State(state.clone()),
            session.principal.clone(),
            HeaderMap::new(),
            CheckedJson::from_value(intake),
        )
        .await
    } else {
        // Numbers that did not read, with whatever else the order's own checks find.
        if let Err(more) = intake.validate(Utc::now()) {
            errors.extend(at_rows(more, &rows));
        }
        Err(ApiError::invalid(errors))
    };
    let problem = match result {
        Ok(response) if response.status() == StatusCode::CREATED => {
            let body = axum::body::to_bytes(response.into_body(), 1 << 22)
                .await
                .unwrap_or_default();
            let order: Value = serde_json::from_slice(&body).unwrap_or_default();
            let id = order["id"].as_str().unwrap_or_default();
            return Ok(session.redirect(
                &format!("/ui/orders/{}", super::format::segment(id)),
                Flash {
                    ok: true,
                    text: format!("Order {} entered.", fields.get("external_id").trim()),
                },
            ));
        }
        Ok(response) => {
            // The duplicate (channel, external id): answered, not raised, by the handler.
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 22)
                .await
                .unwrap_or_default();
            let problem: Value = serde_json::from_slice(&body).unwrap_or_default();
            (status, problem)
        }
        Err(e) if matches!(e.status(), StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED) => {
            return Err(e.into());
        }
        Err(e) if e.status().is_server_error() => return Err(e.into()),
        Err(e) => (
            e.status(),
            serde_json::to_value(&*e.problem).unwrap_or_default(),
        ),
    };
    let (status, problem) = problem;
    let field_errors: Vec<FieldError> = problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    FieldError::new(
                        e["field"].as_str().unwrap_or_default(),
                        e["message"].as_str().unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    // Errors of the API's own checks name lines as it was sent them; the form's parse errors
    // already name their rows.
    let field_errors = if problem_from_form {
        field_errors
    } else {
        at_rows(field_errors, &rows)
    };
    let mut errors = Errors::new(field_errors);
    if status == StatusCode::CONFLICT {
        errors
            .by_field
            .entry("external_id".into())
            .or_default()
            .push("an order with this channel and external id exists already".into());
        if let Some(existing) = problem["existing_id"].as_str() {
            errors.general.push(format!(
                "Order {existing} has this channel and external id; nothing was created."
            ));
        }
    } else if errors.by_field.is_empty() {
        errors.general.push(
            problem["detail"]
                .as_str()
                .unwrap_or("The order was not created.")
                .to_owned(),
        );
    }
    fields.rows = fields.rows.max(1);
    let lookups = lookups(&state).await?;
    Ok(render(&session, "New order", &fields, &errors, lookups, status).into_response())
}
