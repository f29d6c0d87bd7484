//! The definition editor that flows and policies share: the text with line numbers, each error
//! marked at its line, the list of errors, and a line diff of two versions.
//!
//! The page works without scripts: "Check" and "Save" post the form and the page comes back
//! with the errors at their lines. `assets/editor.js` checks as one types (a debounced post to
//! the page's check address, which calls the same API handler as "Check") and redraws the marks,
//! the list and, for flows, the graph.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Serialize;
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use super::assets;
use crate::error::ApiError;

/// One thing wrong with a definition, at its line and column when it has a place.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Where in the document (`steps[1].uses`), or the field the API named.
    pub path: String,
    pub message: String,
}

/// The problems an API refusal names: each compiler error at its place (`locations`), else the
/// fields it names, else its detail (a conflict, an empty body).
pub fn problems(e: &ApiError) -> Vec<Problem> {
    let located: Vec<Problem> = e
        .problem
        .extra
        .get("locations")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|l| Problem {
                    line: l["line"].as_u64().map(|n| n as usize),
                    column: l["column"].as_u64().map(|n| n as usize),
                    path: l["path"].as_str().unwrap_or_default().to_owned(),
                    message: l["message"].as_str().unwrap_or_default().to_owned(),
                })
                .collect()
        })
        .unwrap_or_default();
    if !located.is_empty() {
        return located;
    }
    if !e.problem.errors.is_empty() {
        return e
            .problem
            .errors
            .iter()
            .map(|f| Problem {
                line: None,
                column: None,
                path: f.field.clone(),
                message: f.message.clone(),
            })
            .collect();
    }
    vec![Problem {
        line: None,
        column: None,
        path: String::new(),
        message: e.problem.detail.clone(),
    }]
}

/// Whether the API's refusal is about the definition (shown in the editor) rather than about
/// the caller or the server (shown as a page of its own).
pub fn about_the_text(e: &ApiError) -> bool {
    matches!(
        e.status(),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT
    )
}

/// The request the API's definition handlers read: the text as the body, its format told by
/// its first character as for any client that sends no content type.
pub fn definition_request(method: Method, text: &str) -> Request {
    Request::builder()
        .method(method)
        .body(Body::from(text.to_owned()))
        .unwrap_or_default()
}

/// Browsers send a text area's lines ended with CRLF; definitions keep plain newlines.
pub fn normalise(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// The `name` a document states, for a new definition stored under the name it gives itself.
/// Anything unreadable gives a placeholder: the check then reports what is wrong with it.
pub fn stated_name(text: &str) -> String {
    iom_flow::source::parse_document(text)
        .ok()
        .and_then(|root| {
            root.get("name")
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        })
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "-".to_owned())
}

/// The stylesheet and script of the editor, for the pages that have one.
pub fn assets() -> Markup {
    html! {
        link rel="stylesheet" href=(assets::EDITOR_CSS_URL);
        script src=(assets::EDITOR_JS_URL) defer {}
    }
}

/// The text with its line numbers and each located problem marked at its line. Read-only for
/// those who may not change it.
pub fn editor(source: &str, problems: &[Problem], editable: bool) -> Markup {
    let lines: Vec<&str> = source.split('\n').collect();
    let numbers: String = (1..=lines.len()).map(|n| format!("{n}\n")).collect();
    html! {
        div.editor data-lines=(lines.len()) {
            div.marks aria-hidden="true" {
                @for p in problems {
                    @if let Some(line) = p.line {
                        @let width = lines.get(line.saturating_sub(1)).map_or(0, |l| l.chars().count());
                        div.mark data-line=(line) style={ "--line:" (line.saturating_sub(1)) ";--width:" (width) } {
                            span.msg { "⚠ " (p.message) }
                        }
                    }
                }
            }
            pre.gutter aria-hidden="true" { (numbers) }
            textarea #source name="source" rows=(lines.len().max(12) + 1) wrap="off" spellcheck="false"
                autocomplete="off" autocapitalize="off" aria-label="Definition" aria-describedby="problems"
                readonly[!editable] { (source) }
        }
    }
}

/// The problems as a list, each with its place; the script replaces it after every check.
pub fn problem_list(problems: &[Problem], checked: bool) -> Markup {
    html! {
        @if problems.is_empty() {
            @if checked { p.ok-note { "No errors." } }
        } @else {
            ul.problems {
                @for p in problems {
                    li data-line=[p.line] {
                        @if let Some(line) = p.line {
                            a href="#source" { "Line " (line) @if let Some(c) = p.column { ", column " (c) } }
                            ": "
                        }
                        @if !p.path.is_empty() { code { (p.path) } " " }
                        (p.message)
                    }
                }
            }
        }
    }
}

/// The answer to the script's check: the problems (to mark at their lines), the list as HTML,
/// the graph of what the text compiles to (flows), and one line saying what it is.
#[derive(Serialize)]
pub struct CheckAnswer {
    pub valid: bool,
    pub problems: Vec<Problem>,
    pub problems_html: String,
    pub graph: Option<String>,
    pub summary: String,
}

impl CheckAnswer {
    pub fn new(problems: Vec<Problem>, graph: Option<Markup>, summary: String) -> Self {
        CheckAnswer {
            valid: problems.is_empty(),
            problems_html: problem_list(&problems, true).into_string(),
            problems,
            graph: graph.map(Markup::into_string),
            summary,
        }
    }
}

impl IntoResponse for CheckAnswer {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// A line diff of two versions' texts, with three lines of context around each change.
pub fn diff(old: &str, new: &str) -> Markup {
    let diff = TextDiff::from_lines(old, new);
    let groups = diff.grouped_ops(3);
    html! {
        @if groups.is_empty() {
            p.muted { "The two versions are the same." }
        } @else {
            table.diff {
                @for (i, group) in groups.iter().enumerate() {
                    @if i > 0 { tr.gap { td {} td {} td { "⋯" } } }
                    @for op in group {
                        @for change in diff.iter_changes(op) {
                            @let (class, sign) = match change.tag() {
                                ChangeTag::Delete => ("del", "-"),
                                ChangeTag::Insert => ("ins", "+"),
                                ChangeTag::Equal => ("eq", " "),
                            };
                            tr class=(class) {
                                td.num { @if let Some(n) = change.old_index() { (n + 1) } }
                                td.num { @if let Some(n) = change.new_index() { (n + 1) } }
                                td { code { (sign) " " (change.value().trim_end_matches('\n')) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A confirmation that needs no script: the button that acts shows only once its summary was
/// opened.
pub fn confirmed(summary: &str, question: &str, button: Markup) -> Markup {
    html! {
        details.confirm {
            summary { (summary) }
            p { (question) }
            (button)
        }
    }
}
