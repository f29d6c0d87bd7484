//! Policies edited in the browser: `/ui/policies/new` and `/ui/policies/{name}/edit`. The text
//! is checked by `POST /api/v1/policies/{name}/validate` (the parser and CEL type checker `PUT`
//! runs, storing nothing) as one types and with the "Check" button, and saved with
//! `PUT /api/v1/policies/{name}`. A policy has no drafts: its newest version is in force for the
//! runs that start after it, so saving is publishing.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::editor::{self, CheckAnswer, Problem};
use super::flow_editor::{CheckForm, EditForm, EditParams};
use super::session::{Flash, Session};
use super::{UiResult, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::error::ApiError;
use crate::routes::policies::{self as api, PolicyCheck, PolicyDetail};

/// What `/ui/policies/new` starts from: a policy that passes the check, to change.
const STARTER: &str = "name: my-policy
# filter: whether a flow or step applies to an order; execution: checks and values to set.
kind: filter
rule: order.lines.exists(l, l.quantity >= 6)
";

fn edit_url(name: &str) -> String {
    format!("/ui/policies/{}/edit", format::segment(name))
}

struct Editing {
    source: String,
    problems: Vec<Problem>,
    checked: bool,
    summary: String,
    from_version: Option<i64>,
}

fn summary(check: &PolicyCheck) -> String {
    format!(
        "No errors: {} {} policy; saving makes it version {}, in force for the runs that start from then on.",
        if check.kind == "execution" { "an" } else { "a" },
        check.kind,
        check.version
    )
}

fn error_count(problems: &[Problem]) -> String {
    match problems.len() {
        1 => "1 error.".to_owned(),
        n => format!("{n} errors."),
    }
}

pub async fn edit(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(params): Query<EditParams>,
) -> UiResult<Response> {
    let policy = api::get(State(state), session.principal.clone(), Path(name))
        .await?
        .0;
    let loaded = params
        .version
        .and_then(|n| policy.versions.iter().find(|v| v.version == n))
        .or(policy.versions.first());
    let editing = Editing {
        source: loaded.map(|v| v.source.clone()).unwrap_or_default(),
        problems: Vec::new(),
        checked: false,
        summary: String::new(),
        from_version: loaded
            .map(|v| v.version)
            .filter(|v| *v != policy.latest_version),
    };
    Ok(page(
        &session,
        Some(&policy),
        editing,
        &params,
        StatusCode::OK,
    ))
}

pub async fn new(session: Session) -> UiResult<Response> {
    let editing = Editing {
        source: STARTER.to_owned(),
        problems: Vec::new(),
        checked: false,
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

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Form(form): Form<EditForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let policy = api::get(
        State(state.clone()),
        session.principal.clone(),
        Path(name.clone()),
    )
    .await?
    .0;
    submit(&state, &session, Some(policy), name, form).await
}

/// The new policy's editor: stored under the name its text states. A name already taken is
/// refused rather than silently made a new version of that policy.
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
        let at = iom_app::flow::name_position(&source);
        let editing = Editing {
            problems: vec![Problem {
                line: at.map(|p| p.line),
                column: at.map(|p| p.column),
                path: "name".into(),
                message: format!(
                    "a policy named {name:?} exists already: edit it, or give this one another name"
                ),
            }],
            checked: true,
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
    policy: Option<PolicyDetail>,
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
                        "Version {} of policy {name} is saved and in force for the runs that start from now on.",
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
                    from_version: None,
                    source,
                };
                Ok(page(
                    session,
                    policy.as_ref(),
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
            from_version: None,
            source,
        },
        Err(problems) => Editing {
            summary: error_count(&problems),
            problems,
            checked: true,
            from_version: None,
            source,
        },
    };
    Ok(page(
        session,
        policy.as_ref(),
        editing,
        &params,
        StatusCode::OK,
    ))
}

async fn validate(
    state: &AppState,
    session: &Session,
    name: &str,
    source: &str,
) -> Result<Result<PolicyCheck, Vec<Problem>>, ApiError> {
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
        Ok(check) => CheckAnswer::new(Vec::new(), None, summary(&check)),
        Err(problems) => {
            let count = error_count(&problems);
            CheckAnswer::new(problems, None, count)
        }
    };
    Ok(answer.into_response())
}

fn page(
    session: &Session,
    policy: Option<&PolicyDetail>,
    editing: Editing,
    params: &EditParams,
    status: StatusCode,
) -> Response {
    let can_edit = session.can(Access::Configure);
    let (title, action, data_name) = match policy {
        Some(p) => (
            format!("Edit policy {}", p.name),
            edit_url(&p.name),
            p.name.clone(),
        ),
        None => (
            "New policy".to_owned(),
            "/ui/policies/new".to_owned(),
            String::new(),
        ),
    };
    let body = html! {
        (editor::assets())
        p.muted { a href="/ui/flows" { "Flows and policies" } " ›"
            @if let Some(p) = policy { " " a href={ "/ui/policies/" (format::segment(&p.name)) } { (p.name) } " ›" } }
        h1 { (title) @if let Some(p) = policy { " " span.badge { (p.kind) } } }
        @if !can_edit {
            p.hint #read-only { "You can read this policy; changing it needs the admin role." }
        }
        section.card {
            p.hint { "A policy is CEL over the order. Its newest version is in force for the runs that start after it is saved; runs under way keep the versions they started with." }
            @if let Some(v) = editing.from_version {
                p.hint { "The text of version " (v) "; saving makes it the newest version." }
            }
            form #definition method="post" action=(action) data-check=[can_edit.then_some("/ui/policies/check")] data-name=(data_name) {
                input type="hidden" name="csrf" value=(session.csrf);
                (editor::editor(&editing.source, &editing.problems, can_edit))
                div #problems role="status" { (editor::problem_list(&editing.problems, editing.checked)) }
                p.hint #check-status { (editing.summary) }
                @if can_edit {
                    div.actions {
                        button.secondary type="submit" name="action" value="check" { "Check" }
                        button type="submit" name="action" value="save" { "Save (in force for new runs)" }
                    }
                }
            }
        }
        @if let Some(p) = policy { (versions(p)) (compare(p, params)) }
    };
    let mut response = layout::page(session, &title, "/ui/flows", body);
    *response.status_mut() = status;
    response
}

fn versions(policy: &PolicyDetail) -> Markup {
    let url = edit_url(&policy.name);
    html! {
        section.card {
            h2 { "Versions" }
            table #versions {
                thead { tr { th.num { "Version" } th { "Kind" } th { "Created" } th { "" } } }
                tbody { @for v in &policy.versions { tr data-version=(v.version) {
                    td.num { (v.version) @if v.version == policy.latest_version { " " strong { "in force" } } }
                    td { (v.kind) }
                    td { (format::time(v.created_at)) }
                    td { a href={ (url) "?version=" (v.version) } { "Open in the editor" } }
                } } }
            }
        }
    }
}

fn compare(policy: &PolicyDetail, params: &EditParams) -> Markup {
    let newest = Some(policy.latest_version);
    let from = params
        .from
        .or_else(|| policy.versions.get(1).map(|v| v.version));
    let to = params.to.or(newest);
    let find = |n: Option<i64>| n.and_then(|n| policy.versions.iter().find(|v| v.version == n));
    let label = |version: i64| {
        if version == policy.latest_version {
            format!("Version {version} (in force)")
        } else {
            format!("Version {version}")
        }
    };
    html! {
        section.card #compare {
            h2 { "Compare versions" }
            form.filters method="get" action=(edit_url(&policy.name)) {
                label { "From" select name="from" {
                    @for v in &policy.versions { option value=(v.version) selected[Some(v.version) == from] { (label(v.version)) } }
                } }
                label { "To" select name="to" {
                    @for v in &policy.versions { option value=(v.version) selected[Some(v.version) == to] { (label(v.version)) } }
                } }
                button type="submit" { "Compare" }
            }
            @if params.from.is_some() || params.to.is_some() {
                @match (find(from), find(to)) {
                    (Some(a), Some(b)) => {
                        h3 #compared { (label(a.version)) " → " (label(b.version)) }
                        (editor::diff(&a.source, &b.source))
                    }
                    _ => { p.muted { "No such version." } }
                }
            }
        }
    }
}
