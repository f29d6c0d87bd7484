//! `/api/v1/insights`: KPIs, chart series and anomalies. The figures come from fact rows the store
//! writes with every order (so they are current as of the request), summed with SQL and turned
//! into KPIs by `iom-insights`.

use axum::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Duration, Utc};
use iom_insights::InsightsError;
use iom_insights::anomaly::Anomaly;
use iom_insights::kpi::KpiReport;
use iom_insights::series::{self, Interval, Metric, Series};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Access, Principal};
use crate::error::{ApiError, ApiResult, Problem};

/// The window a KPI request without `from` covers: the last 30 days.
pub const DEFAULT_WINDOW: Duration = Duration::days(30);

pub fn insights_error(e: InsightsError) -> ApiError {
    match e {
        InsightsError::Invalid(errors) => ApiError::invalid(errors),
    }
}

fn time(field: &str, value: Option<&str>) -> ApiResult<Option<DateTime<Utc>>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::invalid_field(
                        field,
                        "must be an RFC 3339 time, e.g. 2026-11-26T00:00:00Z",
                    )
                })
        })
        .transpose()
}

#[derive(Deserialize, IntoParams)]
pub struct KpiQuery {
    /// Start of the window (inclusive), RFC 3339; 30 days before `to` when absent.
    pub from: Option<String>,
    /// End of the window (exclusive), RFC 3339; now when absent.
    pub to: Option<String>,
}

/// KPIs of the orders placed in `[from, to)`, overall and per channel, node and region.
///
/// Order figures are about the orders placed in the window, wherever they are now; shipment,
/// cost and provider figures about what happened in the window; `past_due` and `in_jeopardy`
/// about every open order now. Each field's formula is in its description. Money is a decimal
/// string in `currency`; rates are fractions (0.25 = 25 %), null when nothing to divide by.
#[utoipa::path(get, path = "/api/v1/insights/kpis", tag = "insights", params(KpiQuery),
    responses((status = 200, body = KpiReport),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn kpis(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<KpiQuery>,
) -> ApiResult<Json<KpiReport>> {
    principal.require(Access::Read)?;
    let now = Utc::now();
    let to = time("to", query.to.as_deref())?.unwrap_or(now);
    let from = time("from", query.from.as_deref())?.unwrap_or(to - DEFAULT_WINDOW);
    if to <= from {
        return Err(ApiError::invalid_field("to", "must be after from"));
    }
    Ok(Json(kpi_report(&state, from, to, now).await?))
}

/// The KPI report of the orders placed in `[from, to)` as of `now`: what `kpis` answers and the
/// dashboard shows.
pub async fn kpi_report(
    state: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<KpiReport, iom_store::StoreError> {
    let inputs = state.store.kpi_inputs(from, to, now).await?;
    Ok(KpiReport::compute(&inputs))
}

#[derive(Deserialize, IntoParams)]
pub struct SeriesQuery {
    /// `orders`, `revenue`, `units`, `shipments`, `cycle_time_hours`, `provider_requests` or
    /// `provider_failure_rate`.
    pub metric: Option<String>,
    /// `minute`, `hour` (default) or `day`.
    pub interval: Option<String>,
    /// RFC 3339; 48 intervals before `to` when absent.
    pub from: Option<String>,
    /// RFC 3339; now when absent.
    pub to: Option<String>,
    /// Only the series of this channel, currency, node or provider.
    pub group: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SeriesResponse {
    pub metric: Metric,
    pub interval: Interval,
    /// What each series is split by: `channel`, `currency`, `node` or `provider`.
    pub group_by: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// One series per group with data in the window; every bucket of the window is a point
    /// (zero when nothing happened), except for means and ratios, which skip empty buckets.
    pub series: Vec<Series>,
}

/// A metric over time, per channel, node or provider, for charts.
#[utoipa::path(get, path = "/api/v1/insights/series", tag = "insights", params(SeriesQuery),
    responses((status = 200, body = SeriesResponse),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn series(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<SeriesQuery>,
) -> ApiResult<Json<SeriesResponse>> {
    principal.require(Access::Read)?;
    let metric = match query.metric.as_deref() {
        None | Some("") => return Err(ApiError::invalid_field("metric", "is required")),
        Some(m) => Metric::parse(m).map_err(insights_error)?,
    };
    let interval =
        Interval::parse(query.interval.as_deref().unwrap_or("hour")).map_err(insights_error)?;
    let to = time("to", query.to.as_deref())?.unwrap_or_else(Utc::now);
    let from = time("from", query.from.as_deref())?.unwrap_or(to - interval.duration() * 48);
    let starts = series::bucket_starts(interval, from, to).map_err(insights_error)?;
    let first = starts.first().copied().unwrap_or(from);
    let mut buckets = state
        .store
        .insight_buckets(metric, interval, first, to)
        .await?;
    if let Some(group) = &query.group {
        buckets.retain(|b| &b.group == group);
    }
    Ok(Json(SeriesResponse {
        metric,
        interval,
        group_by: metric.group_by().to_owned(),
        from: first,
        to,
        series: series::build(metric, &starts, &buckets),
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct AnomalyQuery {
    /// Only anomalies of buckets starting at or after this time (RFC 3339); 7 days ago when
    /// absent.
    pub since: Option<String>,
    /// 1 to 1000; 100 when absent.
    pub limit: Option<String>,
}

/// Anomalies found, newest first: unusual order volume per channel, a node whose cycle time
/// drifts, a provider whose failure rate jumps.
///
/// Each is a bucket whose value falls outside the prediction interval (`lower`..`upper`) that an
/// exponential smoothing model fitted to the buckets before it gives; `expected` is the model's
/// forecast and `score` the distance from it in standard deviations. Each anomaly is also
/// announced once as an `insights.anomaly` business event.
#[utoipa::path(get, path = "/api/v1/insights/anomalies", tag = "insights", params(AnomalyQuery),
    responses((status = 200, body = Vec<Anomaly>),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn anomalies(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<AnomalyQuery>,
) -> ApiResult<Json<Vec<Anomaly>>> {
    principal.require(Access::Read)?;
    let since =
        time("since", query.since.as_deref())?.unwrap_or_else(|| Utc::now() - Duration::days(7));
    let limit = match query.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| ApiError::invalid_field("limit", "must be between 1 and 1000"))?,
    };
    Ok(Json(state.store.anomalies(since, limit).await?))
}
