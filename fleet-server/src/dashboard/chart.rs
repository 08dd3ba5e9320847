//! Charts drawn on the server as SVG: no script, no external library, readable without colour
//! (values are labelled on the axis and each chart has a text title for screen readers).

use std::fmt::Write;

use protocol::UnixMillis;

use crate::http::html::esc;

const W: f64 = 640.0;
const H: f64 = 170.0;
const LEFT: f64 = 46.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A line through the points, with a dot each.
    Line,
    /// A bar per point.
    Bars,
}

/// A chart of `points` (time, value) between `from` and `to`, the y axis from 0 to at least
/// `min_top` (e.g. 100 for percent). `limit` draws a dashed line (an alert threshold).
pub struct Chart<'a> {
    /// Title (also the SVG's accessible name).
    pub title: &'a str,
    /// Unit after the axis values, e.g. `°C`, `%`.
    pub unit: &'a str,
    /// Points, any order.
    pub points: &'a [(UnixMillis, f64)],
    /// Time axis.
    pub from: UnixMillis,
    /// Time axis end.
    pub to: UnixMillis,
    /// The y axis reaches at least this.
    pub min_top: f64,
    /// A threshold line.
    pub limit: Option<f64>,
    /// Line or bars.
    pub kind: Kind,
    /// Width of a bar in time (an hour, a day).
    pub bar_ms: i64,
}

/// A rounded axis top at or above `v`: 1, 2, 5 × 10ⁿ.
fn nice_top(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&t| t >= v)
        .unwrap_or(10.0 * p)
}

/// A value for an axis label: no decimals from 10 up.
fn label(v: f64) -> String {
    if v.abs() >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// The chart as an SVG element.
pub fn svg(c: &Chart<'_>) -> String {
    let span = (c.to - c.from).max(1) as f64;
    let max = c
        .points
        .iter()
        .map(|p| p.1)
        .chain(c.limit)
        .fold(c.min_top, f64::max);
    let top = nice_top(max);
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |t: UnixMillis| LEFT + (t - c.from) as f64 / span * pw;
    let y = |v: f64| TOP + ph - (v / top).clamp(0.0, 1.0) * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{t}\">\
         <title>{t}</title>",
        t = esc(c.title)
    );
    // 1, 5 and 10 × 10ⁿ split in fifths, 2 × 10ⁿ in quarters: round values on every line.
    let steps = if (top / 10f64.powf(top.log10().floor()) - 2.0).abs() < 1e-9 {
        4
    } else {
        5
    };
    for i in 0..=steps {
        let v = top * f64::from(i) / f64::from(steps);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e3e8ee\"/>\
             <text x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}{u}</text>",
            x2 = W - RIGHT,
            yy = y(v),
            tx = LEFT - 4.0,
            ty = y(v) + 4.0,
            l = label(v),
            u = esc(c.unit),
        );
    }
    // Time labels: start, middle, end, in Czech local time.
    for (i, t) in [c.from, c.from + (c.to - c.from) / 2, c.to]
        .into_iter()
        .enumerate()
    {
        let civ = protocol::time::czech(t);
        let text = if c.to - c.from > 2 * 86_400_000 {
            format!("{}. {}.", civ.day, civ.month)
        } else {
            format!("{}:{:02}", civ.hour, civ.minute)
        };
        let anchor = ["start", "middle", "end"][i];
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{text}</text>",
            x(t),
            H - 6.0
        );
    }
    if let Some(l) = c.limit {
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#c62828\" \
             stroke-dasharray=\"4 4\"/>",
            W - RIGHT,
            yy = y(l)
        );
    }
    let mut pts: Vec<(UnixMillis, f64)> = c
        .points
        .iter()
        .copied()
        .filter(|p| p.0 >= c.from && p.0 <= c.to && p.1.is_finite())
        .collect();
    pts.sort_by_key(|p| p.0);
    if pts.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data in this period</text>",
            LEFT + pw / 2.0,
            TOP + ph / 2.0
        );
    }
    match c.kind {
        Kind::Bars => {
            let bw = (c.bar_ms as f64 / span * pw - 1.0).max(1.0);
            for (t, v) in &pts {
                let _ = write!(
                    s,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#6ea8fe\">\
                     <title>{}: {}</title></rect>",
                    x(*t),
                    y(*v),
                    (TOP + ph - y(*v)).max(0.0),
                    when_label(*t),
                    label(*v)
                );
            }
        }
        Kind::Line => {
            // A gap longer than three steps breaks the line (the kiosk was silent).
            let mut path = String::new();
            let mut prev: Option<UnixMillis> = None;
            for (t, v) in &pts {
                let jump = prev.is_none_or(|p| t - p > 3 * c.bar_ms.max(1));
                let _ = write!(
                    path,
                    "{}{:.1},{:.1} ",
                    if jump { "M" } else { "L" },
                    x(*t),
                    y(*v)
                );
                prev = Some(*t);
            }
            if !path.is_empty() {
                let _ = write!(
                    s,
                    "<path d=\"{path}\" fill=\"none\" stroke=\"#1f6feb\" stroke-width=\"2\"/>"
                );
            }
            if pts.len() <= 200 {
                for (t, v) in &pts {
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.2\" fill=\"#1f6feb\">\
                         <title>{}: {}{}</title></circle>",
                        x(*t),
                        y(*v),
                        when_label(*t),
                        label(*v),
                        esc(c.unit)
                    );
                }
            }
        }
    }
    s.push_str("</svg>");
    s
}

fn when_label(t: UnixMillis) -> String {
    protocol::time::format_czech(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_top(0.0), 1.0);
        assert_eq!(nice_top(73.0), 100.0);
        assert_eq!(nice_top(12.0), 20.0);
        assert_eq!(nice_top(4.1), 5.0);
        assert_eq!(label(2.5), "2.5");
        assert_eq!(label(25.0), "25");
    }

    #[test]
    fn draws_points_gaps_and_the_limit() {
        let h = 3_600_000;
        let pts = [(0, 40.0), (h, 42.0), (2 * h, 45.0), (10 * h, 50.0)];
        let s = svg(&Chart {
            title: "Temperature <max>",
            unit: "°C",
            points: &pts,
            from: 0,
            to: 12 * h,
            min_top: 0.0,
            limit: Some(75.0),
            kind: Kind::Line,
            bar_ms: h,
        });
        assert!(s.contains("aria-label=\"Temperature &lt;max&gt;\""));
        assert_eq!(s.matches("<circle").count(), 4);
        assert_eq!(
            s.matches(" M").count() + usize::from(s.contains("d=\"M")),
            2,
            "{s}"
        );
        assert!(s.contains("stroke-dasharray"));
        let empty = svg(&Chart {
            points: &[],
            kind: Kind::Bars,
            ..Chart {
                title: "x",
                unit: "",
                points: &[],
                from: 0,
                to: h,
                min_top: 1.0,
                limit: None,
                kind: Kind::Line,
                bar_ms: h,
            }
        });
        assert!(empty.contains("no data"));
    }
}
