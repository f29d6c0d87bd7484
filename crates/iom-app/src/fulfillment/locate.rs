//! Where a ship-to is. An address with coordinates is there; one without is at the stored
//! centroid of its postal code (`PUT /api/v1/fulfillment/postal-centroids`), as given and then
//! without a ZIP+4 suffix. Planning one order, a brokering run, the `plan-fulfillment` step and
//! choosing where a return goes all locate through here, so an order without coordinates (an EDI
//! 850, a CSV import) is placed the same way whoever plans it.

use iom_domain::{Address, CountryCode, GeoPoint};
use iom_sourcing::{PlanRequest, PostalCentroids};
use iom_store::{Conn, Store, StoreError};

/// The point of a postal code in a country, from the stored centroids; `None` when none is
/// stored or the country is not an ISO 3166-1 code.
pub fn postal_point_in(
    conn: &mut dyn Conn,
    country: &str,
    postal_code: &str,
) -> Result<Option<GeoPoint>, StoreError> {
    let Some(country) = CountryCode::parse(country) else {
        return Ok(None);
    };
    let codes = PostalCentroids::candidates(postal_code);
    Ok(
        iom_store::nodes::centroid_in(conn, country.as_str(), &codes)?
            .and_then(|(lat, lon)| GeoPoint::new(lat, lon)),
    )
}

/// Where `address` is: its coordinates, else its postal code's centroid.
pub fn address_point_in(
    conn: &mut dyn Conn,
    address: &Address,
) -> Result<Option<GeoPoint>, StoreError> {
    if let Some(point) = address.geo() {
        return Ok(Some(point));
    }
    match &address.postal_code {
        Some(code) => postal_point_in(conn, address.country.as_str(), code),
        None => Ok(None),
    }
}

/// Gives a plan request without a ship-to point its postal code's centroid, when one is stored;
/// otherwise the plan says the ship-to could not be located.
pub fn locate_request_in(conn: &mut dyn Conn, request: &mut PlanRequest) -> Result<(), StoreError> {
    if request.ship_to.is_some() {
        return Ok(());
    }
    if let (Some(code), Some(country)) = (&request.postal_code, &request.country) {
        request.ship_to = postal_point_in(conn, country, code)?;
    }
    Ok(())
}

/// [`locate_request_in`] for each of `requests`, on one read connection of the store.
pub async fn locate_requests(
    store: &Store,
    mut requests: Vec<PlanRequest>,
) -> Result<Vec<PlanRequest>, StoreError> {
    if requests
        .iter()
        .all(|r| r.ship_to.is_some() || r.postal_code.is_none())
    {
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
