//! The compiled place table: how it is written and read.
//!
//! After gzip, a magic line and three tables (postal codes, cities, countries). Each table is a
//! `u32` count, its keys sorted by (country, key), each the country's two letters, the key's
//! length as one byte and the key, and then its latitudes and its longitudes in 1e-4 degrees
//! (about 11 m), each as the little-endian `i32` difference from the one before. Neighbouring keys
//! are mostly neighbouring places, so the differences are small and compress several times
//! better than the coordinates themselves.
//!
//! Read, the decompressed bytes stay as they are with an index of where each key starts, and the
//! points are one array per table, so a lookup is a binary search over borrowed bytes.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

const MAGIC: &[u8; 8] = b"IOMGEO2\n";
/// Coordinates are stored in units of 1e-4 degrees: what GeoNames gives for postal codes.
const SCALE: f64 = 10_000.0;
pub(crate) const TABLES: usize = 3;

/// A latitude and longitude in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

/// One record as the derivation writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    /// A key from [`crate::postal_key`] or [`crate::city_key`]; empty in the country table.
    pub key: String,
    pub point: Point,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("place data is not readable: {0}")]
    Io(#[from] std::io::Error),
    #[error("place data is malformed: {0}")]
    Malformed(&'static str),
}

/// Writes `tables` (postal codes, cities, countries) gzip-compressed. Each table is sorted here;
/// a (country, key) given twice is an error, as is a key over 255 bytes.
pub fn encode(mut tables: [Vec<Entry>; TABLES]) -> Result<Vec<u8>, String> {
    let mut raw = MAGIC.to_vec();
    for table in &mut tables {
        table.sort_by(|a, b| (&a.country, &a.key).cmp(&(&b.country, &b.key)));
        if let Some(w) = table
            .windows(2)
            .find(|w| (&w[0].country, &w[0].key) == (&w[1].country, &w[1].key))
        {
            return Err(format!("{} {:?} is given twice", w[0].country, w[0].key));
        }
        let count = u32::try_from(table.len()).map_err(|_| "too many records")?;
        raw.extend_from_slice(&count.to_le_bytes());
        for entry in table.iter() {
            let country = entry.country.as_bytes();
            if country.len() != 2 {
                return Err(format!("{:?} is not a two-letter country", entry.country));
            }
            let len = u8::try_from(entry.key.len())
                .map_err(|_| format!("key {:?} is too long", entry.key))?;
            raw.extend_from_slice(country);
            raw.push(len);
            raw.extend_from_slice(entry.key.as_bytes());
        }
        for degrees in [|p: Point| p.lat, |p: Point| p.lon] {
            let mut last = 0i32;
            for entry in table.iter() {
                // Degrees are within ±180, so 1e-4 units fit an i32 with room to spare.
                let units = (degrees(entry.point) * SCALE).round() as i32;
                raw.extend_from_slice(&units.wrapping_sub(last).to_le_bytes());
                last = units;
            }
        }
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&raw).map_err(|e| e.to_string())?;
    gz.finish().map_err(|e| e.to_string())
}

/// The tables read back.
pub(crate) struct Tables {
    /// The decompressed data as it is: the key records are read in place.
    raw: Vec<u8>,
    /// Per table, where each of its key records starts in `raw`.
    offsets: [Vec<u32>; TABLES],
    /// Per table, each record's latitude and longitude in 1e-4 degrees.
    points: [Vec<[i32; 2]>; TABLES],
}

/// Reads `n` bytes at `*at` from `bytes`, moving `*at` past them.
fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], TableError> {
    let slice = bytes
        .get(*at..*at + n)
        .ok_or(TableError::Malformed("cut off"))?;
    *at += n;
    Ok(slice)
}

fn take_i32(bytes: &[u8], at: &mut usize) -> Result<i32, TableError> {
    Ok(i32::from_le_bytes(
        take(bytes, at, 4)?.try_into().expect("4 bytes"),
    ))
}

impl Tables {
    pub(crate) fn decode(gzipped: &[u8]) -> Result<Self, TableError> {
        // gzip ends with the uncompressed size: reading into a buffer of that size at once keeps
        // a growing buffer's spare copies out of the process's memory.
        let size = gzipped
            .len()
            .checked_sub(4)
            .map(|at| u32::from_le_bytes(gzipped[at..].try_into().expect("4 bytes")) as usize)
            .ok_or(TableError::Malformed("not gzip"))?;
        let mut raw = Vec::with_capacity(size);
        GzDecoder::new(gzipped).read_to_end(&mut raw)?;
        let mut at = 0;
        if take(&raw, &mut at, MAGIC.len())? != MAGIC {
            return Err(TableError::Malformed("no magic line"));
        }
        let mut offsets: [Vec<u32>; TABLES] = Default::default();
        let mut points: [Vec<[i32; 2]>; TABLES] = Default::default();
        for table in 0..TABLES {
            let count = take_i32(&raw, &mut at)? as u32 as usize;
            offsets[table].reserve_exact(count);
            for _ in 0..count {
                let offset = u32::try_from(at).map_err(|_| TableError::Malformed("over 4 GB"))?;
                let len = usize::from(take(&raw, &mut at, 3)?[2]);
                take(&raw, &mut at, len)?;
                offsets[table].push(offset);
            }
            points[table] = vec![[0, 0]; count];
            for axis in 0..2 {
                let mut last = 0i32;
                for point in &mut points[table] {
                    last = last.wrapping_add(take_i32(&raw, &mut at)?);
                    point[axis] = last;
                }
            }
        }
        if at != raw.len() {
            return Err(TableError::Malformed("bytes after the last table"));
        }
        Ok(Self {
            raw,
            offsets,
            points,
        })
    }

    pub(crate) fn len(&self, table: usize) -> usize {
        self.offsets[table].len()
    }

    /// The memory the tables hold.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.raw.capacity()
            + self.offsets.iter().map(|o| o.capacity() * 4).sum::<usize>()
            + self.points.iter().map(|p| p.capacity() * 8).sum::<usize>()
    }

    fn country_key(&self, offset: u32) -> (&[u8], &[u8]) {
        let at = offset as usize;
        let len = usize::from(self.raw[at + 2]);
        (&self.raw[at..at + 2], &self.raw[at + 3..at + 3 + len])
    }

    fn point(&self, table: usize, i: usize) -> Point {
        let [lat, lon] = self.points[table][i];
        Point {
            lat: f64::from(lat) / SCALE,
            lon: f64::from(lon) / SCALE,
        }
    }

    pub(crate) fn get(&self, table: usize, country: &str, key: &str) -> Option<Point> {
        let wanted = (country.as_bytes(), key.as_bytes());
        self.offsets[table]
            .binary_search_by(|&o| self.country_key(o).cmp(&wanted))
            .ok()
            .map(|i| self.point(table, i))
    }

    /// Every record of `table`, in order: for checking the data against the key functions.
    pub(crate) fn entries(&self, table: usize) -> impl Iterator<Item = (&str, &str, Point)> + '_ {
        self.offsets[table].iter().enumerate().map(move |(i, &o)| {
            let (country, key) = self.country_key(o);
            (
                std::str::from_utf8(country).unwrap_or_default(),
                std::str::from_utf8(key).unwrap_or_default(),
                self.point(table, i),
            )
        })
    }
}
