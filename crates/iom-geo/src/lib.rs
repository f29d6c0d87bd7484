//! Where a ship-to is when it has no coordinates: its postal code, else its city, else its
//! country, from place data compiled into iom (no download at run time).
//!
//! The data is GeoNames (CC BY 4.0): postal codes, the places each postal code names, cities of
//! 1,000 inhabitants or more and, from those, a point per country; `data/README.md` says from which
//! packages and how `data/places.bin.gz` was derived. It is read once, on first use (or when a
//! server warms it at start), and every lookup after that is a binary search: microseconds.
//!
//! No I/O: a pure lookup. Which point an order gets, with the centroids an operator loads on top,
//! is decided in one place, `iom_app::fulfillment::locate`.

mod keys;
mod table;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

pub use keys::{city_key, postal_key};
pub use table::{Entry, Point, TableError, encode};

use table::Tables;

const POSTAL: usize = 0;
const CITY: usize = 1;
const COUNTRY: usize = 2;

static DATA: &[u8] = include_bytes!("../data/places.bin.gz");

/// What a point was found from, finest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    PostalCode,
    City,
    Country,
}

/// A point and what it was found from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Located {
    pub level: Level,
    pub point: Point,
}

/// Postal codes, cities and countries with a point each.
pub struct Gazetteer {
    tables: Tables,
    load_time: Duration,
}

static BUILT_IN: LazyLock<Gazetteer> = LazyLock::new(|| {
    // The data is part of the build and a test reads it, so failing here is a broken build.
    Gazetteer::from_gzip(DATA).expect("the place data compiled into iom-geo is readable")
});

/// The data that ships with iom, read on first use.
pub fn built_in() -> &'static Gazetteer {
    &BUILT_IN
}

impl Gazetteer {
    /// Reads tables written by [`encode`].
    pub fn from_gzip(gzipped: &[u8]) -> Result<Self, TableError> {
        let started = Instant::now();
        let tables = Tables::decode(gzipped)?;
        Ok(Self {
            tables,
            load_time: started.elapsed(),
        })
    }

    /// The point of `code` in `country` (ISO 3166-1 alpha-2, upper case).
    pub fn postal_code(&self, country: &str, code: &str) -> Option<Point> {
        self.tables
            .get(POSTAL, country, &postal_key(country, code)?)
    }

    /// The point of the city `name` in `country`; where places share a name, the most populous.
    pub fn city(&self, country: &str, name: &str) -> Option<Point> {
        self.tables.get(CITY, country, &city_key(name)?)
    }

    /// A point for `country`: where its people live, on average.
    pub fn country(&self, country: &str) -> Option<Point> {
        self.tables.get(COUNTRY, country, "")
    }

    /// The finest point known: by postal code, else by city, else by country.
    pub fn locate(
        &self,
        country: &str,
        postal_code: Option<&str>,
        city: Option<&str>,
    ) -> Option<Located> {
        let at = |level, point: Option<Point>| point.map(|point| Located { level, point });
        postal_code
            .and_then(|code| at(Level::PostalCode, self.postal_code(country, code)))
            .or_else(|| city.and_then(|name| at(Level::City, self.city(country, name))))
            .or_else(|| at(Level::Country, self.country(country)))
    }

    /// How many postal codes, cities and countries the data has.
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.tables.len(POSTAL),
            self.tables.len(CITY),
            self.tables.len(COUNTRY),
        )
    }

    /// The memory the tables hold, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.tables.heap_bytes()
    }

    /// How long reading the data took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Every postal code key of the data, with its country: to check that the data's keys are
    /// what [`postal_key`] makes of them.
    pub fn postal_keys(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.tables.entries(POSTAL).map(|(c, k, _)| (c, k))
    }

    /// Every city key of the data, with its country.
    pub fn city_keys(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.tables.entries(CITY).map(|(c, k, _)| (c, k))
    }
}
