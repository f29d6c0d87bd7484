//! The insights worker: every few seconds it looks for anomalies in the latest complete bucket of
//! each watched series and evaluates the alerts. Anomalies and firings are stored once each (a
//! unique key), with their business events in the same transaction, so several processes on one
//! database announce each only once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use iom_insights::anomaly::{Anomaly, Detector};
use iom_insights::series::{self, Interval, Metric};
use iom_store::{Store, StoreError};

/// The series watched for anomalies: order volume per channel, cycle time per node, failure
/// rate per provider.
pub const WATCHED: [Metric; 3] = [
    Metric::Orders,
    Metric::CycleTimeHours,
    Metric::ProviderFailureRate,
];

/// Buckets of history fitted before the latest one is judged.
pub const HISTORY: i32 = 48;

/// Judges the latest complete `interval` bucket (the one before `now`'s) of every watched series
/// against the [`HISTORY`] buckets before it.
pub async fn scan(
    store: &Store,
    interval: Interval,
    now: DateTime<Utc>,
) -> Result<Vec<Anomaly>, StoreError> {
    let to = interval.floor(now);
    let from = to - interval.duration() * HISTORY;
    let starts = series::bucket_starts(interval, from, to)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let detector = Detector::default();
    let mut found = Vec::new();
    for metric in WATCHED {
        let buckets = store.insight_buckets(metric, interval, from, to).await?;
        let all = series::build(metric, &starts, &buckets);
        // Judging is CPU work (model fits); keep it off the async threads.
        let detector = detector.clone();
        let judged = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for s in all {
                let values: Vec<f64> = s
                    .points
                    .iter()
                    .map(|p| p.value.try_into().unwrap_or(f64::NAN))
                    .collect();
                for f in detector.detect(&values) {
                    out.push(Anomaly {
                        metric: metric.as_str().to_owned(),
                        subject: s.group.clone(),
                        at: s.points[f.index].at,
                        value: f.value,
                        expected: (f.expected * 10_000.0).round() / 10_000.0,
                        lower: (f.lower * 10_000.0).round() / 10_000.0,
                        upper: (f.upper * 10_000.0).round() / 10_000.0,
                        score: f.score,
                    });
                }
            }
            out
        })
        .await
        .map_err(|e| StoreError::Commit(e.to_string()))?;
        found.extend(judged);
    }
    Ok(found)
}

/// Runs forever: anomalies, then alerts, every `every`.
pub async fn run(store: Store, interval: Interval, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match scan(&store, interval, Utc::now()).await {
            Ok(found) if found.is_empty() => {}
            Ok(found) => match store.record_anomalies(found).await {
                Ok(new) if new.is_empty() => {}
                Ok(new) => tracing::info!(anomalies = new.len(), "anomalies found"),
                Err(e) => tracing::warn!(error = %e, "cannot record anomalies"),
            },
            Err(e) => tracing::warn!(error = %e, "anomaly scan failed"),
        }
        match store.evaluate_alerts().await {
            Ok(fired) if fired.is_empty() => {}
            Ok(fired) => tracing::info!(firings = fired.len(), "alerts fired"),
            Err(e) => tracing::warn!(error = %e, "alert evaluation failed"),
        }
    }
}

/// Acknowledges one firing of `alert` in the name of the actor acting (the edge's
/// `iom_store::acting` scope): recorded with who and when, announced by `alert.acknowledged`.
/// A firing acknowledged before keeps its first acknowledgement.
pub async fn acknowledge(
    store: &Store,
    alert: &str,
    firing_id: &str,
) -> Result<iom_store::insights::Acknowledgement, StoreError> {
    store
        .acknowledge_firing(alert.to_owned(), firing_id.to_owned())
        .await
}
