//! Where a ship-to is: the one place that decides. In order of precedence, its own coordinates;
//! the centroid of its postal code that an operator stored (`PUT
//! /api/v1/fulfillment/postal-centroids`), which overrides the data shipped with iom; then from that
//! data (`iom_geo`) its postal code, its city, its country. Planning one order, a brokering run,
//! the `plan-fulfillment` step and choosing where a return goes all locate through here, so an
//! order without coordinates (an EDI 850, a CSV import) is placed the same way whoever plans it.
//!
//! Capture records on the ship-to what its point comes from (`located_by`). Capture is the hot
//! path: the shipped data answers in microseconds from memory, and the store is read only for a
//! postal code that data does not know, which only an operator's centroid can then place.

use iom_domain::{Address, CountryCode, GeoPoint, LocatedBy, Order};
use iom_geo::Level;
use iom_sourcing::{PlanRequest, PostalCentroids};
use iom_store::{Conn, Store, StoreError};

/// Reads the place data shipped with iom now rather than on the first order without coordinates:
/// a server calls this as it starts, so that no order waits for it.
pub fn warm() {
    iom_geo::built_in();
}

/// A ship-to's point, if it has one, and what it comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub point: Option<GeoPoint>,
    pub by: LocatedBy,
}

impl Location {
    const NONE: Location = Location {
        point: None,
        by: LocatedBy::None,
    };

    fn at(point: GeoPoint, by: LocatedBy) -> Self {
        Self {
            point: Some(point),
            by,
        }
    }
}

/// What a ship-to says about where it is, whether an address or a plan request.
#[derive(Debug, Clone, Copy)]
struct Clues<'a> {
    point: Option<GeoPoint>,
    country: Option<&'a str>,
    postal_code: Option<&'a str>,
    city: Option<&'a str>,
}

impl<'a> Clues<'a> {
    fn of_address(address: &'a Address) -> Self {
        Self {
            point: address.geo(),
            country: Some(address.country.as_str()),
            postal_code: address.postal_code.as_deref(),
            city: address.city.as_deref(),
        }
    }

    fn of_request(request: &'a PlanRequest) -> Self {
        Self {
            point: request.ship_to,
            country: request.country.as_deref(),
            postal_code: request.postal_code.as_deref(),
            city: request.city.as_deref(),
        }
    }

    /// The country and postal code to look up among an operator's centroids, when the ship-to
    /// has no coordinates of its own.
    fn operator_lookup(&self) -> Option<(CountryCode, &'a str)> {
        if self.point.is_some() {
            return None;
        }
        Some((CountryCode::parse(self.country?)?, self.postal_code?))
    }

    /// The location, given what an operator stored for the postal code (`operator`): the
    /// precedence of this module.
    fn locate(&self, operator: Option<GeoPoint>) -> Location {
        if let Some(point) = self.point {
            return Location::at(point, LocatedBy::Coordinates);
        }
        if let Some(point) = operator {
            return Location::at(point, LocatedBy::PostalCode);
        }
        let Some(country) = self.country.and_then(CountryCode::parse) else {
            return Location::NONE;
        };
        iom_geo::built_in()
            .locate(country.as_str(), self.postal_code, self.city)
            .and_then(|found| {
                let by = match found.level {
                    Level::PostalCode => LocatedBy::PostalCode,
                    Level::City => LocatedBy::City,
                    Level::Country => LocatedBy::Country,
                };
                Some(Location::at(
                    GeoPoint::new(found.point.lat, found.point.lon)?,
                    by,
                ))
            })
            .unwrap_or(Location::NONE)
    }

    /// What the point comes from when the shipped data settles it without the store: it has the
    /// postal code, or there is no postal code an operator could have stored. `None` when only the
    /// store can tell.
    fn located_by_without_store(&self) -> Option<LocatedBy> {
        let shipped = self.locate(None);
        let store_could_tell = shipped.by != LocatedBy::PostalCode
            && shipped.by != LocatedBy::Coordinates
            && self.operator_lookup().is_some();
        (!store_could_tell).then_some(shipped.by)
    }
}

/// The point of a postal code in a country from the centroids an operator stored; `None` when
/// none is stored or the country is not an ISO 3166-1 code.
pub fn postal_point_in(
    conn: &mut dyn Conn,
    country: &str,
    postal_code: &str,
) -> Result<Option<GeoPoint>, StoreError> {
    let Some(country) = CountryCode::parse(country) else {
        return Ok(None);
    };
    operator_point_in(conn, country, postal_code)
}

fn operator_point_in(
    conn: &mut dyn Conn,
    country: CountryCode,
    postal_code: &str,
) -> Result<Option<GeoPoint>, StoreError> {
    let codes = PostalCentroids::candidates(postal_code);
    Ok(
        iom_store::nodes::centroid_in(conn, country.as_str(), &codes)?
            .and_then(|(lat, lon)| GeoPoint::new(lat, lon)),
    )
}

fn locate_in(conn: &mut dyn Conn, clues: Clues<'_>) -> Result<Location, StoreError> {
    let operator = match clues.operator_lookup() {
        Some((country, code)) => operator_point_in(conn, country, code)?,
        None => None,
    };
    Ok(clues.locate(operator))
}

/// Where `address` is, and what that comes from.
pub fn locate_address_in(conn: &mut dyn Conn, address: &Address) -> Result<Location, StoreError> {
    locate_in(conn, Clues::of_address(address))
}

/// Where `address` is by its own coordinates or the data shipped with iom, without the centroids
/// an operator stored: what capture settles without reading the store.
pub fn locate_by_shipped_data(address: &Address) -> Location {
    Clues::of_address(address).locate(None)
}

/// Where `address` is: see [`locate_address_in`].
pub fn address_point_in(
    conn: &mut dyn Conn,
    address: &Address,
) -> Result<Option<GeoPoint>, StoreError> {
    Ok(locate_address_in(conn, address)?.point)
}

/// Gives a plan request without a ship-to point the point this module finds; when none is found
/// the plan says the ship-to could not be located.
pub fn locate_request_in(conn: &mut dyn Conn, request: &mut PlanRequest) -> Result<(), StoreError> {
    if request.ship_to.is_none() {
        request.ship_to = locate_in(conn, Clues::of_request(request))?.point;
    }
    Ok(())
}

/// [`locate_request_in`] for each of `requests`, reading the store (once, on one connection)
/// only when one of them has a postal code that an operator may have stored.
pub async fn locate_requests(
    store: &Store,
    mut requests: Vec<PlanRequest>,
) -> Result<Vec<PlanRequest>, StoreError> {
    if requests
        .iter()
        .all(|r| Clues::of_request(r).operator_lookup().is_none())
    {
        for request in &mut requests {
            if request.ship_to.is_none() {
                request.ship_to = Clues::of_request(request).locate(None).point;
            }
        }
        return Ok(requests);
    }
    store
        .read(move |conn| {
            for request in &mut requests {
                locate_request_in(conn, request)?;
            }
            Ok(requests)
        })
        .await
}

/// Records on each order's ship-to that does not say yet what its point comes from
/// (`located_by`). The store is read, once for all of them, only for postal codes the shipped
/// data does not know.
pub async fn label_orders(store: &Store, orders: &mut [Order]) -> Result<(), StoreError> {
    let mut ask: Vec<(usize, String, String)> = Vec::new();
    for (i, order) in orders.iter_mut().enumerate() {
        let Some(address) = order.ship_to.as_mut().filter(|a| a.located_by.is_none()) else {
            continue;
        };
        let clues = Clues::of_address(address);
        match clues.located_by_without_store() {
            Some(by) => address.located_by = Some(by),
            None => {
                if let Some((country, code)) = clues.operator_lookup() {
                    ask.push((i, country.as_str().to_owned(), code.to_owned()));
                }
            }
        }
    }
    if ask.is_empty() {
        return Ok(());
    }
    let stored: Vec<(usize, bool)> = store
        .read(move |conn| {
            ask.into_iter()
                .map(|(i, country, code)| {
                    Ok((i, postal_point_in(conn, &country, &code)?.is_some()))
                })
                .collect()
        })
        .await?;
    for (i, found) in stored {
        if let Some(address) = orders[i].ship_to.as_mut() {
            address.located_by = Some(if found {
                LocatedBy::PostalCode
            } else {
                Clues::of_address(address).locate(None).by
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clues<'a>(country: &'a str, postal: Option<&'a str>, city: Option<&'a str>) -> Clues<'a> {
        Clues {
            point: None,
            country: Some(country),
            postal_code: postal,
            city,
        }
    }

    #[test]
    fn coordinates_come_first_then_an_operator_centroid_then_the_shipped_data() {
        let own = GeoPoint::new(1.0, 2.0).unwrap();
        let stored = GeoPoint::new(3.0, 4.0).unwrap();
        let with_point = Clues {
            point: Some(own),
            ..clues("US", Some("98101"), None)
        };
        assert_eq!(
            with_point.locate(Some(stored)),
            Location::at(own, LocatedBy::Coordinates)
        );
        let seattle = clues("US", Some("98101"), Some("Seattle"));
        assert_eq!(
            seattle.locate(Some(stored)),
            Location::at(stored, LocatedBy::PostalCode)
        );
        let shipped = seattle.locate(None);
        assert_eq!(shipped.by, LocatedBy::PostalCode);
        assert!((shipped.point.unwrap().lat - 47.61).abs() < 0.05);
        assert_eq!(
            clues("US", Some("00000"), Some("Seattle")).locate(None).by,
            LocatedBy::City
        );
        assert_eq!(
            clues("US", None, Some("Nowhere In Particular"))
                .locate(None)
                .by,
            LocatedBy::Country
        );
        assert_eq!(
            clues("XX", Some("98101"), None).locate(None),
            Location::NONE
        );
    }

    #[test]
    fn the_store_is_asked_only_for_a_postal_code_the_shipped_data_lacks() {
        assert_eq!(
            clues("US", Some("98101"), None).located_by_without_store(),
            Some(LocatedBy::PostalCode)
        );
        assert_eq!(
            clues("US", None, Some("Seattle")).located_by_without_store(),
            Some(LocatedBy::City)
        );
        assert_eq!(
            clues("US", Some("00000"), Some("Seattle")).located_by_without_store(),
            None
        );
    }
}
