//! Flows with their versions and each version drawn as a graph; the policies they share, with
//! their versions; manual tasks to work through;
//! a failed run reprocessed from the step where it stopped. Reads and actions go through the
//! API's handlers.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use iom_flow::{ExecutablePlan, FailureAction, NodeKind, Target};
use maud::{Markup, html};
use serde::Deserialize;

use super::session::Session;
use super::{UiResult, done, format, layout};
use crate::AppState;
use crate::auth::Access;
use crate::json::ApiJson;
use crate::routes::flows as api;
use crate::routes::policies as policy_api;

pub async fn list(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let flows = api::list(State(state.clone()), session.principal.clone())
        .await?
        .0;
    let policies = policy_api::list(State(state), session.principal.clone())
        .await?
        .0;
    let body = html! {
        h1 { "Flows" }
        p.actions { a href="/ui/tasks" { "Manual tasks" }
            @if session.can(Access::Configure) { " · " a #new-flow href="/ui/flows/new" { "New flow" } " · " a #new-policy href="/ui/policies/new" { "New policy" } } }
        @if flows.items.is_empty() { p.muted { "No flows." } } @else {
            table #flows {
                thead { tr { th { "Name" } th { "Type" } th.num { "Published" } th.num { "Newest" } th { "Newest is" } th { "Updated" } } }
                tbody { @for f in &flows.items { tr {
                    td { a href={ "/ui/flows/" (format::segment(&f.name)) } { (f.name) } }
                    td { (f.flow_type) }
                    td.num { @if let Some(v) = f.published_version { (v) } @else { "—" } }
                    td.num { (f.latest_version) }
                    td { (format::badge(&f.latest_status)) }
                    td { (format::time(f.updated_at)) }
                } } }
            }
        }
        h2 { "Policies" }
        p.hint { "Named rules the flows share: filters choose the orders a flow or step applies to, execution policies check orders and set values." }
        @if policies.items.is_empty() { p.muted { "No policies." } } @else {
            table #policies {
                thead { tr { th { "Name" } th { "Kind" } th.num { "Newest" } th { "Updated" } } }
                tbody { @for p in &policies.items { tr {
                    td { a href={ "/ui/policies/" (format::segment(&p.name)) } { (p.name) } }
                    td { (p.kind) }
                    td.num { (p.latest_version) }
                    td { (format::time(p.updated_at)) }
                } } }
            }
        }
    };
    Ok(layout::page(&session, "Flows", "/ui/flows", body))
}

/// A policy's versions, newest first, each with its definition as written.
pub async fn policy(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
) -> UiResult<Response> {
    let policy = policy_api::get(State(state), session.principal.clone(), Path(name.clone()))
        .await?
        .0;
    let body = html! {
        p.muted { a href="/ui/flows" { "Flows and policies" } " ›" }
        h1 { "Policy " (policy.name) " " span.badge { (policy.kind) } }
        p { a #edit href={ "/ui/policies/" (format::segment(&policy.name)) "/edit" } {
            @if session.can(Access::Configure) { "Edit" } @else { "Read in the editor" } } }
        table #policy-versions {
            thead { tr { th.num { "Version" } th { "Kind" } th { "Created" } th { "Definition" } } }
            tbody { @for v in &policy.versions { tr {
                td.num { (v.version) }
                td { (v.kind) }
                td { (format::time(v.created_at)) }
                td { details open[v.version == policy.latest_version] {
                    summary { (v.format) }
                    pre { (v.source) }
                } }
            } } }
        }
    };
    Ok(layout::page(
        &session,
        &format!("Policy {name}"),
        "/ui/flows",
        body,
    ))
}

#[derive(Deserialize, Default)]
pub struct VersionParams {
    pub version: Option<i64>,
}

pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(params): Query<VersionParams>,
) -> UiResult<Response> {
    let flow = api::get(State(state), session.principal.clone(), Path(name.clone()))
        .await?
        .0;
    let shown = params
        .version
        .or(flow.published_version)
        .and_then(|n| flow.versions.iter().find(|v| v.version == n))
        .or(flow.versions.first());
    let plan: Option<ExecutablePlan> = shown.and_then(|v| serde_json::from_str(&v.plan).ok());
    let base = format!("/ui/flows/{}", format::segment(&name));
    let body = html! {
        p.muted { a href="/ui/flows" { "Flows" } " ›" }
        h1 { "Flow " (flow.name) " " span.badge { (flow.flow_type) } }
        p { a #edit href={ (base) "/edit" } {
            @if session.can(Access::Configure) { "Edit, publish, compare versions" } @else { "Read in the editor, compare versions" } } }
        div.grid {
            section.card {
                h2 { "Versions" }
                table #versions {
                    thead { tr { th.num { "Version" } th { "Status" } th { "Created" } th { "Published" } } }
                    tbody { @for v in &flow.versions { tr {
                        td.num { a href={ (base) "?version=" (v.version) } { (v.version) } }
                        td { (format::badge(&v.status)) }
                        td { (format::time(v.created_at)) }
                        td { @if let Some(at) = v.published_at { (format::time(at)) } }
                    } } }
                }
            }
            @if let Some(v) = shown {
                section.card #graph {
                    h2 { "Version " (v.version) " (" (v.status) ")" }
                    @if let Some(plan) = &plan {
                        p.hint { "Triggered by " (plan.triggers.join(", ")) "; priority " (plan.priority) "." }
                        (graph(plan))
                    } @else {
                        p.muted { "This version's plan cannot be read." }
                    }
                    details { summary { "Definition (" (v.format) ")" } pre { (v.source) } }
                }
            }
        }
    };
    Ok(layout::page(
        &session,
        &format!("Flow {name}"),
        "/ui/flows",
        body,
    ))
}

const BOX_W: f64 = 280.0;
const BOX_H: f64 = 38.0;
const GAP: f64 = 22.0;
const LEFT: f64 = 30.0;
const TOP: f64 = 40.0;

/// The plan as boxes in document order, top to bottom: the usual path runs straight down, every
/// other edge (a branch's other way, a jump, what a failure leads to) curves out to the right
/// with its label.
pub fn graph(plan: &ExecutablePlan) -> Markup {
    let index = |t: &Target| -> Option<usize> {
        match t {
            Target::Step(id) | Target::Join(id) => plan.nodes.iter().position(|n| n.id == *id),
            Target::End => Some(plan.nodes.len()),
        }
    };
    let y = |i: usize| TOP + i as f64 * (BOX_H + GAP);
    let end = plan.nodes.len();
    // (from, to, label)
    let mut edges: Vec<(usize, usize, String)> = Vec::new();
    for (i, node) in plan.nodes.iter().enumerate() {
        match &node.kind {
            NodeKind::Branch {
                then, otherwise, ..
            } => {
                if let Some(j) = index(then) {
                    edges.push((i, j, "then".into()));
                }
                if let Some(j) = index(otherwise) {
                    edges.push((i, j, "else".into()));
                }
            }
            NodeKind::Goto { target } => {
                if let Some(j) = index(&Target::Step(target.clone())) {
                    edges.push((i, j, "goto".into()));
                }
            }
            NodeKind::Parallel { branches } => {
                for b in branches {
                    if let Some(j) = index(&b.start) {
                        edges.push((i, j, b.name.clone()));
                    }
                }
                if let Some(j) = index(&node.next) {
                    edges.push((i, j, "joined".into()));
                }
            }
            NodeKind::Step { on_failure, .. } => {
                if let Some(j) = index(&node.next) {
                    edges.push((i, j, String::new()));
                }
                if let FailureAction::Goto(id) = on_failure
                    && let Some(j) = index(&Target::Step(id.clone()))
                {
                    edges.push((i, j, "on failure".into()));
                }
            }
        }
    }
    let height = y(end) + BOX_H + 10.0;
    let label = |node: &iom_flow::PlanNode| -> (String, String) {
        let detail = match &node.kind {
            NodeKind::Step {
                uses, on_failure, ..
            } => {
                let failure = match on_failure {
                    FailureAction::Fail => String::new(),
                    FailureAction::Continue => " · on failure: continue".into(),
                    FailureAction::Goto(_) => String::new(),
                    FailureAction::Hold(r) => format!(" · on failure: hold ({r})"),
                    FailureAction::Cancel(r) => format!(" · on failure: cancel ({r})"),
                    FailureAction::Backorder => " · on failure: backorder".into(),
                };
                format!("{uses}{failure}")
            }
            NodeKind::Branch { .. } => "branch".into(),
            NodeKind::Parallel { .. } => "parallel".into(),
            NodeKind::Goto { .. } => "goto".into(),
        };
        (node.id.as_str().to_owned(), detail)
    };
    html! {
        svg.chart.flow viewBox={ "0 0 640 " (height) } role="img" aria-label={ "Flow " (plan.name) } {
            title { "Flow " (plan.name) }
            defs { marker #arrow viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse" {
                path d="M 0 0 L 10 5 L 0 10 z" fill="#5d6778" {}
            } }
            circle cx=(LEFT + BOX_W / 2.0) cy=(TOP - 22.0) r="6" fill="#1d2433" {}
            @if let Some(first) = index(&plan.start) {
                line x1=(LEFT + BOX_W / 2.0) y1=(TOP - 16.0) x2=(LEFT + BOX_W / 2.0) y2=(y(first)) stroke="#5d6778" marker-end="url(#arrow)" {}
            }
            @for (k, (from, to, text)) in edges.iter().enumerate() {
                @if *to == from + 1 && text.is_empty() {
                    line x1=(LEFT + BOX_W / 2.0) y1=(y(*from) + BOX_H) x2=(LEFT + BOX_W / 2.0) y2=(y(*to)) stroke="#5d6778" marker-end="url(#arrow)" {}
                } @else {
                    @let x0 = LEFT + BOX_W;
                    @let bulge = x0 + 40.0 + (k % 6) as f64 * 30.0;
                    @let (y0, y1) = (y(*from) + BOX_H / 2.0, y(*to) + BOX_H / 2.0);
                    path d={ "M " (x0) " " (y0) " C " (bulge) " " (y0) ", " (bulge) " " (y1) ", " (x0) " " (y1) }
                        fill="none" stroke="#8c959f" stroke-dasharray="4 3" marker-end="url(#arrow)" {}
                    text x=(bulge - 10.0) y=((y0 + y1) / 2.0) { (text) }
                }
            }
            @for (i, node) in plan.nodes.iter().enumerate() {
                @let (id, detail) = label(node);
                g {
                    rect x=(LEFT) y=(y(i)) width=(BOX_W) height=(BOX_H) rx="6" fill="#ddf4ff" stroke="#1f6feb" {}
                    text x=(LEFT + 10.0) y=(y(i) + 16.0) style="fill:#1d2433;font-weight:600" { (id) }
                    text x=(LEFT + 10.0) y=(y(i) + 31.0) { (detail) }
                }
            }
            circle cx=(LEFT + BOX_W / 2.0) cy=(y(end) + 10.0) r="7" fill="none" stroke="#1d2433" stroke-width="3" {}
        }
    }
}

#[derive(Deserialize)]
pub struct CompleteForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub decision: String,
    #[serde(default)]
    pub note: String,
}

pub async fn complete_task(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CompleteForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let decision = form.decision.clone();
    let result = api::complete_task(
        State(state),
        session.principal.clone(),
        Path(id),
        ApiJson {
            value: api::CompleteBody {
                decision: form.decision,
                note: Some(form.note).filter(|n| !n.trim().is_empty()),
            },
            raw: Default::default(),
        },
    )
    .await
    .map(|_| format!("Task {decision}d."));
    done(&session, "/ui/tasks", result)
}

#[derive(Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    pub csrf: String,
    /// The page to come back to.
    #[serde(default)]
    pub back: String,
}

pub async fn retry_run(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<RetryForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let back = if form.back.starts_with("/ui/") && !form.back.starts_with("//") {
        form.back.clone()
    } else {
        "/ui".into()
    };
    let mut result = api::retry_run(
        State(state.clone()),
        session.principal.clone(),
        Path(id.clone()),
    )
    .await;
    // The executor takes the run up at once: what became of it (the same failure again, or
    // on its way) is said when it is known, within a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while let Ok(run) = &result
        && matches!(run.0.status.as_str(), "runnable" | "external")
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        result = api::get_run(
            State(state.clone()),
            session.principal.clone(),
            Path(id.clone()),
        )
        .await;
    }
    // A retry that ran into the same failure (or a hold) again is a failure, shown as one.
    if let Ok(run) = &result
        && matches!(run.0.status.as_str(), "failed" | "held")
    {
        let why = run.0.error.clone().unwrap_or_default();
        let text = format!(
            "The run was reprocessed and is {} again at {}: {why}",
            run.0.status,
            run.0.current_step.clone().unwrap_or_default()
        );
        return Ok(session.redirect(&back, super::session::Flash { ok: false, text }));
    }
    let result = result.map(|run| {
        format!(
            "Run reprocessed from {}: {}.",
            run.0
                .current_step
                .clone()
                .unwrap_or_else(|| "its last step".into()),
            run.0.status
        )
    });
    done(&session, &back, result)
}
