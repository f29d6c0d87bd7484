//! The data compiled into iom-geo, checked against places whose whereabouts are known.

use iom_geo::{Level, Point, built_in, city_key, postal_key};

fn km(a: Point, b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.0.to_radians());
    let (dlat, dlon) = (lat2 - lat1, (b.1 - a.lon).to_radians());
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

fn assert_near(what: &str, found: Option<Point>, truth: (f64, f64), within_km: f64) {
    let found = found.unwrap_or_else(|| panic!("{what} is not found"));
    let off = km(found, truth);
    assert!(
        off <= within_km,
        "{what} is at {found:?}, {off:.1} km from {truth:?}"
    );
}

#[test]
fn postal_codes_of_seven_countries_land_at_their_place() {
    let geo = built_in();
    for (country, code, place, truth) in [
        ("US", "98101", "downtown Seattle", (47.6101, -122.3344)),
        (
            "US",
            "98101-1234",
            "downtown Seattle (ZIP+4)",
            (47.6101, -122.3344),
        ),
        (
            "CA",
            "M5V 3L9",
            "the CN Tower, Toronto",
            (43.6426, -79.3871),
        ),
        (
            "GB",
            "sw1a 1aa",
            "Buckingham Palace, London",
            (51.5014, -0.1419),
        ),
        ("DE", "10115", "Berlin-Mitte", (52.5320, 13.3850)),
        ("FR", "75001", "the Louvre, Paris", (48.8606, 2.3376)),
        ("AU", "2000", "Sydney", (-33.8688, 151.2093)),
        ("NL", "1012 AB", "the Dam, Amsterdam", (52.3731, 4.8926)),
    ] {
        assert_near(
            &format!("{country} {code} ({place})"),
            geo.postal_code(country, code),
            truth,
            5.0,
        );
    }
}

#[test]
fn a_postal_code_of_another_country_is_not_taken() {
    let geo = built_in();
    // 10115 is Berlin in Germany and New York in the US.
    assert_near(
        "US 10115",
        geo.postal_code("US", "10115"),
        (40.81, -73.96),
        5.0,
    );
    assert_eq!(geo.postal_code("ZZ", "10115"), None);
    assert_eq!(geo.postal_code("DE", "00000"), None);
}

#[test]
fn cities_are_found_whatever_their_case_and_accents() {
    let geo = built_in();
    for (country, name, truth, within_km) in [
        ("US", "Seattle", (47.6062, -122.3321), 10.0),
        ("DE", "MÜNCHEN", (48.1374, 11.5755), 10.0),
        ("DE", "Munich", (48.1374, 11.5755), 10.0),
        ("DE", "koln", (50.9375, 6.9603), 10.0),
        ("FR", "Saint-Étienne", (45.4397, 4.3872), 10.0),
        ("GB", "london", (51.5074, -0.1278), 10.0),
        // A city 40 km across, in a country without postal codes.
        ("AE", "Dubai", (25.2048, 55.2708), 20.0),
    ] {
        let what = format!("{country} {name}");
        assert_near(&what, geo.city(country, name), truth, within_km);
    }
}

#[test]
fn every_country_with_people_has_a_point_inside_it() {
    let geo = built_in();
    let (_, _, countries) = geo.counts();
    assert!(countries >= 240, "{countries} countries");
    for (country, lat, lon) in [
        ("US", 30.0..45.0, -100.0..-75.0),
        ("DE", 48.0..53.0, 7.0..13.0),
        ("AE", 23.0..26.5, 53.0..57.0),
        ("IS", 63.0..66.5, -24.0..-13.0),
        // Across the antimeridian: a plain mean of longitudes would put Fiji near Africa.
        ("FJ", -19.0..-16.0, 177.0..180.0),
    ] {
        let p = geo.country(country).unwrap_or_else(|| panic!("{country}"));
        assert!(
            lat.contains(&p.lat) && lon.contains(&p.lon),
            "{country} at {p:?}"
        );
    }
}

#[test]
fn locating_falls_back_from_postal_code_to_city_to_country() {
    let geo = built_in();
    let level = |postal, city| geo.locate("DE", postal, city).map(|l| l.level);
    assert_eq!(
        level(Some("10115"), Some("Hamburg")),
        Some(Level::PostalCode)
    );
    assert_eq!(level(Some("00000"), Some("Hamburg")), Some(Level::City));
    assert_eq!(level(None, Some("Hamburg")), Some(Level::City));
    assert_eq!(
        level(Some("00000"), Some("Nowhere Special")),
        Some(Level::Country)
    );
    assert_eq!(level(None, None), Some(Level::Country));
    assert_eq!(geo.locate("ZZ", Some("10115"), Some("Berlin")), None);
    let hamburg = geo.locate("DE", None, Some("Hamburg")).unwrap().point;
    assert_near("Hamburg", Some(hamburg), (53.5511, 9.9937), 10.0);
}

#[test]
fn the_data_keys_are_what_a_lookup_makes_of_them() {
    let geo = built_in();
    for (country, key) in geo.postal_keys() {
        assert_eq!(postal_key(country, key).as_deref(), Some(key), "{country}");
    }
    for (country, key) in geo.city_keys() {
        assert_eq!(city_key(key).as_deref(), Some(key), "{country}");
    }
}

#[test]
fn the_data_stays_small() {
    let geo = built_in();
    let mb = geo.heap_bytes() as f64 / 1e6;
    assert!(mb < 50.0, "{mb:.1} MB");
}
