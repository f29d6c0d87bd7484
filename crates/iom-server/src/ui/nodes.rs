//! Fulfilment nodes on a map-like view: an equirectangular projection of their coordinates,
//! fitted to where the nodes are, drawn as SVG on the server (no map tiles, nothing fetched).

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};

use super::session::Session;
use super::{UiResult, format, layout};
use crate::AppState;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 460.0;
const PAD: f64 = 40.0;

/// A node as the map shows it.
pub struct Pin {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub active: bool,
    pub lat: f64,
    pub lon: f64,
}

/// Projects longitudes and latitudes onto the view box, keeping distances near the middle
/// latitude in proportion (x shrinks with its cosine), and fits the nodes with a margin.
pub struct Projection {
    lon0: f64,
    lat1: f64,
    kx: f64,
    scale: f64,
    ox: f64,
    oy: f64,
}

impl Projection {
    pub fn fit(points: &[(f64, f64)]) -> Projection {
        let (mut lat0, mut lat1, mut lon0, mut lon1) = (90.0_f64, -90.0_f64, 180.0_f64, -180.0_f64);
        for (lat, lon) in points {
            lat0 = lat0.min(*lat);
            lat1 = lat1.max(*lat);
            lon0 = lon0.min(*lon);
            lon1 = lon1.max(*lon);
        }
        if points.is_empty() {
            (lat0, lat1, lon0, lon1) = (-60.0, 75.0, -180.0, 180.0);
        }
        // At least a few degrees across, so that one node or a city's nodes do not fill the map.
        let grow = |lo: f64, hi: f64, min: f64| {
            let mid = (lo + hi) / 2.0;
            let half = ((hi - lo) / 2.0).max(min / 2.0);
            (mid - half, mid + half)
        };
        (lat0, lat1) = grow(lat0, lat1, 4.0);
        (lon0, lon1) = grow(lon0, lon1, 6.0);
        let kx = ((lat0 + lat1) / 2.0).to_radians().cos().max(0.2);
        let w = (lon1 - lon0) * kx;
        let h = lat1 - lat0;
        let scale = ((WIDTH - 2.0 * PAD) / w).min((HEIGHT - 2.0 * PAD) / h);
        Projection {
            lon0,
            lat1,
            kx,
            scale,
            ox: (WIDTH - w * scale) / 2.0,
            oy: (HEIGHT - h * scale) / 2.0,
        }
    }

    pub fn xy(&self, lat: f64, lon: f64) -> (f64, f64) {
        let x = self.ox + (lon - self.lon0) * self.kx * self.scale;
        let y = self.oy + (self.lat1 - lat) * self.scale;
        ((x * 10.0).round() / 10.0, (y * 10.0).round() / 10.0)
    }
}

pub fn map(pins: &[Pin]) -> Markup {
    let points: Vec<(f64, f64)> = pins.iter().map(|p| (p.lat, p.lon)).collect();
    let proj = Projection::fit(&points);
    html! {
        svg.map viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label="Nodes by location" {
            title { "Nodes by location" }
            (grid(&proj))
            (markers(&proj, pins))
        }
    }
}

/// A map to choose a place on: the nodes, the place chosen (if any), and the projection in
/// `data-` attributes so that the script can turn a click back into a latitude and longitude.
pub fn pick_map(pins: &[Pin], picked: Option<(f64, f64)>) -> Markup {
    let mut points: Vec<(f64, f64)> = pins.iter().map(|p| (p.lat, p.lon)).collect();
    points.extend(picked);
    let proj = Projection::fit(&points);
    html! {
        svg.map.pick #pick-map viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img"
            aria-label="Click to set the location"
            data-lon0=(proj.lon0) data-lat1=(proj.lat1) data-kx=(proj.kx)
            data-scale=(proj.scale) data-ox=(proj.ox) data-oy=(proj.oy) {
            title { "Click to set the location" }
            (grid(&proj))
            (markers(&proj, pins))
            @let (x, y) = picked.map_or((-100.0, -100.0), |(lat, lon)| proj.xy(lat, lon));
            circle.picked #picked cx=(x) cy=(y) r="8" { title { "This node" } }
        }
    }
}

fn grid(proj: &Projection) -> Markup {
    let step = 5.0;
    let meridians: Vec<f64> = (-36..=36).map(|i| f64::from(i) * step).collect();
    let parallels: Vec<f64> = (-18..=18).map(|i| f64::from(i) * step).collect();
    html! {
        @for lon in &meridians {
            @let (x, _) = proj.xy(0.0, *lon);
            @if (0.0..=WIDTH).contains(&x) { line.grid x1=(x) y1="0" x2=(x) y2=(HEIGHT) {} }
        }
        @for lat in &parallels {
            @let (_, y) = proj.xy(*lat, 0.0);
            @if (0.0..=HEIGHT).contains(&y) { line.grid x1="0" y1=(y) x2=(WIDTH) y2=(y) {} }
        }
    }
}

fn markers(proj: &Projection, pins: &[Pin]) -> Markup {
    html! {
        @for p in pins {
            @let (x, y) = proj.xy(p.lat, p.lon);
            @let class = if !p.active { "inactive".to_owned() } else if p.kind == "3pl" { "k3pl".to_owned() } else { p.kind.clone() };
            g {
                circle class=(class) cx=(x) cy=(y) r="7" {
                    title { (p.code) " · " (p.name) " · " (p.kind) " (" (p.lat) ", " (p.lon) ")" @if !p.active { " · inactive" } }
                }
                text x=(x + 10.0) y=(y + 4.0) { (p.code) }
            }
        }
    }
}

/// The nodes that have a location, as the map draws them.
pub fn pins(nodes: &[iom_store::nodes::NodeRecord]) -> Vec<Pin> {
    nodes
        .iter()
        .filter_map(|n| {
            let location = &n.doc["location"];
            Some(Pin {
                code: n.code.clone(),
                name: n.doc["name"].as_str().unwrap_or_default().to_owned(),
                kind: n.kind.clone(),
                active: n.active,
                lat: location["lat"].as_f64()?,
                lon: location["lon"].as_f64()?,
            })
        })
        .collect()
}

pub async fn page(State(state): State<AppState>, session: Session) -> UiResult<Response> {
    let nodes = state.store.list_nodes().await?;
    let pins = pins(&nodes);
    let body = html! {
        h1 { "Nodes" }
        p.actions {
            @if session.can(crate::auth::Access::Configure) { a #new-node href="/ui/nodes/new" { "New node" } " · " }
            a href="/ui/profiles" { "Fulfilment profiles" }
        }
        section.card {
            (map(&pins))
            p.hint { "Blue: warehouse · green: store · purple: 3PL · amber: drop-ship · grey: inactive." }
        }
        table #nodes {
            thead { tr { th { "Code" } th { "Name" } th { "Kind" } th { "Active" } th { "Location" } th.num { "Daily capacity" } th.num { "Safety stock" } th { "Orders" } } }
            tbody { @for n in &nodes { tr {
                td { a href={ "/ui/nodes/" (format::segment(&n.code)) } { (n.code) } }
                td { (n.doc["name"].as_str().unwrap_or_default()) }
                td { (n.kind) }
                td { @if n.active { "yes" } @else { "no" } }
                td { (n.doc["location"]["lat"]) ", " (n.doc["location"]["lon"]) }
                td.num { (n.doc["daily_capacity"]) }
                td.num { (n.safety_stock) }
                td { a href={ "/ui/orders?node=" (format::segment(&n.code)) } { "orders" } }
            } } }
        }
    };
    Ok(layout::page(&session, "Nodes", "/ui/nodes", body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projection_keeps_nodes_inside_and_north_up() {
        let seattle = (47.61, -122.33);
        let miami = (25.76, -80.19);
        let p = Projection::fit(&[seattle, miami]);
        let (sx, sy) = p.xy(seattle.0, seattle.1);
        let (mx, my) = p.xy(miami.0, miami.1);
        for (x, y) in [(sx, sy), (mx, my)] {
            assert!((PAD - 0.1..=WIDTH - PAD + 0.1).contains(&x), "x {x}");
            assert!((PAD - 0.1..=HEIGHT - PAD + 0.1).contains(&y), "y {y}");
        }
        assert!(sx < mx, "west is left");
        assert!(sy < my, "north is up");
    }

    #[test]
    fn one_node_is_in_the_middle() {
        let p = Projection::fit(&[(51.5, -0.12)]);
        assert_eq!(p.xy(51.5, -0.12), (WIDTH / 2.0, HEIGHT / 2.0));
    }
}
