//! Flows edited in the browser: `/ui/flows/new` and `/ui/flows/{name}/edit`. The definition is
//! checked by `POST /api/v1/flows/{name}/validate` (the compiler `PUT` runs, storing nothing) as
//! one types and with the "Check" button; saving is `PUT /api/v1/flows/{name}` (a new draft
//! version); publishing and unpublishing are the API's too, each with the signed-in user's
//! principal. Beside the editor: the graph of what the text compiles to, the versions, and a
//! line diff of any two of them.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use iom_flow::ExecutablePlan;
use maud::{Markup, html};
use serde::Deserialize;

use super::editor::{self, CheckAnswer, Problem};
use super::flows::graph;
use super::session::{Flash, Session};
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::routes::flows::{self as api, FlowCheck, FlowDetail};

/// What `/ui/flows/new` starts from: a flow that compiles, to change.
const STARTER: &str = "name: my-flow
type: order
trigger: order.received
# Of several flows whose trigger matches, the highest priority runs.
priority: 10
steps:
  - id: validate
    uses: validate-order
    on_failure: hold validation_failed
  - id: plan
    uses: plan-fulfillment
    on_failure: backorder
  - id: reserve
    uses: reserve-inventory
    on_failure: backorder
  - id: release
    uses: release-to-nodes
";

fn edit_url(name: &str) -> String {
    format!("/ui/flows/{}/edit", format::segment(name))
}

#[derive(Deserialize, Default)]
pub struct EditParams {
    /// The version whose text is loaded into the editor (the newest when left out).
    pub version: Option<i64>,
    /// Two versions to compare.
    pub from: Option<i64>,
    pub to: Option<i64>,
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub source: String,
    /// `check` or `save`.
    #[serde(default)]
    pub action: String,
}

#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    pub csrf: String,
    /// The flow being edited; empty for a new one (it is named by its text).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub source: String,
}

/// The editor's state as a page shows it.
struct Editing {
    source: String,
    problems: Vec<Problem>,
    /// Whether this text was just checked (so "No errors." means something).
    checked: bool,
    /// What the text compiles to, or the loaded version's plan.
    plan: Option<ExecutablePlan>,
    summary: String,
    /// The version the text was loaded from, when it is not the newest.
    from_version: Option<i64>,
}

fn summary(check: &FlowCheck) -> String {
    format!(
        "No errors: {} {} flow started by {}, priority {}, {} steps.",
        if check.flow_type == "order" || check.flow_type == "inventory" {
            "an"
        } else {
            "a"
        },
        check.flow_type,
        check.triggers.join(", "),
        check.priority,
        check.plan.nodes.len()
    )
}

fn error_count(problems: &[Problem]) -> String {
    match problems.len() {
        1 => "1 error.".to_owned(),
        n => format!("{n} errors."),
    }
}

/// The newest version's text, or that of `?version=`.
pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(params): Query<EditParams>,
) -> UiResult<Response> {
    let flow = api::get(State(state), session.principal.clone(), Path(name.clone()))
        .await?
        .0;
    let newest = flow.versions.first().map(|v| v.version);
    let loaded = params
        .version
        .and_then(|n| flow.versions.iter().find(|v| v.version == n))
        .or(flow.versions.first());
    let editing = Editing {
        source: loaded.map(|v| v.source.clone()).unwrap_or_default(),
        problems: Vec::new(),
        checked: false,
        plan: loaded.and_then(|v| serde_json::from_str(&v.plan).ok()),
        summary: String::new(),
        from_version: loaded.map(|v| v.version).filter(|v| Some(*v) != newest),
    };
    Ok(page(
        &session,
        Some(&flow),
        editing,
        &params,
        StatusCode::OK,
    ))
}

/// An empty editor holding a flow to start from.
pub async fn new(session: Session) -> UiResult<Response> {
    let editing = Editing {
        source: STARTER.to_owned(),
        problems: Vec::new(),
        checked: false,
        plan: iom_flow::compile(STARTER).ok(),
        summary: String::new(),
        from_version: None,
    };
    Ok(page(
        &session,
        None,
        editing,
        &EditParams::default(),
        StatusCode::OK,
    ))
}

/// "Check" or "Save draft" on an existing flow's editor.
pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<EditForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let flow = api::get(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
    )
    .await?
    .0;
    submit(&state, &session, Some(flow), name, form).await
}

/// "Check" or "Save draft" on the new flow's editor: stored under the name its text states.
pub async fn create(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<EditForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let source = editor::normalise(&form.source);
    let name = editor::stated_name(&source);
    if form.action == "save"
        && api::get(
            State(state.clone()),
            session.principal.clone(),
            Path(name.clone()),
        )
        .await
        .is_ok()
    {
        let editing = Editing {
            problems: vec![Problem {
                line: iom_app::flow::name_position(&source).map(|p| p.line),
                column: iom_app::flow::name_position(&source).map(|p| p.column),
                path: "name".into(),
                message: format!(
                    "a flow named {name:?} exists already: edit it, or give this one another name"
                ),
            }],
            checked: true,
            plan: None,
            summary: "Not saved.".into(),
            from_version: None,
            source,
        };
        return Ok(page(
            &session,
            None,
            editing,
            &EditParams::default(),
            StatusCode::CONFLICT,
        ));
    }
    submit(&state, &session, None, name, form).await
}

async fn submit(
    state: &AppState,
    session: &Session,
    flow: Option<FlowDetail>,
    name: String,
    form: EditForm,
) -> UiResult<Response> {
    let source = editor::normalise(&form.source);
    let params = EditParams::default();
    if form.action == "save" {
        let saved = api::put(
            State(state.clone()),
            session.principal.clone(),
            Path(name.clone()),
            editor::definition_request(Method::PUT, &source),
        )
        .await;
        return match saved {
            Ok((_, version)) => Ok(session.redirect(
                &edit_url(&name),
                Flash {
                    ok: true,
                    text: format!(
                        "Version {} of flow {name} is saved as a draft; publish it to start runs with it.",
                        version.0.version
                    ),
                },
            )),
            Err(e) if editor::about_the_text(&e) => {
                let problems = editor::problems(&e);
                let editing = Editing {
                    summary: format!("Not saved: {}", error_count(&problems)),
                    problems,
                    checked: true,
                    plan: None,
                    from_version: None,
                    source,
                };
                Ok(page(
                    session,
                    flow.as_ref(),
                    editing,
                    &params,
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
            Err(e) => Err(e.into()),
        };
    }
    let editing = match validate(state, session, &name, &source).await? {
        Ok(check) => Editing {
            summary: summary(&check),
            problems: Vec::new(),
            checked: true,
            plan: Some(check.plan),
            from_version: None,
            source,
        },
        Err(problems) => Editing {
            summary: error_count(&problems),
            problems,
            checked: true,
            plan: None,
            from_version: None,
            source,
        },
    };
    Ok(page(
        session,
        flow.as_ref(),
        editing,
        &params,
        StatusCode::OK,
    ))
}

/// The API's check of `source` as flow `name`: what it compiles to, or its problems.
async fn validate(
    state: &AppState,
    session: &Session,
    name: &str,
    source: &str,
) -> Result<Result<FlowCheck, Vec<Problem>>, ApiError> {
    match api::validate(
        State(state.clone()),
        session.principal.clone(),
        Path(name.to_owned()),
        editor::definition_request(Method::POST, source),
    )
    .await
    {
        Ok(check) => Ok(Ok(check.0)),
        Err(e) if editor::about_the_text(&e) => Ok(Err(editor::problems(&e))),
        Err(e) => Err(e),
    }
}

/// The script's check as one types: the problems at their lines and the graph redrawn.
pub async fn check(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<CheckForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let source = editor::normalise(&form.source);
    let name = if form.name.is_empty() {
        editor::stated_name(&source)
    } else {
        form.name
    };
    let answer = match validate(&state, &session, &name, &source).await? {
        Ok(check) => CheckAnswer::new(Vec::new(), Some(graph(&check.plan)), summary(&check)),
        Err(problems) => {
            let count = error_count(&problems);
            CheckAnswer::new(problems, None, count)
        }
    };
    Ok(answer.into_response())
}

#[derive(Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub version: String,
}

pub async fn publish(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<PublishForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let version = form.version.trim().parse::<i64>().ok();
    let result = api::publish(
        State(state),
        session.principal.clone(),
        Path(name.clone()),
        ApiJson {
            value: api::PublishBody { version },
            raw: Default::default(),
        },
    )
    .await
    .map(|flow| {
        format!(
            "Version {} of flow {name} is published: it starts the runs from now on; runs under way finish on theirs.",
            flow.0.published_version.unwrap_or_default()
        )
    });
    done(&session, &edit_url(&name), result)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub async fn unpublish(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<CsrfForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let result = api::unpublish(State(state), session.principal.clone(), Path(name.clone()))
        .await
        .map(|_| {
            format!("Flow {name} is unpublished: it starts no more runs; runs under way finish.")
        });
    done(&session, &edit_url(&name), result)
}

fn page(
    session: &Session,
    flow: Option<&FlowDetail>,
    editing: Editing,
    params: &EditParams,
    status: StatusCode,
) -> Response {
    let can_edit = session.can(Access::Configure);
    let (title, action, data_name) = match flow {
        Some(f) => (
            format!("Edit flow {}", f.name),
            edit_url(&f.name),
            f.name.clone(),
        ),
        None => (
            "New flow".to_owned(),
            "/ui/flows/new".to_owned(),
            String::new(),
        ),
    };
    let body = html! {
        (editor::assets())
        p.muted { a href="/ui/flows" { "Flows" } " ›"
            @if let Some(f) = flow { " " a href={ "/ui/flows/" (format::segment(&f.name)) } { (f.name) } " ›" } }
        h1 { (title) @if let Some(f) = flow { " " span.badge { (f.flow_type) } } }
        @if !can_edit {
            p.hint #read-only { "You can read this flow; changing it needs the admin role." }
        }
        div.editing {
            section.card {
                @if let Some(v) = editing.from_version {
                    p.hint { "The text of version " (v) "; saving makes it a new draft version." }
                }
                form #definition method="post" action=(action) data-check=[can_edit.then_some("/ui/flows/check")] data-name=(data_name) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    (editor::editor(&editing.source, &editing.problems, can_edit))
                    div #problems role="status" { (editor::problem_list(&editing.problems, editing.checked)) }
                    p.hint #check-status { (editing.summary) }
                    @if can_edit {
                        div.actions {
                            button.secondary type="submit" name="action" value="check" { "Check" }
                            button type="submit" name="action" value="save" { "Save draft" }
                        }
                    }
                }
            }
            section.card #graph {
                h2 { "Graph" }
                div #graph-drawing {
                    @if let Some(plan) = &editing.plan { (graph(plan)) }
                    @else { p.muted { "Drawn once the text compiles." } }
                }
            }
        }
        @if let Some(f) = flow { (versions(session, f, can_edit)) (compare(f, params)) }
    };
    let mut response = layout::page(session, &title, "/ui/flows", body);
    *response.status_mut() = status;
    response
}

fn versions(session: &Session, flow: &FlowDetail, can_edit: bool) -> Markup {
    let url = edit_url(&flow.name);
    html! {
        section.card {
            h2 { "Versions" }
            p.hint { "The published version starts the runs; runs already started finish on the version they began with." }
            table #versions {
                thead { tr { th.num { "Version" } th { "Status" } th { "Created" } th { "Published" } th { "" } } }
                tbody { @for v in &flow.versions { tr data-version=(v.version) {
                    td.num { (v.version) }
                    td { (format::badge(&v.status)) @if v.status == "published" { " " strong { "active" } } }
                    td { (format::time(v.created_at)) }
                    td { @if let Some(at) = v.published_at { (format::time(at)) } }
                    td { div.actions {
                        a href={ (url) "?version=" (v.version) } { "Open in the editor" }
                        @if can_edit {
                            @if v.status == "published" {
                                (editor::confirmed("Unpublish…",
                                    "No version of this flow will start runs; runs under way finish. Unpublish it?",
                                    html! { form.inline method="post" action={ "/ui/flows/" (format::segment(&flow.name)) "/unpublish" } {
                                        input type="hidden" name="csrf" value=(session.csrf);
                                        button.danger type="submit" { "Unpublish" }
                                    } }))
                            } @else {
                                form.inline method="post" action={ "/ui/flows/" (format::segment(&flow.name)) "/publish" } {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    input type="hidden" name="version" value=(v.version);
                                    button type="submit" { "Publish" }
                                }
                            }
                        }
                    } }
                } } }
            }
        }
    }
}

fn compare(flow: &FlowDetail, params: &EditParams) -> Markup {
    let newest = flow.versions.first().map(|v| v.version);
    let from = params
        .from
        .or(flow.published_version.filter(|p| Some(*p) != newest))
        .or_else(|| flow.versions.get(1).map(|v| v.version));
    let to = params.to.or(newest);
    let find = |n: Option<i64>| n.and_then(|n| flow.versions.iter().find(|v| v.version == n));
    let label = |v: &iom_store::flows::FlowVersion| {
        let active = if v.status == "published" {
            ", active"
        } else {
            ""
        };
        format!("Version {} ({}{active})", v.version, v.status)
    };
    html! {
        section.card #compare {
            h2 { "Compare versions" }
            form.filters method="get" action=(edit_url(&flow.name)) {
                label { "From" select name="from" {
                    @for v in &flow.versions { option value=(v.version) selected[Some(v.version) == from] { (label(v)) } }
                } }
                label { "To" select name="to" {
                    @for v in &flow.versions { option value=(v.version) selected[Some(v.version) == to] { (label(v)) } }
                } }
                button type="submit" { "Compare" }
            }
            @if params.from.is_some() || params.to.is_some() {
                @match (find(from), find(to)) {
                    (Some(a), Some(b)) => {
                        h3 #compared { (label(a)) " → " (label(b)) }
                        (editor::diff(&a.source, &b.source))
                    }
                    _ => { p.muted { "No such version." } }
                }
            }
        }
    }
}
