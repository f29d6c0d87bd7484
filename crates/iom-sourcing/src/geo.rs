//! Distances: great-circle from a node to the ship-to point, and the postal-code centroid table used
//! when the ship-to address carries no coordinates.

use std::collections::HashMap;

use iom_domain::{CountryCode, GeoPoint};

use crate::error::SourcingError;

/// Mean earth radius (IUGG), in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance by the haversine formula, which stays accurate for short distances where the
/// spherical law of cosines loses precision.
pub fn great_circle_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Centroids of postal codes, per country, loaded from CSV (`country,postal_code,lat,lon`).
#[derive(Debug, Clone, Default)]
pub struct PostalCentroids {
    points: HashMap<(String, String), GeoPoint>,
}

impl PostalCentroids {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses CSV text with a header row `country,postal_code,lat,lon` (column order is taken from the
    /// header, extra columns are ignored). Later rows win over earlier ones for the same code.
    pub fn from_csv(text: &str) -> Result<Self, SourcingError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Ok(Self::default());
        };
        let columns: Vec<String> = header
            .split(',')
            .map(|c| c.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
            .collect();
        let find = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .ok_or_else(|| SourcingError::CentroidCsv {
                    line: 1,
                    message: format!("header has no column {name:?}"),
                })
        };
        let (ci, pi, lai, loi) = (
            find("country")?,
            find("postal_code")?,
            find("lat")?,
            find("lon")?,
        );
        let mut table = Self::default();
        for (n, row) in lines {
            let line = n + 1;
            let fields: Vec<&str> = row.split(',').map(str::trim).collect();
            let field = |i: usize| {
                fields
                    .get(i)
                    .copied()
                    .ok_or_else(|| SourcingError::CentroidCsv {
                        line,
                        message: format!("expected at least {} fields", i + 1),
                    })
            };
            let number = |i: usize| -> Result<f64, SourcingError> {
                let raw = field(i)?;
                raw.parse().map_err(|_| SourcingError::CentroidCsv {
                    line,
                    message: format!("{raw:?} is not a number"),
                })
            };
            let country = field(ci)?;
            let country =
                CountryCode::parse(country).ok_or_else(|| SourcingError::CentroidCsv {
                    line,
                    message: format!("{country:?} is not an ISO 3166-1 country code"),
                })?;
            let point = GeoPoint::new(number(lai)?, number(loi)?).ok_or_else(|| {
                SourcingError::CentroidCsv {
                    line,
                    message: "latitude or longitude out of range".into(),
                }
            })?;
            table.insert(country, field(pi)?, point);
        }
        Ok(table)
    }

    /// Every entry: (country, normalised postal code, centroid).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, GeoPoint)> {
        self.points
            .iter()
            .map(|((country, code), point)| (country.as_str(), code.as_str(), *point))
    }

    /// The codes to look up for `postal_code`, most precise first: as given, then without a
    /// suffix after `-` (US ZIP+4).
    pub fn candidates(postal_code: &str) -> Vec<String> {
        let code = normalise(postal_code);
        let base = code.split('-').next().unwrap_or_default().to_owned();
        if base != code && !base.is_empty() {
            vec![code, base]
        } else {
            vec![code]
        }
    }

    pub fn insert(&mut self, country: CountryCode, postal_code: &str, point: GeoPoint) {
        self.points
            .insert((country.as_str().to_owned(), normalise(postal_code)), point);
    }

    /// Looks the code up as given, then without a suffix after `-` (US ZIP+4 `98101-1234` → `98101`).
    pub fn get(&self, country: CountryCode, postal_code: &str) -> Option<GeoPoint> {
        let code = normalise(postal_code);
        let key = |c: &str| (country.as_str().to_owned(), c.to_owned());
        self.points.get(&key(&code)).copied().or_else(|| {
            let base = code.split('-').next()?;
            self.points.get(&key(base)).copied()
        })
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// Postal codes arrive with varying case and spacing (`sw1a 1aa`, `SW1A1AA`).
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_york_to_los_angeles_is_about_3936_km() {
        let nyc = GeoPoint::new(40.7128, -74.0060).unwrap();
        let la = GeoPoint::new(34.0522, -118.2437).unwrap();
        let d = great_circle_km(nyc, la);
        assert!((d - 3935.7).abs() < 2.0, "{d}");
        assert_eq!(great_circle_km(nyc, nyc), 0.0);
    }

    #[test]
    fn centroids_parse_and_look_up_zip_plus_four() {
        let csv =
            "postal_code,country,lat,lon\n98101,US,47.61,-122.33\nsw1a 1aa,GBR,51.501,-0.142\n";
        let table = PostalCentroids::from_csv(csv).unwrap();
        assert_eq!(table.len(), 2);
        let us = CountryCode::parse("US").unwrap();
        assert_eq!(table.get(us, "98101-1234"), GeoPoint::new(47.61, -122.33));
        let gb = CountryCode::parse("GB").unwrap();
        assert_eq!(table.get(gb, "SW1A1AA"), GeoPoint::new(51.501, -0.142));
        assert_eq!(table.get(us, "10001"), None);
    }

    #[test]
    fn centroid_errors_name_the_line() {
        let err = PostalCentroids::from_csv("country,postal_code,lat,lon\nUS,1,x,2\n").unwrap_err();
        assert_eq!(
            err,
            SourcingError::CentroidCsv {
                line: 2,
                message: "\"x\" is not a number".into()
            }
        );
        assert!(PostalCentroids::from_csv("country,zip\n").is_err());
    }
}
