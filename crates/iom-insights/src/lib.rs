//! Insights: the figures an operations team runs its day by.
//!
//! Nothing here does I/O. The store keeps a narrow projection of every order ([`facts`]) in the
//! same transaction as the order, aggregates it with SQL, and hands the sums over; this crate
//! turns sums into KPIs ([`kpi`]), buckets into chart series ([`series`]), series into anomalies
//! with an expected range ([`anomaly`], on the `augurs` time-series library), and says what an
//! alert condition is ([`alert`]). Every formula is written once, here, in the doc comment of the
//! field it fills.

pub mod alert;
pub mod anomaly;
pub mod error;
pub mod facts;
pub mod kpi;
pub mod money;
pub mod series;

pub use alert::{AlertCondition, AlertDefinition};
pub use anomaly::{Anomaly, Detector};
pub use error::InsightsError;
pub use facts::{LineFacts, NodeCosts, OrderFacts, ShipmentFacts};
pub use kpi::{KpiInputs, KpiReport};
pub use series::{Interval, Metric, Point, Series};
