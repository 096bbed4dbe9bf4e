//! Charts drawn with plotters, each as SVG (inlined in report.html) and PNG.
//!
//! Every chart plots one figure of one workload against concurrency (log x), a line per
//! model with a bar from the minimum to the maximum across trials, or the latency
//! percentile spectrum at one concurrency. Each model keeps its colour and marker in every
//! chart (the Okabe–Ito palette, readable by colour-blind readers), and the legend sits in
//! a panel of its own beside the plot, so it never covers data. PNG text is drawn with the
//! DejaVu Sans font compiled into the binary, through plotters' pure-Rust `ab_glyph` path:
//! no system font or fontconfig is needed.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::plan::ModelKind;
use crate::stats::LineFit;

/// Size of every chart, in pixels.
pub const WIDTH: u32 = 880;
pub const HEIGHT: u32 = 460;
/// Share of the width the plot takes; the legend has the rest.
const PLOT_SHARE: f64 = 0.76;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in and known to parse (a unit test renders with it).
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });
}

/// Okabe–Ito colours, then grey, a dark yellow and a purple: one per model, in
/// `ModelKind::ALL` order; then six more for the models a scenario defines.
const PALETTE: [(u8, u8, u8); 16] = [
    (0, 0, 0),
    (230, 159, 0),
    (86, 180, 233),
    (0, 158, 115),
    (204, 121, 167),
    (0, 114, 178),
    (213, 94, 0),
    (153, 153, 153),
    (181, 160, 0),
    (117, 62, 160),
    (128, 0, 0),
    (0, 0, 128),
    (0, 128, 128),
    (170, 110, 40),
    (255, 99, 71),
    (60, 60, 60),
];

/// The models of some cells in the order charts and tables show them: iobench's own in
/// `ModelKind::ALL` order, then the models a scenario defined, in the order they appear.
pub fn model_order<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    for n in names {
        if !seen.contains(&n) {
            seen.push(n);
        }
    }
    let mut out: Vec<String> = ModelKind::ALL
        .iter()
        .map(|m| m.name())
        .filter(|m| seen.contains(m))
        .map(str::to_string)
        .collect();
    out.extend(
        seen.iter()
            .filter(|n| ModelKind::from_name(n).is_none())
            .map(|n| n.to_string()),
    );
    out
}

/// A model's place among colours and markers: iobench's own by `ModelKind::ALL`, others
/// after them in the order `others` lists them.
pub fn model_index(name: &str, others: &[String]) -> usize {
    match ModelKind::ALL.iter().position(|m| m.name() == name) {
        Some(i) => i,
        None => {
            let externals = others.iter().filter(|n| ModelKind::from_name(n).is_none());
            ModelKind::ALL.len() + externals.take_while(|n| *n != name).count()
        }
    }
}

pub fn colour(index: usize) -> RGBColor {
    let (r, g, b) = PALETTE[index % PALETTE.len()];
    RGBColor(r, g, b)
}

/// A point of a line: x, the median, and the min–max band across trials.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    pub x: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub struct Series {
    pub model: String,
    /// Its colour and marker ([`model_index`]).
    pub index: usize,
    pub points: Vec<Point>,
    /// A line fitted to the points (in the chart's units), drawn dashed across their x.
    pub fit: Option<LineFit>,
    /// Each point's tooltip after the model's name, where the chart's own words do not
    /// fit (the progression's C, trial and cell); empty: the chart's words.
    pub notes: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
pub enum Scale {
    Linear,
    Log,
}

/// What one chart shows.
pub struct Chart {
    /// File name without extension, e.g. `sleep-1-throughput`.
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_scale: Scale,
    pub y_scale: Scale,
    /// Names of x positions (the percentile spectrum); numbers otherwise.
    pub x_names: Option<Vec<String>>,
    pub series: Vec<Series>,
    /// What a point's tooltip calls its x (`C`, `compute / wait`) and the unit of its y.
    pub tip: Tip,
    /// Markers without the line joining them (points that are not a curve: the trials of
    /// many cells in the order they ran).
    pub markers_only: bool,
}

/// How a chart's points name their numbers in their tooltips (an SVG `<title>`).
#[derive(Clone, Debug)]
pub struct Tip {
    pub x: &'static str,
    pub unit: &'static str,
    /// What the point's value is: `median` (of the trials), or `merged` (a latency
    /// percentile of the trials' histograms merged).
    pub value: &'static str,
}

/// A point's place in the SVG and its tooltip.
struct Hover {
    at: (i32, i32),
    text: String,
}

fn bounds(values: impl Iterator<Item = f64>, scale: Scale) -> Option<(f64, f64)> {
    let v: Vec<f64> = values
        .filter(|v| v.is_finite() && (scale == Scale::Linear || *v > 0.0))
        .collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return None;
    }
    Some(match scale {
        Scale::Log => {
            let (lo, hi) = if hi / lo < 2.0 {
                (lo / 1.5, hi * 1.5)
            } else {
                (lo / 1.2, hi * 1.2)
            };
            // From a power of ten: plotters labels a log axis from its first power of ten
            // up, and would leave the lowest decade without a label.
            (10f64.powf(lo.log10().floor()), hi)
        }
        Scale::Linear => {
            let lo = lo.min(0.0);
            let hi = if hi <= lo { lo + 1.0 } else { hi * 1.08 };
            (lo, hi)
        }
    })
}

impl Chart {
    /// Whether there is anything to draw.
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.points.is_empty())
    }

    /// Draws the chart as PNG into `png` and returns it as SVG text.
    pub fn render(&self, png: &std::path::Path) -> anyhow::Result<String> {
        register_font();
        let mut svg = String::new();
        let hovers = {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            let hovers = self
                .draw(&root)
                .map_err(|e| anyhow::anyhow!("chart {}: {e:?}", self.name))?;
            root.present()
                .map_err(|e| anyhow::anyhow!("chart {}: {e:?}", self.name))?;
            hovers
        };
        with_tooltips(&mut svg, &hovers);
        {
            let root = BitMapBackend::new(png, (WIDTH, HEIGHT)).into_drawing_area();
            self.draw(&root)
                .map_err(|e| anyhow::anyhow!("chart {}: {e:?}", self.name))?;
            root.present()
                .map_err(|e| anyhow::anyhow!("chart {}: {e:?}", self.name))?;
        }
        Ok(svg)
    }

    /// Draws the chart; returns where each point landed, with its tooltip.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> Result<Vec<Hover>, DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        let (plot, legend) = root.split_horizontally((f64::from(WIDTH) * PLOT_SHARE) as u32);
        self.draw_legend(&legend)?;
        let xs = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.x));
        let ys = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().flat_map(|p| [p.min, p.max, p.median]));
        let (Some(xb), Some(yb)) = (bounds(xs, self.x_scale), bounds(ys, self.y_scale)) else {
            return Ok(Vec::new());
        };
        let xb = match (&self.x_names, self.x_scale) {
            (Some(names), _) => (-0.3, names.len() as f64 - 0.7),
            (None, Scale::Log) if xb.1 / xb.0 < 4.0 => (xb.0 / 2.0, xb.1 * 2.0),
            _ => xb,
        };
        match (self.x_scale, self.y_scale) {
            (Scale::Log, Scale::Log) => {
                self.plot(&plot, (xb.0..xb.1).log_scale(), (yb.0..yb.1).log_scale())
            }
            (Scale::Log, Scale::Linear) => self.plot(&plot, (xb.0..xb.1).log_scale(), yb.0..yb.1),
            (Scale::Linear, Scale::Log) => self.plot(&plot, xb.0..xb.1, (yb.0..yb.1).log_scale()),
            (Scale::Linear, Scale::Linear) => self.plot(&plot, xb.0..xb.1, yb.0..yb.1),
        }
    }

    fn plot<DB: DrawingBackend, X, Y>(
        &self,
        area: &DrawingArea<DB, Shift>,
        x: X,
        y: Y,
    ) -> Result<Vec<Hover>, DrawingAreaErrorKind<DB::ErrorType>>
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 19).into_font())
            .margin(10)
            .x_label_area_size(48)
            .y_label_area_size(78)
            .build_cartesian_2d(x, y)?;
        let names = self.x_names.clone();
        let x_fmt = move |v: &f64| match &names {
            Some(n) => {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < n.len() {
                    n[i as usize].clone()
                } else {
                    String::new()
                }
            }
            None => short(*v),
        };
        let y_fmt = |v: &f64| short(*v);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(RGBColor(235, 235, 235))
            // A log axis spanning a few decades otherwise draws its light lines so densely
            // near a power of ten that they merge into a grey band.
            .y_max_light_lines(4);
        if let Some(n) = &self.x_names {
            mesh.x_labels(n.len() * 4 + 1);
        }
        mesh.draw()?;
        for s in &self.series {
            let c = colour(s.index);
            let line = c.stroke_width(2);
            if let Some(fit) = s.fit {
                chart.draw_series(DashedLineSeries::new(
                    fit_curve(&fit, &s.points, self.x_scale),
                    6,
                    4,
                    c.stroke_width(1),
                ))?;
            }
            if !self.markers_only {
                chart.draw_series(LineSeries::new(
                    s.points.iter().map(|p| (p.x, p.median)),
                    line,
                ))?;
            }
            for p in &s.points {
                if p.max > p.min {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(p.x, p.min), (p.x, p.max)],
                        c.stroke_width(1),
                    )))?;
                }
            }
            let i = s.index;
            for p in &s.points {
                let at = (p.x, p.median);
                match i % 3 {
                    0 => chart.draw_series(std::iter::once(Circle::new(at, 4, marker(c, i))))?,
                    1 => chart.draw_series(std::iter::once(TriangleMarker::new(
                        at,
                        5,
                        marker(c, i),
                    )))?,
                    _ => {
                        chart.draw_series(std::iter::once(Cross::new(at, 4, c.stroke_width(2))))?
                    }
                };
            }
        }
        let mut hovers = Vec::new();
        for s in &self.series {
            for (i, p) in s.points.iter().enumerate() {
                let text = match s.notes.get(i) {
                    Some(note) => format!("{}, {note}", s.model),
                    None => self.tip_text(&s.model, p),
                };
                hovers.push(Hover {
                    at: chart.backend_coord(&(p.x, p.median)),
                    text,
                });
            }
        }
        Ok(hovers)
    }

    /// `smol, C = 100: 9850 ops/s (median; trials 9700–9900 ops/s)`.
    fn tip_text(&self, model: &str, p: &Point) -> String {
        let x = match &self.x_names {
            Some(names) => names.get(p.x.round() as usize).cloned().unwrap_or_default(),
            None => format!("{} = {}", self.tip.x, exact(p.x)),
        };
        let unit = self.tip.unit;
        format!(
            "{model}, {x}: {} {unit} ({}; trials {}–{} {unit})",
            exact(p.median),
            self.tip.value,
            exact(p.min),
            exact(p.max)
        )
    }

    fn draw_legend<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let mut y = 48;
        for s in &self.series {
            let (c, i) = (colour(s.index), s.index);
            area.draw(&PathElement::new(vec![(8, y), (34, y)], c.stroke_width(2)))?;
            match i % 3 {
                0 => area.draw(&Circle::new((21, y), 4, marker(c, i)))?,
                1 => area.draw(&TriangleMarker::new((21, y), 5, marker(c, i)))?,
                _ => area.draw(&Cross::new((21, y), 4, c.stroke_width(2)))?,
            }
            area.draw(&Text::new(
                s.model.clone(),
                (42, y - 8),
                ("sans-serif", 14).into_font(),
            ))?;
            y += 24;
        }
        if self.series.iter().any(|s| s.fit.is_some()) {
            area.draw(&PathElement::new(
                vec![(8, y), (14, y)],
                BLACK.stroke_width(1),
            ))?;
            area.draw(&PathElement::new(
                vec![(20, y), (26, y)],
                BLACK.stroke_width(1),
            ))?;
            area.draw(&Text::new(
                "least-squares line",
                (42, y - 8),
                ("sans-serif", 13).into_font(),
            ))?;
        }
        Ok(())
    }
}

/// A number for a tooltip: an integer as it is, else four significant digits.
fn exact(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize;
        format!("{v:.digits$}")
    }
}

/// Text made safe for an SVG element's content.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Puts a transparent circle with a `<title>` over every point of an SVG chart: a native
/// tooltip naming its numbers, shown on hover with no script.
fn with_tooltips(svg: &mut String, hovers: &[Hover]) {
    let Some(end) = svg.rfind("</svg>") else {
        return;
    };
    let mut g = String::from("<g class=\"tips\">\n");
    for h in hovers {
        g.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"7\" fill=\"#000\" fill-opacity=\"0\"><title>{}</title></circle>\n",
            h.at.0,
            h.at.1,
            text(&h.text)
        ));
    }
    g.push_str("</g>\n");
    svg.insert_str(end, &g);
}

/// Points along a fitted line over the x its points span, evenly spaced on the x axis's
/// scale (a straight line is a curve on log-log axes where the intercept matters), the
/// ones at or below zero left out.
fn fit_curve(fit: &LineFit, points: &[Point], x_scale: Scale) -> Vec<(f64, f64)> {
    let lo = points.iter().map(|p| p.x).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.x).fold(f64::NEG_INFINITY, f64::max);
    if lo >= hi || (x_scale == Scale::Log && lo <= 0.0) {
        return Vec::new();
    }
    const STEPS: usize = 48;
    (0..=STEPS)
        .map(|i| {
            let t = i as f64 / STEPS as f64;
            match x_scale {
                Scale::Log => lo * (hi / lo).powf(t),
                Scale::Linear => lo + (hi - lo) * t,
            }
        })
        .map(|x| (x, fit.intercept + fit.slope * x))
        .filter(|&(_, y)| y > 0.0)
        .collect()
}

/// Filled markers for the first three models of each shape, hollow for the next.
fn marker(c: RGBColor, i: usize) -> ShapeStyle {
    if (i / 3) % 2 == 0 {
        c.filled()
    } else {
        c.stroke_width(2)
    }
}

/// A number as an axis label: 1.2k, 35M, 0.004.
pub fn short(v: f64) -> String {
    let a = v.abs();
    let s = if a >= 1e9 {
        format!("{:.3}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1e3 {
        format!("{:.3}k", v / 1e3)
    } else if a >= 0.001 || a == 0.0 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    };
    trim(s)
}

/// `1.500k` → `1.5k`, `2.000` → `2`.
fn trim(s: String) -> String {
    if s.contains('e') {
        return s;
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num = if num.contains('.') {
        num.trim_end_matches('0').trim_end_matches('.')
    } else {
        num
    };
    format!("{num}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_labels() {
        assert_eq!(short(1500.0), "1.5k");
        assert_eq!(short(2.0), "2");
        assert_eq!(short(35_000_000.0), "35M");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(0.9), "0.9");
        assert_eq!(short(0.0004), "4.0e-4");
    }

    #[test]
    fn every_model_has_its_own_colour() {
        let seen: Vec<(u8, u8, u8)> = (0..PALETTE.len())
            .map(|i| {
                let c = colour(i);
                (c.0, c.1, c.2)
            })
            .collect();
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len());
        assert!(
            seen.len() > ModelKind::ALL.len(),
            "room for a scenario's models"
        );
    }

    #[test]
    fn a_scenarios_models_come_after_iobenchs() {
        let order =
            model_order(["py-asyncio", "threads", "sequential", "py-threading"].into_iter());
        assert_eq!(
            order,
            ["sequential", "threads", "py-asyncio", "py-threading"]
        );
        assert_eq!(model_index("threads", &order), 1);
        assert_eq!(model_index("py-asyncio", &order), ModelKind::ALL.len());
        assert_eq!(
            model_index("py-threading", &order),
            ModelKind::ALL.len() + 1
        );
    }
}

#[cfg(test)]
mod tooltip_tests {
    use super::*;

    #[test]
    fn every_point_has_a_tooltip_where_it_is_drawn() {
        let point = |x: f64, m: f64| Point {
            x,
            median: m,
            min: m * 0.9,
            max: m * 1.1,
        };
        let chart = Chart {
            name: "t".into(),
            title: "t".into(),
            x_label: "C".into(),
            y_label: "ops/s".into(),
            x_scale: Scale::Log,
            y_scale: Scale::Log,
            x_names: None,
            series: vec![Series {
                model: "smol<x>".into(),
                index: 0,
                points: vec![point(1.0, 100.0), point(10.0, 1000.0), point(100.0, 5000.0)],
                fit: None,
                notes: Vec::new(),
            }],
            tip: Tip {
                x: "C",
                unit: "ops/s",
                value: "median",
            },
            markers_only: false,
        };
        let dir = tempfile::tempdir().unwrap();
        let svg = chart.render(&dir.path().join("t.png")).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let tips: Vec<(f64, f64, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("title"))
            .map(|t| {
                let c = t.parent().unwrap();
                let at = |a| c.attribute(a).unwrap().parse::<f64>().unwrap();
                (at("cx"), at("cy"), t.text().unwrap().to_string())
            })
            .collect();
        assert_eq!(tips.len(), 3, "{svg}");
        assert_eq!(
            tips[1].2,
            "smol<x>, C = 10: 1000 ops/s (median; trials 900–1100 ops/s)"
        );
        // Left to right and upwards, as the points go, inside the canvas.
        assert!(tips[0].0 < tips[1].0 && tips[1].0 < tips[2].0);
        assert!(tips[0].1 > tips[1].1 && tips[1].1 > tips[2].1);
        for (x, y, _) in &tips {
            assert!(*x > 0.0 && *x < f64::from(WIDTH) && *y > 0.0 && *y < f64::from(HEIGHT));
        }
    }
}
