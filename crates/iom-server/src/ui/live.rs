//! `/ui/events`: the business event log (the events `GET /api/v1/events` lists, in commit order)
//! as server-sent events, for a signed-in session. The page script (`ui.js`) listens and
//! re-fetches the part of the page an event concerns; without scripts nothing listens and the
//! pages are as current as their last load.
//!
//! Each event's SSE id is its `seq`, so a browser that reconnects (`Last-Event-ID`) misses
//! nothing; a page opens its stream `?after=` the event it was read at, so nothing committed
//! while it loaded is missed either. The log is read every half second when idle; the session is checked again every
//! half minute and the stream ends once it is no longer valid (signed out, user disabled).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;

use super::UiResult;
use super::session::Session;
use crate::AppState;
use crate::auth::Access;
use crate::routes::events::view;

/// How long the stream waits before reading the log again when nothing was new.
const IDLE: Duration = Duration::from_millis(500);
/// How often the session behind a stream is checked.
const RECHECK: Duration = Duration::from_secs(30);
/// Events read per round.
const BATCH: usize = 200;

struct Position {
    state: AppState,
    session_id: String,
    after: i64,
    checked: Instant,
}

#[derive(Deserialize)]
pub struct LiveParams {
    /// The `seq` the page was read at (its `data-after`); a reconnect's `Last-Event-ID` wins.
    pub after: Option<i64>,
}

pub async fn events(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(params): Query<LiveParams>,
) -> UiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    session.principal.require(Access::Read)?;
    let resumed = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok())
        .or(params.after)
        .filter(|seq| *seq >= 0);
    let after = match resumed {
        Some(seq) => seq,
        None => state.store.last_event_seq().await?,
    };
    let start = Position {
        state,
        session_id: session.session_id,
        after,
        checked: Instant::now(),
    };
    let batches = stream::unfold(Some(start), |position| async move {
        let mut p = position?;
        loop {
            if p.checked.elapsed() >= RECHECK {
                let valid = p
                    .state
                    .sessions
                    .authenticate(&p.state.people, &p.session_id)
                    .await
                    .is_ok();
                if !valid {
                    return None;
                }
                p.checked = Instant::now();
            }
            match p.state.store.events_after(p.after, None, BATCH).await {
                Ok(found) if !found.is_empty() => {
                    p.after = found.last().map_or(p.after, |e| e.seq);
                    let events: Vec<Result<Event, Infallible>> = found
                        .into_iter()
                        .map(|e| {
                            let seq = e.seq;
                            let data = serde_json::to_string(&view(e)).unwrap_or_default();
                            Ok(Event::default().id(seq.to_string()).data(data))
                        })
                        .collect();
                    return Some((stream::iter(events), Some(p)));
                }
                Ok(_) => tokio::time::sleep(IDLE).await,
                Err(e) => {
                    tracing::warn!(error = %e, "reading events for a live page");
                    tokio::time::sleep(IDLE * 4).await;
                }
            }
        }
    });
    Ok(Sse::new(batches.flatten()).keep_alive(KeepAlive::default()))
}
