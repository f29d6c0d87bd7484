//! Time series for charts and anomaly detection: a metric summed into fixed buckets, one series per
//! group (a channel, a node, a provider), with empty buckets filled in where that means zero.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::InsightsError;
use crate::money::from_micros;

/// Most buckets one request may ask for.
pub const MAX_BUCKETS: i64 = 5_000;

/// What a series measures. Order metrics bucket orders by the time they were placed; shipment
/// metrics by the time of the shipment; provider metrics by the time a message was logged.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Orders placed, per channel.
    Orders,
    /// Σ order total (not cancelled), per currency.
    Revenue,
    /// Units ordered, per channel.
    Units,
    /// Shipments made, per node.
    Shipments,
    /// Mean hours from order intake to shipment, per node (buckets without shipments are left out).
    CycleTimeHours,
    /// Messages logged, per provider.
    ProviderRequests,
    /// Messages left `failed` or `dead` ÷ messages logged, per provider (buckets without messages
    /// are left out).
    ProviderFailureRate,
}

/// How each bucket's `(sum, count)` becomes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reduce {
    /// The sum is a count; an empty bucket is zero.
    Count,
    /// The sum is money in millionths; an empty bucket is zero.
    Money,
    /// The sum is microseconds over `count` events: a mean in hours; an empty bucket has no value.
    MeanHours,
    /// `sum ÷ count`; an empty bucket has no value.
    Ratio,
}

impl Metric {
    pub const ALL: [Metric; 7] = [
        Metric::Orders,
        Metric::Revenue,
        Metric::Units,
        Metric::Shipments,
        Metric::CycleTimeHours,
        Metric::ProviderRequests,
        Metric::ProviderFailureRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Orders => "orders",
            Metric::Revenue => "revenue",
            Metric::Units => "units",
            Metric::Shipments => "shipments",
            Metric::CycleTimeHours => "cycle_time_hours",
            Metric::ProviderRequests => "provider_requests",
            Metric::ProviderFailureRate => "provider_failure_rate",
        }
    }

    pub fn parse(s: &str) -> Result<Metric, InsightsError> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                InsightsError::field(
                    "metric",
                    format!(
                        "must be one of {}",
                        Metric::ALL.map(Metric::as_str).join(", ")
                    ),
                )
            })
    }

    fn reduce(self) -> Reduce {
        match self {
            Metric::Orders | Metric::Units | Metric::Shipments | Metric::ProviderRequests => {
                Reduce::Count
            }
            Metric::Revenue => Reduce::Money,
            Metric::CycleTimeHours => Reduce::MeanHours,
            Metric::ProviderFailureRate => Reduce::Ratio,
        }
    }

    /// What a series of this metric is split by.
    pub fn group_by(self) -> &'static str {
        match self {
            Metric::Orders | Metric::Units => "channel",
            Metric::Revenue => "currency",
            Metric::Shipments | Metric::CycleTimeHours => "node",
            Metric::ProviderRequests | Metric::ProviderFailureRate => "provider",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Minute,
    Hour,
    Day,
}

impl Interval {
    pub fn parse(s: &str) -> Result<Interval, InsightsError> {
        match s {
            "minute" => Ok(Interval::Minute),
            "hour" => Ok(Interval::Hour),
            "day" => Ok(Interval::Day),
            _ => Err(InsightsError::field(
                "interval",
                "must be one of minute, hour, day",
            )),
        }
    }

    pub fn duration(self) -> Duration {
        match self {
            Interval::Minute => Duration::minutes(1),
            Interval::Hour => Duration::hours(1),
            Interval::Day => Duration::days(1),
        }
    }

    pub fn micros(self) -> i64 {
        self.duration().num_microseconds().expect("fits")
    }

    /// The start of the bucket holding `t` (buckets are aligned to the Unix epoch, so to UTC
    /// midnight for days).
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let m = self.micros();
        let v = t.timestamp_micros();
        Utc.timestamp_micros(v.div_euclid(m) * m)
            .single()
            .unwrap_or(t)
    }
}

/// One bucket as the store sums it: the bucket's start, the group, the sum and the count of
/// what it summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub at: DateTime<Utc>,
    pub group: String,
    pub sum: i64,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Point {
    /// The start of the bucket.
    pub at: DateTime<Utc>,
    /// A decimal string: a count, an amount, hours or a ratio depending on the metric.
    #[schema(value_type = String)]
    pub value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Series {
    pub metric: Metric,
    /// The channel, currency, node or provider (see the metric).
    pub group: String,
    pub points: Vec<Point>,
}

/// The bucket starts covering `[from, to)`, after checking the request is sensible.
pub fn bucket_starts(
    interval: Interval,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, InsightsError> {
    if to <= from {
        return Err(InsightsError::field("to", "must be after from"));
    }
    let first = interval.floor(from);
    let n = (to - first).num_microseconds().unwrap_or(i64::MAX) / interval.micros() + 1;
    if n > MAX_BUCKETS {
        return Err(InsightsError::field(
            "interval",
            format!(
                "{n} buckets between from and to; at most {MAX_BUCKETS}: choose a longer interval or a shorter range"
            ),
        ));
    }
    let mut starts = Vec::new();
    let mut t = first;
    while t < to {
        starts.push(t);
        t += interval.duration();
    }
    Ok(starts)
}

/// Builds one series per group from the store's buckets, in group order.
pub fn build(metric: Metric, starts: &[DateTime<Utc>], buckets: &[Bucket]) -> Vec<Series> {
    let mut groups: BTreeMap<&str, BTreeMap<DateTime<Utc>, (i64, i64)>> = BTreeMap::new();
    for b in buckets {
        let entry = groups.entry(&b.group).or_default().entry(b.at).or_default();
        entry.0 += b.sum;
        entry.1 += b.count;
    }
    groups
        .into_iter()
        .map(|(group, by_time)| Series {
            metric,
            group: group.to_owned(),
            points: starts
                .iter()
                .filter_map(|at| {
                    let (sum, count) = by_time.get(at).copied().unwrap_or((0, 0));
                    let value = match metric.reduce() {
                        Reduce::Count => Some(Decimal::from(sum)),
                        Reduce::Money => Some(from_micros(sum)),
                        Reduce::MeanHours => (count > 0).then(|| {
                            (Decimal::from(sum)
                                / Decimal::from(count)
                                / Decimal::from(3_600_000_000i64))
                            .round_dp(4)
                        }),
                        Reduce::Ratio => (count > 0)
                            .then(|| (Decimal::from(sum) / Decimal::from(count)).round_dp(4)),
                    };
                    value.map(|value| Point { at: *at, value })
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 - 1_700_000_000 % 3600 + h * 3600, 0)
            .unwrap()
    }

    #[test]
    fn gaps_are_zero_for_counts_and_absent_for_means() {
        let starts = bucket_starts(Interval::Hour, t(0), t(3)).unwrap();
        assert_eq!(starts.len(), 3);
        let buckets = vec![Bucket {
            at: t(1),
            group: "web".into(),
            sum: 5,
            count: 5,
        }];
        let orders = build(Metric::Orders, &starts, &buckets);
        let values: Vec<String> = orders[0]
            .points
            .iter()
            .map(|p| p.value.to_string())
            .collect();
        assert_eq!(values, ["0", "5", "0"]);
        let cycle = build(
            Metric::CycleTimeHours,
            &starts,
            &[Bucket {
                at: t(2),
                group: "DC1".into(),
                sum: 7_200_000_000,
                count: 1,
            }],
        );
        assert_eq!(cycle[0].points.len(), 1);
        assert_eq!(cycle[0].points[0].value.to_string(), "2");
    }

    #[test]
    fn too_many_buckets_is_refused() {
        assert!(bucket_starts(Interval::Minute, t(0), t(24 * 10)).is_err());
        assert!(bucket_starts(Interval::Hour, t(3), t(3)).is_err());
    }
}
