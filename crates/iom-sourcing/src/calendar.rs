//! When a node ships: its order cut-off, processing time and working calendar.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A node's working calendar. Times are the node's local time, given as a fixed offset from UTC so
/// that the engine needs no time-zone database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Calendar {
    /// Orders planned after this local time start processing on the next working day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "14:00:00")]
    pub cutoff: Option<NaiveTime>,
    #[serde(default)]
    pub utc_offset_minutes: i32,
    /// Working days between the start of processing and the ship date (0: ships the same day).
    #[serde(default)]
    pub processing_days: u32,
    #[serde(default = "weekdays")]
    #[schema(value_type = Vec<String>, example = json!(["Mon", "Tue", "Wed", "Thu", "Fri"]))]
    pub working_days: Vec<Weekday>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

fn weekdays() -> Vec<Weekday> {
    vec![
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ]
}

impl Default for Calendar {
    fn default() -> Self {
        Self {
            cutoff: None,
            utc_offset_minutes: 0,
            processing_days: 0,
            working_days: weekdays(),
            holidays: Vec::new(),
        }
    }
}

/// A calendar with no working day would never ship; searching stops after this many days.
const HORIZON_DAYS: u32 = 400;

impl Calendar {
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        (self.working_days.is_empty() || self.working_days.contains(&day.weekday()))
            && !self.holidays.contains(&day)
    }

    /// The estimated ship date of an order planned at `now`. `delay_days` adds working days, used
    /// when a node is already at its daily capacity and the work spills into the next day.
    pub fn ship_date(&self, now: DateTime<Utc>, delay_days: u32) -> NaiveDate {
        let local = now.naive_utc() + Duration::minutes(i64::from(self.utc_offset_minutes));
        let mut day = local.date();
        if self.cutoff.is_some_and(|cutoff| local.time() >= cutoff) {
            day = day.succ_opt().unwrap_or(day);
        }
        day = self.next_working_day(day);
        for _ in 0..self.processing_days + delay_days {
            day = self.next_working_day(day.succ_opt().unwrap_or(day));
        }
        day
    }

    fn next_working_day(&self, from: NaiveDate) -> NaiveDate {
        let mut day = from;
        for _ in 0..HORIZON_DAYS {
            if self.is_working_day(day) {
                return day;
            }
            day = day.succ_opt().unwrap_or(day);
        }
        from
    }
}

/// When a shipment that leaves on `ship_date` is promised to arrive: the end of the day (UTC)
/// `transit_days` calendar days later, carriers delivering on any day.
pub fn promised_delivery(ship_date: NaiveDate, transit_days: u32) -> DateTime<Utc> {
    let day = ship_date + Duration::days(i64::from(transit_days));
    day.and_hms_opt(23, 59, 59).expect("a valid time").and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn before_cutoff_ships_today_after_cutoff_next_working_day() {
        let cal = Calendar {
            cutoff: Some(NaiveTime::from_hms_opt(14, 0, 0).unwrap()),
            ..Calendar::default()
        };
        // 2026-11-26 is a Thursday.
        assert_eq!(
            cal.ship_date(at("2026-11-26T13:59:00Z"), 0),
            date("2026-11-26")
        );
        assert_eq!(
            cal.ship_date(at("2026-11-26T14:00:00Z"), 0),
            date("2026-11-27")
        );
        // Friday after cut-off: Monday.
        assert_eq!(
            cal.ship_date(at("2026-11-27T15:00:00Z"), 0),
            date("2026-11-30")
        );
    }

    #[test]
    fn holidays_processing_days_and_offset_are_respected() {
        let cal = Calendar {
            cutoff: Some(NaiveTime::from_hms_opt(12, 0, 0).unwrap()),
            utc_offset_minutes: -300,
            processing_days: 1,
            holidays: vec![date("2026-11-26")],
            ..Calendar::default()
        };
        // 16:00 UTC is 11:00 local (before cut-off) on Wednesday; one processing day, Thursday is a
        // holiday: Friday.
        assert_eq!(
            cal.ship_date(at("2026-11-25T16:00:00Z"), 0),
            date("2026-11-27")
        );
        // Capacity spill-over adds a working day: Monday.
        assert_eq!(
            cal.ship_date(at("2026-11-25T16:00:00Z"), 1),
            date("2026-11-30")
        );
    }

    #[test]
    fn a_calendar_without_working_days_ships_every_day() {
        let cal = Calendar {
            working_days: vec![],
            ..Calendar::default()
        };
        assert_eq!(
            cal.ship_date(at("2026-11-28T10:00:00Z"), 0),
            date("2026-11-28")
        );
    }
}
