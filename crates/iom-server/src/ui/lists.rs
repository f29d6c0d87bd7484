//! What every list page shares: its count, column headers that sort, saved filters and the CSV
//! export at the list's own address (`?format=csv`).

use axum::Form;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use iom_store::keyset::{After, COUNT_CAP, Column, Sort};
use iom_store::saved_filters::SavedFilter;
use maud::{Markup, html};
use serde::Deserialize;

use super::session::{Flash, Session};
use super::{UiResult, format};
use crate::AppState;
use crate::error::ApiError;
use iom_domain::FieldError;

/// The lists whose filters can be saved: (name, path).
const LISTS: &[(&str, &str)] = &[
    ("orders", "/ui/orders"),
    ("tasks", "/ui/tasks"),
    ("returns", "/ui/returns"),
    ("alerts", "/ui/alerts"),
    ("notifications", "/ui/notifications"),
    ("inventory", "/ui/inventory"),
];

/// "1,234 orders" above a list.
pub fn count(total: i64, noun: &str) -> Markup {
    html! { p.count data-count=(total) { (group(total)) " " (noun) } }
}

/// A count that stopped at [`COUNT_CAP`]: "10,000+ messages" past it, where counting every row
/// would cost more than the page.
pub fn count_capped(total: i64, singular: &str, plural: &str) -> Markup {
    let noun = if total == 1 { singular } else { plural };
    if total > COUNT_CAP {
        html! { p.count data-count=(COUNT_CAP) data-capped="true" { (group(COUNT_CAP)) "+ " (noun) } }
    } else {
        count(total, noun)
    }
}

/// A list's `sort` parameter: its usual sort when empty, else a column of the list with `-`
/// first for descending.
pub fn parse_sort<C: Column>(text: &str) -> Result<Sort<C>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Sort::default());
    }
    Sort::parse(text).ok_or_else(|| {
        let names: Vec<&str> = C::ALL.iter().map(|c| c.as_str()).collect();
        ApiError::invalid_field(
            "sort",
            format!(
                "must be one of {}, with - first for descending",
                names.join(", ")
            ),
        )
    })
}

/// A list's `cursor` parameter for `sort`: none when empty.
pub fn parse_cursor<C: Column>(sort: Sort<C>, text: &str) -> Result<Option<After>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    After::parse(sort, text)
        .map(Some)
        .ok_or_else(|| ApiError::invalid_field("cursor", "is not a cursor of this list"))
}

/// A list's `sort` and `cursor` read together, each bad one added to `errors`, so that a page
/// names every bad parameter at once.
pub fn sort_and_cursor<C: Column>(
    sort: &str,
    cursor: &str,
    errors: &mut Vec<FieldError>,
) -> (Sort<C>, Option<After>) {
    let sort = parse_sort(sort).unwrap_or_else(|e| {
        errors.extend(e.problem.errors.iter().cloned());
        Sort::default()
    });
    let after = parse_cursor(sort, cursor.trim()).unwrap_or_else(|e| {
        errors.extend(e.problem.errors.iter().cloned());
        None
    });
    (sort, after)
}

/// A filter that must be one of `allowed`; none when empty, a bad one added to `errors`.
pub fn one_of(
    field: &str,
    value: &str,
    allowed: &[&str],
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match value.trim() {
        "" => None,
        v if allowed.contains(&v) => Some(v.to_owned()),
        v => {
            errors.push(FieldError::new(
                field,
                format!("{v:?} is not one of {}", allowed.join(", ")),
            ));
            None
        }
    }
}

/// The page links under a list: back to the first page (when not on it) and on to the next.
pub fn pager(path: &str, pairs: &[(&str, &str)], paged: bool, next: Option<&str>) -> Markup {
    let mut next_pairs = pairs.to_vec();
    if let Some(next) = next {
        next_pairs.push(("cursor", next));
    }
    html! {
        nav.pager aria-label="Pages" {
            @if paged { a href={ (path) (format::query(pairs)) } { "« First page" } }
            @if next.is_some() { a rel="next" href={ (path) (format::query(&next_pairs)) } { "Next page »" } }
        }
    }
}

/// The list as CSV, every row of it, read a page at a time and sent as each page is read, so
/// no export is held in memory whole. `read` is given where the previous page ended (nothing
/// for the first) and returns up to `page_size` rows; `write` writes a row and `after` says
/// where it ends.
pub fn export<T, A, R, Fut, W, N>(
    filename: &str,
    header: &'static [&'static str],
    page_size: usize,
    read: R,
    write: W,
    after: N,
) -> Response
where
    T: Send + 'static,
    A: Send + 'static,
    R: Fn(Option<A>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<T>, ApiError>> + Send + 'static,
    W: Fn(&mut CsvPage, &T) + Send + Sync + 'static,
    N: Fn(&T) -> A + Send + Sync + 'static,
{
    let parts = Arc::new((read, write, after));
    let name = Arc::<str>::from(filename);
    let pages = futures_util::stream::unfold(Some(None), move |next: Option<Option<A>>| {
        let (parts, name) = (parts.clone(), name.clone());
        async move {
            let position = next?;
            let first = position.is_none();
            let (read, write, after) = &*parts;
            let rows = match read(position).await {
                Ok(rows) => rows,
                Err(e) => {
                    // The status line has gone; cutting the body short tells the client.
                    tracing::error!(error = %e.problem.detail, export = %name, "export failed");
                    let detail = e.problem.detail.clone();
                    return Some((Err(std::io::Error::other(detail)), None));
                }
            };
            let mut page = CsvPage::default();
            if first {
                page.record(header.iter().copied());
            }
            for row in &rows {
                write(&mut page, row);
            }
            let next = match rows.last() {
                Some(last) if rows.len() >= page_size => Some(Some(after(last))),
                _ => None,
            };
            Some((Ok(Bytes::from(page.into_bytes())), next))
        }
    });
    csv(filename, Body::from_stream(pages))
}

fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A column header that sorts the list by `column`: ascending first, then descending; the
/// list's filters are kept, its cursor dropped (a new sort starts at the first page).
pub fn sort_header(
    path: &str,
    filters: &[(&str, &str)],
    current: &str,
    column: &str,
    label: &str,
    numeric: bool,
) -> Markup {
    let descending = format!("-{column}");
    let (next, state, arrow) = if current == column {
        (descending.as_str(), "ascending", " ▲")
    } else if current == descending {
        (column, "descending", " ▼")
    } else {
        (column, "none", "")
    };
    let mut pairs = filters.to_vec();
    pairs.push(("sort", next));
    html! {
        th.num[numeric] aria-sort=(state) {
            a.sort href={ (path) (format::query(&pairs)) } { (label) (arrow) }
        }
    }
}

/// The saved filters of `list` as links, and a form that saves the current one under a name.
pub fn saved_filters(
    session: &Session,
    list: &str,
    path: &str,
    current_query: &str,
    saved: &[SavedFilter],
) -> Markup {
    html! {
        div.saved-filters {
            @if !saved.is_empty() {
                span.muted { "Saved filters: " }
                @for f in saved {
                    a.saved-filter href={ (path) @if !f.query.is_empty() { "?" (f.query) } } { (f.name) }
                    form.inline method="post" action="/ui/saved-filters/delete" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="list" value=(list);
                        input type="hidden" name="name" value=(f.name);
                        button.link type="submit" aria-label={ "Forget the filter " (f.name) } { "×" }
                    }
                    " "
                }
            }
            form.inline method="post" action="/ui/saved-filters" {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="list" value=(list);
                input type="hidden" name="query" value=(current_query);
                input type="text" name="name" required maxlength="64" placeholder="Name" aria-label="Name of this filter";
                button.secondary type="submit" { "Save this filter" }
            }
        }
    }
}

/// The saved filters of `list` for the signed-in user.
pub async fn load_saved(
    state: &AppState,
    session: &Session,
    list: &str,
) -> UiResult<Vec<SavedFilter>> {
    Ok(state
        .store
        .saved_filters(session.principal.name.clone(), list.to_owned())
        .await?)
}

#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub list: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub query: String,
}

fn list_path(list: &str) -> Result<&'static str, ApiError> {
    LISTS
        .iter()
        .find(|(name, _)| *name == list)
        .map(|(_, path)| *path)
        .ok_or_else(|| ApiError::invalid_field("list", "is not a list whose filters can be saved"))
}

pub async fn save(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<SaveForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let path = list_path(&form.list)?;
    let query = form.query.trim().trim_start_matches('?');
    // Only the filter is kept: where a page began is no part of it.
    let query: Vec<(String, String)> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| k != "cursor" && k != "format" && !v.is_empty())
        .collect();
    let query = serde_urlencoded::to_string(&query).unwrap_or_default();
    let back = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Ok(session.redirect(
            &back,
            Flash {
                ok: false,
                text: "The filter needs a name (name: 1 to 64 characters).".into(),
            },
        ));
    }
    state
        .store
        .save_filter(
            session.principal.name.clone(),
            form.list.clone(),
            SavedFilter {
                name: name.to_owned(),
                query,
            },
        )
        .await?;
    Ok(session.redirect(
        &back,
        Flash {
            ok: true,
            text: format!("Filter saved as \u{201c}{name}\u{201d}."),
        },
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<SaveForm>,
) -> UiResult<Response> {
    session.verify(&form.csrf)?;
    let path = list_path(&form.list)?;
    let removed = state
        .store
        .delete_filter(
            session.principal.name.clone(),
            form.list.clone(),
            form.name.clone(),
        )
        .await?;
    let text = if removed {
        format!("Filter \u{201c}{}\u{201d} forgotten.", form.name)
    } else {
        format!("There was no filter \u{201c}{}\u{201d}.", form.name)
    };
    Ok(session.redirect(path, Flash { ok: removed, text }))
}

/// A CSV download whose body is streamed as it is read.
pub fn csv(filename: &str, body: Body) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// Rows written as CSV (RFC 4180 quoting, CRLF) into a buffer that is handed on page by page.
pub struct CsvPage {
    writer: ::csv::Writer<Vec<u8>>,
}

impl Default for CsvPage {
    fn default() -> Self {
        CsvPage {
            writer: ::csv::WriterBuilder::new()
                .terminator(::csv::Terminator::CRLF)
                .from_writer(Vec::new()),
        }
    }
}

impl CsvPage {
    /// One record; a field a spreadsheet would take for a formula (`=`, `+`, `@`, or `-` not
    /// starting a number) is prefixed with `'` so it stays text.
    pub fn record<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) {
        let fields: Vec<std::borrow::Cow<'a, str>> = fields
            .into_iter()
            .map(|f| {
                if f.starts_with(['=', '+', '-', '@']) && f.parse::<f64>().is_err() {
                    format!("'{f}").into()
                } else {
                    f.into()
                }
            })
            .collect();
        // Writing into a Vec cannot fail.
        let _ = self.writer.write_record(fields.iter().map(|f| f.as_ref()));
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.writer.into_inner().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_quote_what_needs_it() {
        let mut page = super::CsvPage::default();
        page.record(["a", "b,c", "say \"hi\"", "-1.5", "=SUM(A1)"]);
        assert_eq!(
            String::from_utf8(page.into_bytes()).unwrap(),
            "a,\"b,c\",\"say \"\"hi\"\"\",-1.5,'=SUM(A1)\r\n"
        );
    }

    #[test]
    fn a_capped_count_says_there_are_more() {
        let shown = super::count_capped(10_001, "message", "messages").into_string();
        assert!(shown.contains(">10,000+ messages<"), "{shown}");
        assert!(shown.contains("data-count=\"10000\""), "{shown}");
        let exact = super::count_capped(10_000, "message", "messages").into_string();
        assert!(exact.contains(">10,000 messages<"), "{exact}");
        let one = super::count_capped(1, "message", "messages").into_string();
        assert!(one.contains(">1 message<"), "{one}");
    }

    /// An export reads page after page from where the last ended, writes the header once, and
    /// stops at the first short page.
    #[tokio::test]
    async fn an_export_streams_every_page_from_where_the_last_ended() {
        let reads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reads.clone();
        let response = super::export(
            "numbers.csv",
            &["n"],
            3,
            move |after: Option<u32>| {
                seen.lock().unwrap().push(after);
                let start = after.map_or(0, |a| a + 1);
                async move { Ok((start..(start + 3).min(7)).collect::<Vec<u32>>()) }
            },
            |page: &mut super::CsvPage, n: &u32| page.record([n.to_string().as_str()]),
            |n: &u32| *n,
        );
        assert_eq!(
            response.headers()["content-disposition"],
            "attachment; filename=\"numbers.csv\""
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], b"n\r\n0\r\n1\r\n2\r\n3\r\n4\r\n5\r\n6\r\n");
        assert_eq!(*reads.lock().unwrap(), vec![None, Some(2), Some(5)]);
    }

    #[test]
    fn counts_are_grouped() {
        assert_eq!(super::group(100_000), "100,000");
        assert_eq!(super::group(12), "12");
    }
}
