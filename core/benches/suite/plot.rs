//! A log-log line plot written as SVG text by hand (no plotting dependency): the
//! scaling figure that `report` puts beside BENCHMARKS.md's tables.

use std::fmt::Write as _;

/// One line of the plot: `(x, y)` points, both positive, ascending in x.
pub struct Series {
    pub label: String,
    pub color: &'static str,
    /// SVG `stroke-dasharray`; `None` draws a solid line.
    pub dash: Option<&'static str>,
    pub points: Vec<(f64, f64)>,
}

/// What the axes say: the title, both labels and the x ticks (value, text).
pub struct Axes {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_ticks: Vec<(f64, String)>,
}

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 500.0;
/// The plot area; the legend sits to its right.
const LEFT: f64 = 80.0;
const TOP: f64 = 50.0;
const RIGHT: f64 = 560.0;
const BOTTOM: f64 = 430.0;

/// Maps data to the plot area: x and y on log scales, y over whole decades.
struct Frame {
    x_min: f64,
    x_max: f64,
    y_decade_min: i32,
    y_decade_max: i32,
}

impl Frame {
    /// The smallest frame holding every point and every x tick.
    fn around(axes: &Axes, series: &[Series]) -> Frame {
        let xs = axes.x_ticks.iter().map(|t| t.0);
        let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
        let (x_min, x_max) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let (y_min, y_max) = ys.fold((1.0f64, 1.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
        let y_decade_min = y_min.log10().floor() as i32;
        // At least one decade, so that a flat plot still has a scale.
        let y_decade_max = (y_max.log10().ceil() as i32).max(y_decade_min + 1);
        Frame {
            x_min,
            x_max: x_max.max(x_min * 2.0),
            y_decade_min,
            y_decade_max,
        }
    }

    fn x(&self, v: f64) -> f64 {
        let t = (v.ln() - self.x_min.ln()) / (self.x_max.ln() - self.x_min.ln());
        LEFT + t * (RIGHT - LEFT)
    }

    fn y(&self, v: f64) -> f64 {
        let span = f64::from(self.y_decade_max - self.y_decade_min);
        let t = (v.log10() - f64::from(self.y_decade_min)) / span;
        BOTTOM - t * (BOTTOM - TOP)
    }
}

/// Text safe inside SVG elements and attributes.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A decade as a ratio label: "0.1x", "1x", "1000x".
fn decade_label(d: i32) -> String {
    if d < 0 {
        format!("{}x", 10f64.powi(d))
    } else {
        format!("{}x", 10u64.pow(d.unsigned_abs()))
    }
}

/// The frame, grid lines, ticks and the axis labels.
fn axes_svg(out: &mut String, f: &Frame, axes: &Axes) {
    let _ = writeln!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{}" height="{}" fill="none" stroke="#333"/>"##,
        RIGHT - LEFT,
        BOTTOM - TOP
    );
    for (v, text) in &axes.x_ticks {
        let x = f.x(*v);
        let _ = writeln!(
            out,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{BOTTOM}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"##,
            BOTTOM + 18.0,
            escape(text)
        );
    }
    for d in f.y_decade_min..=f.y_decade_max {
        let y = f.y(10f64.powi(d));
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{RIGHT}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT - 6.0,
            y + 4.0,
            decade_label(d)
        );
    }
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 42.0,
        escape(&axes.x_label)
    );
    let _ = writeln!(
        out,
        r#"<text transform="translate({},{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        LEFT - 55.0,
        (TOP + BOTTOM) / 2.0,
        escape(&axes.y_label)
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        TOP - 20.0,
        escape(&axes.title)
    );
}

/// The `stroke-dasharray` attribute of a series, if it is dashed.
fn dash_attr(s: &Series) -> String {
    s.dash
        .map_or(String::new(), |d| format!(r#" stroke-dasharray="{d}""#))
}

/// One series: its line and a dot on every point.
fn series_svg(out: &mut String, f: &Frame, s: &Series) {
    let points: Vec<String> = s
        .points
        .iter()
        .map(|(x, y)| format!("{:.1},{:.1}", f.x(*x), f.y(*y)))
        .collect();
    let _ = writeln!(
        out,
        r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{}/>"#,
        points.join(" "),
        s.color,
        dash_attr(s)
    );
    for (x, y) in &s.points {
        let _ = writeln!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
            f.x(*x),
            f.y(*y),
            s.color
        );
    }
}

/// The legend, right of the plot area: a line sample and the label of each series.
fn legend_svg(out: &mut String, series: &[Series]) {
    let x = RIGHT + 20.0;
    for (i, s) in series.iter().enumerate() {
        let y = TOP + 10.0 + 22.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{}" stroke-width="2"{}/><text x="{}" y="{}">{}</text>"#,
            x + 30.0,
            s.color,
            dash_attr(s),
            x + 38.0,
            y + 4.0,
            escape(&s.label)
        );
    }
}

/// The whole plot as an SVG document; series without points are left out.
pub fn log_log_svg(axes: &Axes, mut series: Vec<Series>) -> String {
    series.retain(|s| !s.points.is_empty());
    let f = Frame::around(axes, &series);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    axes_svg(&mut out, &f, axes);
    for s in &series {
        series_svg(&mut out, &f, s);
    }
    legend_svg(&mut out, &series);
    out.push_str("</svg>\n");
    out
}
