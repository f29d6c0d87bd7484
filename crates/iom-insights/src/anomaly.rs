//! Anomaly detection: is the latest value of a series where its own history says it should be?
//!
//! For each of the most recent points, an exponential smoothing model (`augurs-ets`, AutoETS: the
//! error, trend and damping are chosen by AICc) is fitted to the points before it and forecasts
//! it one step ahead with a prediction interval. A point outside the interval, and far enough from
//! the forecast to matter (see [`Detector`]), is an anomaly; its score is the distance from the
//! forecast in standard deviations of the forecast error. Fitting on the past only keeps a spike
//! from widening the interval it is judged by.

use augurs_core::{Fit, Predict};
use augurs_ets::AutoETS;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// One unusual value.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Anomaly {
    /// `orders`, `cycle_time_hours`, `provider_failure_rate`, …
    pub metric: String,
    /// What the series is about: a channel, a node, a provider.
    pub subject: String,
    /// The start of the bucket the value belongs to.
    pub at: DateTime<Utc>,
    pub value: f64,
    /// The one-step-ahead forecast from the history before `at`.
    pub expected: f64,
    /// The prediction interval at the detector's level.
    pub lower: f64,
    pub upper: f64,
    /// |value − expected| in standard deviations of the forecast error.
    pub score: f64,
}

/// A finding at an index of the series handed in.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub index: usize,
    pub value: f64,
    pub expected: f64,
    pub lower: f64,
    pub upper: f64,
    pub score: f64,
}

#[derive(Debug, Clone)]
pub struct Detector {
    /// Confidence level of the prediction interval (0.99: one ordinary point in a hundred would
    /// fall outside by chance, hence the floors below).
    pub level: f64,
    /// Points of history needed before a point is judged.
    pub min_history: usize,
    /// How many of the latest points are judged.
    pub recent: usize,
    /// A point must also differ from the forecast by at least this fraction of it…
    pub min_relative: f64,
    /// …and by at least this much in absolute terms (e.g. two orders an hour on a quiet channel
    /// are not an anomaly).
    pub min_absolute: f64,
}

impl Default for Detector {
    fn default() -> Self {
        Detector {
            level: 0.99,
            min_history: 8,
            recent: 1,
            min_relative: 0.25,
            min_absolute: 3.0,
        }
    }
}

/// z for a two-sided interval at `level`, for the usual levels (the interval from augurs is
/// symmetric around the forecast, so its half-width is z·σ).
fn z_of(level: f64) -> f64 {
    if level >= 0.995 {
        2.807
    } else if level >= 0.99 {
        2.576
    } else if level >= 0.95 {
        1.960
    } else if level >= 0.9 {
        1.645
    } else {
        1.282
    }
}

impl Detector {
    /// Judges the last [`Detector::recent`] points of `values`, each against the history before it.
    pub fn detect(&self, values: &[f64]) -> Vec<Finding> {
        let first = values
            .len()
            .saturating_sub(self.recent)
            .max(self.min_history);
        (first..values.len())
            .filter_map(|i| {
                self.judge(&values[..i], values[i])
                    .map(|f| Finding { index: i, ..f })
            })
            .collect()
    }

    fn judge(&self, history: &[f64], value: f64) -> Option<Finding> {
        if history.len() < self.min_history || !value.is_finite() {
            return None;
        }
        let (expected, lower, upper) = self.forecast(history);
        let deviation = (value - expected).abs();
        let floor = self.min_absolute.max(self.min_relative * expected.abs());
        if (lower..=upper).contains(&value) || deviation < floor {
            return None;
        }
        let sigma = (upper - lower) / 2.0 / z_of(self.level);
        let score = if sigma > f64::EPSILON {
            deviation / sigma
        } else {
            // A perfectly flat history: any departure past the floors is as unusual as it gets;
            // the score is then the departure in units of the floor.
            deviation / floor
        };
        Some(Finding {
            index: 0,
            value,
            expected,
            lower,
            upper,
            score: (score * 100.0).round() / 100.0,
        })
    }

    /// The one-step forecast and interval; a flat history (which ETS cannot fit: it has no error
    /// to estimate) forecasts itself with an empty interval.
    fn forecast(&self, history: &[f64]) -> (f64, f64, f64) {
        let fitted = AutoETS::non_seasonal().fit(history).ok();
        let forecast = fitted.and_then(|m| m.predict(1, self.level).ok());
        if let Some(f) = forecast
            && let (Some(point), Some(intervals)) = (f.point.first(), f.intervals.as_ref())
            && let (Some(lower), Some(upper)) = (intervals.lower.first(), intervals.upper.first())
            && point.is_finite()
            && lower.is_finite()
            && upper.is_finite()
        {
            return (*point, *lower, *upper);
        }
        let mean = history.iter().sum::<f64>() / history.len() as f64;
        (mean, mean, mean)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady series with a small, deterministic wobble.
    fn steady(n: usize, level: f64) -> Vec<f64> {
        (0..n)
            .map(|i| level + [0.0, 2.0, -1.0, 1.0, -2.0][i % 5])
            .collect()
    }

    #[test]
    fn a_spike_is_found_with_its_expected_range() {
        let mut series = steady(24, 40.0);
        series.push(160.0);
        let found = Detector::default().detect(&series);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.index, 24);
        assert!((35.0..45.0).contains(&f.expected), "{f:?}");
        assert!(
            f.lower < f.expected && f.expected < f.upper && f.upper < 160.0,
            "{f:?}"
        );
        assert!(f.score > 3.0, "{f:?}");
    }

    #[test]
    fn a_steady_series_has_none() {
        let series = steady(25, 40.0);
        let detector = Detector {
            recent: 17,
            ..Detector::default()
        };
        assert!(detector.detect(&series).is_empty());
    }

    #[test]
    fn a_flat_series_has_none_and_a_jump_from_it_is_found() {
        let mut series = vec![10.0; 20];
        assert!(
            Detector {
                recent: 12,
                ..Detector::default()
            }
            .detect(&series)
            .is_empty()
        );
        series.push(30.0);
        let found = Detector::default().detect(&series);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!((found[0].expected - 10.0).abs() < 1e-6, "{found:?}");
    }

    #[test]
    fn a_drop_is_found_too() {
        let mut series = steady(24, 100.0);
        series.push(5.0);
        assert_eq!(Detector::default().detect(&series).len(), 1);
    }

    #[test]
    fn too_little_history_judges_nothing() {
        assert!(Detector::default().detect(&[1.0, 100.0]).is_empty());
    }
}
