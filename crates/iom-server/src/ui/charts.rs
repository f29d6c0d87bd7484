//! Charts as inline SVG, drawn on the server so that they need no script and print as they show.
//!
//! Written here rather than with a plotting crate: these are two shapes (columns over time, bars
//! per category) whose markup we want to control (CSS classes, a `<title>` per bar for the
//! figure behind it, an accessible label), which plotting crates' SVG back ends do not emit.

use maud::{Markup, html};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 36.0;
const BOTTOM: f64 = 22.0;

/// A column per point, labelled below every `label_every`-th column.
pub fn columns(label: &str, points: &[(String, f64)], label_every: usize) -> Markup {
    let max = points.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let scale = nice_ceiling(max);
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - BOTTOM - 8.0;
    let step = plot_w / points.len().max(1) as f64;
    let bar_w = (step * 0.7).max(1.0);
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (HEIGHT) } role="img" aria-label=(label) {
            title { (label) }
            line.axis x1=(LEFT) y1=(8.0 + plot_h) x2=(WIDTH - 8.0) y2=(8.0 + plot_h) {}
            text x=(LEFT - 4.0) y=(12.0) text-anchor="end" { (fmt(scale)) }
            text x=(LEFT - 4.0) y=(8.0 + plot_h) text-anchor="end" { "0" }
            @for (i, (name, value)) in points.iter().enumerate() {
                @let h = if scale > 0.0 { value / scale * plot_h } else { 0.0 };
                @let x = LEFT + i as f64 * step + (step - bar_w) / 2.0;
                rect.bar x=(round(x)) y=(round(8.0 + plot_h - h)) width=(round(bar_w)) height=(round(h)) {
                    title { (name) ": " (fmt(*value)) }
                }
                @if label_every > 0 && i % label_every == 0 {
                    text x=(round(x + bar_w / 2.0)) y=(HEIGHT - 6.0) text-anchor="middle" { (name) }
                }
            }
        }
    }
}

/// A horizontal bar per category with its value.
pub fn bars(label: &str, items: &[(String, f64)]) -> Markup {
    let max = items.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let row = 22.0;
    let height = row * items.len().max(1) as f64 + 4.0;
    let name_w = 120.0;
    let plot_w = WIDTH - name_w - 70.0;
    html! {
        svg.chart viewBox={ "0 0 " (WIDTH) " " (height) } role="img" aria-label=(label) {
            title { (label) }
            @for (i, (name, value)) in items.iter().enumerate() {
                @let y = 2.0 + i as f64 * row;
                @let w = if max > 0.0 { value / max * plot_w } else { 0.0 };
                text x=(name_w - 6.0) y=(y + 15.0) text-anchor="end" { (name) }
                rect.bar x=(name_w) y=(y + 3.0) width=(round(w.max(1.0))) height=(row - 6.0) {
                    title { (name) ": " (fmt(*value)) }
                }
                text x=(round(name_w + w + 6.0)) y=(y + 15.0) { (fmt(*value)) }
            }
        }
    }
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn fmt(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.2}")
    }
}

/// The smallest of 1, 2, 5 × 10ⁿ at or above `v`: a readable top of the axis.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * magnitude >= v {
            return m * magnitude;
        }
    }
    10.0 * magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(12.0), 20.0);
        assert_eq!(nice_ceiling(500.0), 500.0);
        assert_eq!(nice_ceiling(501.0), 1000.0);
    }

    #[test]
    fn every_value_is_in_the_markup() {
        let svg = bars("by channel", &[("web".into(), 3.0), ("pos".into(), 12.5)]).into_string();
        assert!(svg.contains(">web: 3<"), "{svg}");
        assert!(svg.contains(">pos: 12.50<"), "{svg}");
    }
}
