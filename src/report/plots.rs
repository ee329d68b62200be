//! Plots of a report, as SVG: the figures [`Report::to_html`] inlines and the `--plots DIR`
//! files.
//!
//! Five figures, each 720 × 360 px, drawn with [plotters](https://docs.rs/plotters)' SVG
//! backend:
//!
//! * [`latency_cdf`]: each workload's latency percentile spectrum, HdrHistogram style;
//! * [`latency_over_time`]: p50 and p99 per timeline window and workload;
//! * [`throughput_over_time`]: completed and failed requests per second, per workload;
//! * [`utilisation_over_time`]: busy workers over workers, per service;
//! * [`topic_lag`]: events waiting at each topic for each subscriber.
//!
//! The over-time figures shade each fault's window (a translucent band over the whole
//! height, named in the legend). Text is written as SVG `<text>` elements that the viewer
//! renders with its own fonts: no font file is read. The same report gives the same bytes:
//! maps are walked in key order, colours come from fixed palettes, nothing is random.
//!
//! Each function returns `None` when there is nothing to draw (or if drawing fails, which
//! the in-memory SVG backend does not do); [`figure_files`] and [`Report::figures`] leave
//! such figures out. Each legend sits in a column right of the plot, not over the data.

use std::error::Error;
use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::element::{DashedPathElement, DynElement};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Report;
use super::html::Figure;
use crate::fault::FaultReport;
use crate::policy::BreakerState;

/// Width of every figure, px.
const WIDTH: u32 = 720;
/// Height of every figure, px.
const HEIGHT: u32 = 360;
/// Blank space around the chart, px.
const MARGIN: u32 = 12;
/// Height of the x axis' labels and description, px.
const X_LABEL_AREA: u32 = 42;
/// Width of a y axis' labels and description, px.
const Y_LABEL_AREA: u32 = 64;
/// Font size of the caption (the figure's title inside the SVG).
const CAPTION_SIZE: u32 = 22;
/// Font size of tick labels and of the legend.
const LABEL_SIZE: u32 = 14;
/// Font size of the axes' descriptions.
const DESC_SIZE: u32 = 15;

/// Series colours (Tableau 10), cycled when there are more series.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// Fault shading colours, cycled, drawn at [`FAULT_OPACITY`].
const FAULT_COLOURS: [RGBColor; 4] = [
    RGBColor(0x55, 0x55, 0x55),
    RGBColor(0xc0, 0x39, 0x2b),
    RGBColor(0x6c, 0x34, 0x83),
    RGBColor(0x7d, 0x66, 0x08),
];

/// Opacity of a fault's band.
const FAULT_OPACITY: f64 = 0.18;

/// Opacity of a faint line (a workload's p50 beside its p99).
const FAINT_OPACITY: f64 = 0.55;

type DrawResult = Result<(), Box<dyn Error>>;

type Area<'b> = DrawingArea<SVGBackend<'b>, Shift>;

/// One of the figures' functions.
type Plot = fn(&Report) -> Option<Figure>;

/// The `i`-th series colour.
fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// How a line is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Stroke {
    /// 2 px, full colour.
    Solid,
    /// 1 px, lighter.
    Faint,
    /// 2 px dashes.
    Dashed,
}

/// One series: points in data coordinates, `None` where there is no value (the line breaks).
#[derive(Debug)]
struct Line {
    label: String,
    colour: RGBColor,
    stroke: Stroke,
    points: Vec<Option<(f64, f64)>>,
}

impl Line {
    /// The runs of consecutive finite points.
    fn segments(&self) -> Vec<Vec<(f64, f64)>> {
        let mut segments = Vec::new();
        let mut current = Vec::new();
        for point in &self.points {
            match point {
                Some((x, y)) if x.is_finite() && y.is_finite() => current.push((*x, *y)),
                _ => {
                    if !current.is_empty() {
                        segments.push(std::mem::take(&mut current));
                    }
                }
            }
        }
        if !current.is_empty() {
            segments.push(current);
        }
        segments
    }

    /// The largest finite y.
    fn max_y(&self) -> Option<f64> {
        self.points
            .iter()
            .flatten()
            .map(|&(_, y)| y)
            .filter(|y| y.is_finite())
            .reduce(f64::max)
    }

    /// Its elements: a polyline per segment, a dot for a lone point.
    fn elements<'b>(&self) -> Vec<DynElement<'static, SVGBackend<'b>, (f64, f64)>> {
        let style = match self.stroke {
            Stroke::Solid | Stroke::Dashed => self.colour.stroke_width(2),
            Stroke::Faint => self.colour.mix(FAINT_OPACITY).stroke_width(1),
        };
        self.segments()
            .into_iter()
            .map(|segment| {
                if segment.len() == 1 {
                    Circle::new(segment[0], 2, style.filled()).into_dyn()
                } else if self.stroke == Stroke::Dashed {
                    DashedPathElement::new(segment, 6, 4, style).into_dyn()
                } else {
                    PathElement::new(segment, style).into_dyn()
                }
            })
            .collect()
    }
}

/// What a legend entry shows beside its label.
#[derive(Clone, Copy, Debug)]
enum Swatch {
    /// A line's colour and stroke.
    Line(RGBColor, Stroke),
    /// A fault band's colour.
    Band(RGBColor),
}

/// One entry of a figure's legend.
#[derive(Clone, Debug)]
struct LegendEntry {
    label: String,
    swatch: Swatch,
}

impl Line {
    /// Its legend entry: its label, beside a swatch of its colour and stroke.
    fn legend(&self) -> LegendEntry {
        LegendEntry {
            label: self.label.clone(),
            swatch: Swatch::Line(self.colour, self.stroke),
        }
    }
}

/// Height of a legend row, px.
const LEGEND_ROW: i32 = 18;
/// Width of a legend swatch, px.
const SWATCH: i32 = 18;

/// Draws the figure's frame on `root`: the title across the top and the legend in a column
/// on the right, beside the plot rather than over it. Returns the area left for the chart.
fn frame<'b>(
    root: &Area<'b>,
    title: &str,
    legend: &[LegendEntry],
) -> Result<Area<'b>, Box<dyn Error>> {
    let body = root.titled(title, ("sans-serif", CAPTION_SIZE))?;
    if legend.is_empty() {
        return Ok(body);
    }
    // About 0.6 em per character: an estimate, as the viewer picks the font.
    let longest = legend
        .iter()
        .map(|entry| entry.label.chars().count())
        .max()
        .unwrap_or(0);
    let width = (longest as f64 * f64::from(LABEL_SIZE) * 0.55) as u32 + SWATCH as u32 + 2 * MARGIN;
    let width = width.clamp(100, WIDTH / 3);
    let (chart, column) = body.split_horizontally(body.dim_in_pixel().0 - width);
    let rows = ((column.dim_in_pixel().1 as i32 - MARGIN as i32) / LEGEND_ROW).max(1) as usize;
    let font = ("sans-serif", LABEL_SIZE).into_font().color(&BLACK);
    let shown = if legend.len() > rows {
        rows - 1
    } else {
        legend.len()
    };
    for (row, entry) in legend.iter().take(shown).enumerate() {
        let y = MARGIN as i32 + row as i32 * LEGEND_ROW + LEGEND_ROW / 2;
        let x = 4;
        match entry.swatch {
            Swatch::Line(colour, Stroke::Solid) => {
                column.draw(&Rectangle::new(
                    [(x, y - 1), (x + SWATCH, y + 1)],
                    colour.filled(),
                ))?;
            }
            Swatch::Line(colour, Stroke::Faint) => {
                column.draw(&Rectangle::new(
                    [(x, y), (x + SWATCH, y + 1)],
                    colour.mix(FAINT_OPACITY).filled(),
                ))?;
            }
            Swatch::Line(colour, Stroke::Dashed) => {
                for dash in [x, x + 12] {
                    column.draw(&Rectangle::new(
                        [(dash, y - 1), (dash + 6, y + 1)],
                        colour.filled(),
                    ))?;
                }
            }
            Swatch::Band(colour) => {
                column.draw(&Rectangle::new(
                    [(x, y - 6), (x + SWATCH, y + 6)],
                    colour.mix(FAULT_OPACITY).filled(),
                ))?;
            }
        }
        column.draw(&Text::new(
            entry.label.clone(),
            (x + SWATCH + 6, y),
            font.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    if shown < legend.len() {
        let y = MARGIN as i32 + shown as i32 * LEGEND_ROW + LEGEND_ROW / 2;
        column.draw(&Text::new(
            format!("and {} more", legend.len() - shown),
            (4, y),
            font.pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(chart)
}

/// Renders a figure: a white `WIDTH` × `HEIGHT` SVG drawn by `draw`; `None` if drawing
/// failed (the SVG backend writes into a `String`, so it does not).
fn render(title: &str, draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Option<Figure> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        draw(&root).ok()?;
        root.present().ok()?;
    }
    Some(Figure {
        title: title.to_string(),
        svg,
    })
}

/// A tick label: `value` to 6 decimals at most, without trailing zeros (`0.3`, `1`, `250`).
fn number(value: &f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A y axis' upper end for data up to `max`: a tenth of headroom, 1 when there is no data.
fn upper(max: Option<f64>) -> f64 {
    match max {
        Some(max) if max.is_finite() && max > 0.0 => max * 1.1,
        _ => 1.0,
    }
}

/// A y axis of a time chart.
#[derive(Debug)]
struct Axis {
    /// Its description, units included.
    label: String,
    /// Values are fractions, labelled as percentages.
    percent: bool,
    /// The lines drawn against it.
    lines: Vec<Line>,
}

impl Axis {
    fn upper(&self) -> f64 {
        let max = self.lines.iter().filter_map(Line::max_y).reduce(f64::max);
        let upper = upper(max);
        if self.percent { upper.max(1.05) } else { upper }
    }
}

/// A chart over simulated time (x from 0 to `x_max` seconds) with faults shaded.
#[derive(Debug)]
struct TimeChart<'r> {
    title: &'static str,
    x_label: &'static str,
    x_max: f64,
    primary: Axis,
    /// A second y axis, on the right.
    secondary: Option<Axis>,
    faults: &'r [FaultReport],
    /// Breaker state changes to mark: when, and into which state.
    breakers: Vec<(f64, BreakerState)>,
}

/// Every breaker state change in `report`'s policies, in time order: when it happened and
/// the state it went into.
fn breaker_marks(report: &Report) -> Vec<(f64, BreakerState)> {
    let mut marks: Vec<(f64, BreakerState)> = report
        .policies
        .values()
        .flat_map(|policy| &policy.breaker_transitions)
        .map(|transition| (transition.at_seconds, transition.to))
        .filter(|(at, _)| at.is_finite())
        .collect();
    marks.sort_by(|a, b| a.0.total_cmp(&b.0));
    marks
}

/// The colour of the mark of a breaker going into `state`.
fn breaker_colour(state: BreakerState) -> RGBColor {
    match state {
        BreakerState::Open => RGBColor(214, 39, 40),
        BreakerState::HalfOpen => RGBColor(255, 127, 14),
        BreakerState::Closed => RGBColor(44, 160, 44),
    }
}

impl TimeChart<'_> {
    /// Whether there is any point to draw.
    fn has_data(&self) -> bool {
        self.x_max > 0.0
            && self.x_max.is_finite()
            && std::iter::once(&self.primary)
                .chain(&self.secondary)
                .flat_map(|axis| &axis.lines)
                .any(|line| !line.segments().is_empty())
    }

    fn render(&self) -> Option<Figure> {
        if !self.has_data() {
            return None;
        }
        render(self.title, |root| self.draw(root))
    }

    fn draw(&self, root: &Area<'_>) -> DrawResult {
        let faults: Vec<(RGBColor, &FaultReport, (f64, f64))> = self
            .faults
            .iter()
            .enumerate()
            .filter_map(|(i, fault)| {
                let span = self.fault_span(fault)?;
                Some((FAULT_COLOURS[i % FAULT_COLOURS.len()], fault, span))
            })
            .collect();
        let lines = || {
            std::iter::once(&self.primary)
                .chain(&self.secondary)
                .flat_map(|axis| &axis.lines)
        };
        let legend: Vec<LegendEntry> = faults
            .iter()
            .map(|(colour, fault, _)| LegendEntry {
                label: fault.fault.clone(),
                swatch: Swatch::Band(*colour),
            })
            .chain(self.breaker_legend())
            .chain(lines().map(Line::legend))
            .collect();
        let area = frame(root, self.title, &legend)?;

        let y_max = self.primary.upper();
        let y2_max = self.secondary.as_ref().map_or(1.0, Axis::upper);
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .right_y_label_area_size(if self.secondary.is_some() {
                Y_LABEL_AREA
            } else {
                0
            })
            .build_cartesian_2d(0.0..self.x_max, 0.0..y_max)?
            .set_secondary_coord(0.0..self.x_max, 0.0..y2_max);
        let percent = |v: &f64| format!("{:.0}%", v * 100.0);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x_label)
            .x_label_formatter(&number)
            .y_desc(self.primary.label.as_str())
            .label_style(("sans-serif", LABEL_SIZE))
            .axis_desc_style(("sans-serif", DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(BLACK.mix(0.08));
        mesh.y_label_formatter(if self.primary.percent {
            &percent
        } else {
            &number
        });
        mesh.draw()?;
        if let Some(secondary) = &self.secondary {
            let mut axes = chart.configure_secondary_axes();
            axes.y_desc(secondary.label.as_str())
                .label_style(("sans-serif", LABEL_SIZE))
                .axis_desc_style(("sans-serif", DESC_SIZE));
            axes.y_label_formatter(if secondary.percent { &percent } else { &number });
            axes.draw()?;
        }

        // Fault bands first, under the lines, over the whole height of the plot.
        chart.draw_series(faults.iter().map(|(colour, _, (start, end))| {
            Rectangle::new(
                [(*start, y_max), (*end, 0.0)],
                colour.mix(FAULT_OPACITY).filled(),
            )
        }))?;
        // Breaker state changes: a thin vertical line each, under the series.
        chart.draw_series(
            self.breakers
                .iter()
                .filter(|(at, _)| (0.0..=self.x_max).contains(at))
                .map(|&(at, state)| {
                    PathElement::new(
                        vec![(at, 0.0), (at, y_max)],
                        breaker_colour(state).mix(0.7).stroke_width(1),
                    )
                }),
        )?;
        for line in &self.primary.lines {
            chart.draw_series(line.elements())?;
        }
        if let Some(secondary) = &self.secondary {
            for line in &secondary.lines {
                chart.draw_secondary_series(line.elements())?;
            }
        }
        Ok(())
    }

    /// A legend entry per breaker state the chart marks a change into.
    fn breaker_legend(&self) -> Vec<LegendEntry> {
        [
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Closed,
        ]
        .into_iter()
        .filter(|state| self.breakers.iter().any(|(_, to)| to == state))
        .map(|state| LegendEntry {
            label: format!("breaker {state}"),
            swatch: Swatch::Line(breaker_colour(state), Stroke::Faint),
        })
        .collect()
    }

    /// A fault's window cut to the chart (an open one runs to its end), at least one pixel
    /// wide; `None` when outside it.
    fn fault_span(&self, fault: &FaultReport) -> Option<(f64, f64)> {
        let start = fault.start_seconds.max(0.0);
        let end = fault.end_seconds.unwrap_or(self.x_max).min(self.x_max);
        if !(start.is_finite() && end.is_finite()) || start >= self.x_max || end < start {
            return None;
        }
        let pixel = self.x_max / f64::from(WIDTH);
        Some((start, end.max(start + pixel).min(self.x_max)))
    }
}

/// The x position of the percentile `percentile` (0..100) on the CDF's axis:
/// `log10(1 / (1 - p))`, so that 90% is at 1, 99% at 2, 99.9% at 3.
fn percentile_x(percentile: f64) -> f64 {
    (1.0 / (1.0 - percentile / 100.0)).log10()
}

/// The CDF's x axis, from 0 to `max` (an integer, in nines): linear in
/// [`percentile_x`], with a tick at each integer (each added nine). Its ticks are its only
/// grid lines, whatever plotters asks for.
#[derive(Clone, Debug)]
struct NinesAxis(f64);

impl Ranged for NinesAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(0.0..self.0).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            // Asked for the light grid lines: there are none.
            return Vec::new();
        }
        (0..=self.0 as u32).map(f64::from).collect()
    }

    fn range(&self) -> Range<f64> {
        0.0..self.0
    }
}

/// The label of the CDF's tick at `x` (an integer): 0%, 90%, 99%, 99.9%, ..., and `max` at
/// the axis' end, `x_max`.
fn percentile_label(x: f64, x_max: f64) -> String {
    if x >= x_max {
        return "max".to_string();
    }
    let nines = x.round().max(0.0) as usize;
    match nines {
        0 => "0%".to_string(),
        1 => "90%".to_string(),
        n => format!("99.{}%", "9".repeat(n - 2)).replace(".%", "%"),
    }
}

/// The latency CDF: per workload, latency (ms) against percentile on HdrHistogram's axis, a
/// log scale of `1 / (1 - p)` with ticks at 0%, 90%, 99%, 99.9%, ... The 100% point (the
/// maximum) is infinitely far on that axis: it is drawn at the axis' right end, one tick
/// past the last finite percentile of any workload, and that tick is labelled `max`.
/// `None` without percentiles to draw.
pub fn latency_cdf(report: &Report) -> Option<Figure> {
    let spectra: Vec<(&String, &Vec<crate::metrics::PercentilePoint>)> = report
        .workloads
        .iter()
        .map(|(name, workload)| (name, &workload.percentiles))
        .collect();
    let finite = |percentile: f64| percentile < 100.0 && percentile_x(percentile).is_finite();
    // The "max" tick: one past the last finite point, 3 (after 0%, 90%, 99%) at least.
    let x_max = spectra
        .iter()
        .flat_map(|(_, points)| points.iter())
        .filter(|point| finite(point.percentile))
        .map(|point| percentile_x(point.percentile).floor() + 1.0)
        .fold(3.0_f64, f64::max);
    let lines: Vec<Line> = spectra
        .iter()
        .enumerate()
        .map(|(i, (name, points))| Line {
            label: (*name).clone(),
            colour: colour(i),
            stroke: Stroke::Solid,
            points: points
                .iter()
                .map(|point| {
                    let x = if finite(point.percentile) {
                        percentile_x(point.percentile)
                    } else {
                        x_max
                    };
                    Some((x, point.value_ms))
                })
                .collect(),
        })
        .filter(|line| !line.segments().is_empty())
        .collect();
    if lines.is_empty() {
        return None;
    }
    let y_max = upper(lines.iter().filter_map(Line::max_y).reduce(f64::max));
    render("Latency CDF", |root| {
        let legend: Vec<LegendEntry> = lines.iter().map(Line::legend).collect();
        let area = frame(root, "Latency CDF", &legend)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(NinesAxis(x_max), 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of 1/(1-p))")
            .y_desc("latency (ms)")
            .x_label_formatter(&|x| percentile_label(*x, x_max))
            .y_label_formatter(&number)
            .label_style(("sans-serif", LABEL_SIZE))
            .axis_desc_style(("sans-serif", DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(BLACK.mix(0.08))
            .draw()?;
        for line in &lines {
            chart.draw_series(line.elements())?;
        }
        Ok(())
    })
}

/// The x of timeline window `i`: its middle, seconds.
fn window_middle(report: &Report, i: usize) -> f64 {
    (i as f64 + 0.5) * report.timeline.window_seconds
}

/// The timeline's end: windows × window length, seconds.
fn timeline_end(report: &Report) -> f64 {
    report.timeline.windows as f64 * report.timeline.window_seconds
}

/// Points at each window's middle, `None` where the window has no value.
fn over_windows(
    report: &Report,
    values: impl Iterator<Item = Option<f64>>,
) -> Vec<Option<(f64, f64)>> {
    values
        .enumerate()
        .map(|(i, value)| value.map(|v| (window_middle(report, i), v)))
        .collect()
}

/// Latency over time: per workload, the p99 (solid) and the p50 (faint) of each timeline
/// window, at its middle; a window where nothing completed breaks the line. Faults shaded.
/// `None` without a timeline or a latency in it.
pub fn latency_over_time(report: &Report) -> Option<Figure> {
    let mut lines = Vec::new();
    for (i, (name, series)) in report.timeline.workloads.iter().enumerate() {
        lines.push(Line {
            label: format!("{name} p99"),
            colour: colour(i),
            stroke: Stroke::Solid,
            points: over_windows(report, series.p99_ms.iter().copied()),
        });
        lines.push(Line {
            label: format!("{name} p50"),
            colour: colour(i),
            stroke: Stroke::Faint,
            points: over_windows(report, series.p50_ms.iter().copied()),
        });
    }
    TimeChart {
        title: "Latency over time",
        x_label: "simulated time (s)",
        x_max: timeline_end(report),
        primary: Axis {
            label: "latency (ms)".to_string(),
            percent: false,
            lines,
        },
        secondary: None,
        faults: &report.faults,
        breakers: breaker_marks(report),
    }
    .render()
}

/// Throughput over time: per workload, the requests completed per second in each timeline
/// window (solid) and, for a workload with failures, those failed per second (dashed, same
/// colour). Faults shaded. `None` without a timeline.
pub fn throughput_over_time(report: &Report) -> Option<Figure> {
    let window = report.timeline.window_seconds;
    let mut lines = Vec::new();
    for (i, (name, series)) in report.timeline.workloads.iter().enumerate() {
        lines.push(Line {
            label: format!("{name} completed"),
            colour: colour(i),
            stroke: Stroke::Solid,
            points: over_windows(report, series.throughput_per_s.iter().map(|&v| Some(v))),
        });
        if window > 0.0 && series.failed.iter().any(|&n| n > 0) {
            lines.push(Line {
                label: format!("{name} failed"),
                colour: colour(i),
                stroke: Stroke::Dashed,
                points: over_windows(
                    report,
                    series.failed.iter().map(|&n| Some(n as f64 / window)),
                ),
            });
        }
    }
    TimeChart {
        title: "Throughput over time",
        x_label: "simulated time (s)",
        x_max: timeline_end(report),
        primary: Axis {
            label: "requests per second (1/s)".to_string(),
            percent: false,
            lines,
        },
        secondary: None,
        faults: &report.faults,
        breakers: breaker_marks(report),
    }
    .render()
}

/// Utilisation over time: per service with a fixed number of workers, the busy workers of
/// each timeline window over its workers (all replicas': `workers` is per replica), as a
/// percentage on the left axis. A service with unlimited workers has no utilisation: its
/// busy workers (the mean number of requests in progress) are drawn against an axis of
/// their own, on the right, or on the left when no service is limited. Faults shaded.
/// `None` without services in the timeline.
pub fn utilisation_over_time(report: &Report) -> Option<Figure> {
    let mut limited = Vec::new();
    let mut unlimited = Vec::new();
    for (i, (name, series)) in report.timeline.services.iter().enumerate() {
        let service = report.services.get(name);
        let workers = service.and_then(|service| {
            let replicas = service.replicas.len().max(1);
            service
                .workers
                .map(|workers| workers.saturating_mul(replicas))
        });
        match workers {
            Some(workers) => limited.push(Line {
                label: name.clone(),
                colour: colour(i),
                stroke: Stroke::Solid,
                points: over_windows(
                    report,
                    series
                        .busy_workers
                        .iter()
                        .map(|&busy| (workers > 0).then(|| busy / workers as f64)),
                ),
            }),
            None => unlimited.push(Line {
                label: format!("{name} (unlimited)"),
                colour: colour(i),
                stroke: Stroke::Dashed,
                points: over_windows(report, series.busy_workers.iter().map(|&busy| Some(busy))),
            }),
        }
    }
    let busy_axis = |lines| Axis {
        label: "busy workers, unlimited services".to_string(),
        percent: false,
        lines,
    };
    let (primary, secondary) = if limited.is_empty() {
        (busy_axis(unlimited), None)
    } else {
        let utilisation = Axis {
            label: "utilisation (busy / workers)".to_string(),
            percent: true,
            lines: limited,
        };
        (
            utilisation,
            (!unlimited.is_empty()).then(|| busy_axis(unlimited)),
        )
    };
    TimeChart {
        title: "Utilisation over time",
        x_label: "simulated time (s)",
        x_max: timeline_end(report),
        primary,
        secondary,
        faults: &report.faults,
        breakers: breaker_marks(report),
    }
    .render()
}

/// Queue depth over time: per service, the requests waiting in its queues (all replicas'),
/// time-weighted mean of each timeline window, solid; and the longest queue of one replica
/// in the window, faint. Faults shaded, breaker state changes marked. `None` when no queue
/// ever held a request.
pub fn queue_depth_over_time(report: &Report) -> Option<Figure> {
    let mut lines = Vec::new();
    for (i, (name, series)) in report.timeline.services.iter().enumerate() {
        if series.queue_max.iter().all(|&n| n == 0) {
            continue;
        }
        lines.push(Line {
            label: format!("{name} mean"),
            colour: colour(i),
            stroke: Stroke::Solid,
            points: over_windows(report, series.queue_mean.iter().map(|&n| Some(n))),
        });
        lines.push(Line {
            label: format!("{name} max"),
            colour: colour(i),
            stroke: Stroke::Faint,
            points: over_windows(report, series.queue_max.iter().map(|&n| Some(n as f64))),
        });
    }
    if lines.is_empty() {
        return None;
    }
    TimeChart {
        title: "Queue depth over time",
        x_label: "simulated time (s)",
        x_max: timeline_end(report),
        primary: Axis {
            label: "requests waiting".to_string(),
            percent: false,
            lines,
        },
        secondary: None,
        faults: &report.faults,
        breakers: breaker_marks(report),
    }
    .render()
}

/// Topic lag: per topic and subscriber, the events published and not yet handled by it,
/// time-weighted mean of each timeline window, solid, and the most in the window, faint.
/// Faults shaded. `None` without topics.
pub fn topic_lag(report: &Report) -> Option<Figure> {
    let mut lines = Vec::new();
    for (topic_name, subscribers) in &report.timeline.topics {
        for (subscriber, lag) in subscribers {
            let i = lines.len() / 2;
            let label = format!("{topic_name} → {subscriber}");
            lines.push(Line {
                label: format!("{label} mean"),
                colour: colour(i),
                stroke: Stroke::Solid,
                points: over_windows(report, lag.mean.iter().map(|&n| Some(n))),
            });
            lines.push(Line {
                label: format!("{label} max"),
                colour: colour(i),
                stroke: Stroke::Faint,
                points: over_windows(report, lag.max.iter().map(|&n| Some(n as f64))),
            });
        }
    }
    TimeChart {
        title: "Topic lag",
        x_label: "simulated time (s)",
        x_max: timeline_end(report),
        primary: Axis {
            label: "events waiting".to_string(),
            percent: false,
            lines,
        },
        secondary: None,
        faults: &report.faults,
        breakers: Vec::new(),
    }
    .render()
}

/// Every figure of `report` with the name of its file for `--plots DIR`, in the order of
/// [`Report::figures`]: `latency-cdf.svg`, `latency-over-time.svg`,
/// `throughput-over-time.svg`, `utilisation-over-time.svg`, `queue-depth-over-time.svg`,
/// `topic-lag.svg`. A figure with nothing to draw is left out.
pub fn figure_files(report: &Report) -> Vec<(String, Figure)> {
    let plots: [(&str, Plot); 6] = [
        ("latency-cdf.svg", latency_cdf),
        ("latency-over-time.svg", latency_over_time),
        ("throughput-over-time.svg", throughput_over_time),
        ("utilisation-over-time.svg", utilisation_over_time),
        ("queue-depth-over-time.svg", queue_depth_over_time),
        ("topic-lag.svg", topic_lag),
    ];
    plots
        .into_iter()
        .filter_map(|(file, plot)| plot(report).map(|figure| (file.to_string(), figure)))
        .collect()
}

impl Report {
    /// All figures of this report, as SVG ([`plots`](super::plots)), in this order: latency
    /// CDF; latency over time; throughput over time; busy workers (utilisation) per service
    /// over time; queue depth per service over time (only if any queue held a request);
    /// topic lag (only if any topic). Figures with no data are left out. The
    /// figures of [`figure_files`], without the file names.
    #[must_use]
    pub fn figures(&self) -> Vec<Figure> {
        figure_files(self)
            .into_iter()
            .map(|(_, figure)| figure)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::fault::FaultCounts;
    use crate::report::timeline::{LagTimeline, ServiceTimeline, WorkloadTimeline};
    use crate::report::{ReplicaReport, ServiceReport, WorkloadReport};
    use crate::{Capacity, ClockKind, Distribution, Fault, Script, Simulation, Workload};

    /// A 10 s run, windows of 1 s: `api` (2 workers) serves `browse` and `checkout`, slowed
    /// down x4 from 4 s to 6 s and failing a fifth of its calls from 7 s to 8 s; `audit`
    /// (unlimited) serves `audit-log`.
    fn simulated() -> Report {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        let mut sim = Simulation::builder()
            .seed(3)
            .duration(s(10))
            .timeline_window(s(1))
            .build()
            .unwrap();
        let api = sim
            .add_service(
                "api",
                Script::new().work(Distribution::constant(ms(5))),
                Capacity::workers(2),
            )
            .unwrap();
        let audit = sim
            .add_service(
                "audit",
                Script::new().work(Distribution::constant(ms(2))),
                Capacity::unlimited(),
            )
            .unwrap();
        sim.add_workload("browse", &api, Workload::constant_rate(100.0), |_| ())
            .unwrap();
        sim.add_workload("checkout", &api, Workload::constant_rate(50.0), |_| ())
            .unwrap();
        sim.add_workload("audit-log", &audit, Workload::constant_rate(20.0), |_| ())
            .unwrap();
        sim.add_fault(Fault::slow("api", 4.0).at(s(4)).lasting(s(2)))
            .unwrap();
        sim.add_fault(Fault::fail("api", 0.2).at(s(7)).lasting(s(1)))
            .unwrap();
        sim.run().unwrap()
    }

    /// A report with a timeline of `windows` windows of 1 s and nothing in it.
    fn with_timeline(windows: usize) -> Report {
        let mut report = Report::new(1, ClockKind::Virtual);
        report.simulated_seconds = windows as f64;
        report.timeline.window_seconds = 1.0;
        report.timeline.windows = windows;
        report
    }

    fn fault(name: &str, start: f64, end: Option<f64>) -> FaultReport {
        FaultReport {
            fault: name.to_string(),
            start_seconds: start,
            end_seconds: end,
            counts: FaultCounts::default(),
        }
    }

    fn parse(svg: &str) -> roxmltree::Document<'_> {
        let document = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
        assert_eq!(document.root_element().tag_name().name(), "svg");
        document
    }

    fn number(node: roxmltree::Node<'_, '_>, name: &str) -> i32 {
        node.attribute(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .parse()
            .unwrap()
    }

    /// Every `<text>`'s content.
    fn texts(svg: &str) -> Vec<String> {
        parse(svg)
            .descendants()
            .filter(|node| node.has_tag_name("text"))
            .map(|node| node.text().unwrap_or_default().trim().to_string())
            .collect()
    }

    /// Where the tick label `label` is: (x, y) of its anchor. `anchor` is `middle` for the
    /// x axis' labels, `end` for the left y axis'.
    fn tick(svg: &str, label: &str, anchor: &str) -> (i32, i32) {
        let document = parse(svg);
        let node = document
            .descendants()
            .find(|node| {
                node.has_tag_name("text")
                    && node.attribute("text-anchor") == Some(anchor)
                    && node.text().map(str::trim) == Some(label)
            })
            .unwrap_or_else(|| panic!("no tick labelled {label}"));
        (number(node, "x"), number(node, "y"))
    }

    fn hex(colour: RGBColor) -> String {
        format!("#{:02X}{:02X}{:02X}", colour.0, colour.1, colour.2)
    }

    /// The points of every polyline stroked in `colour`, `width` px wide.
    fn polylines(svg: &str, colour: RGBColor, width: u32) -> Vec<Vec<(i32, i32)>> {
        parse(svg)
            .descendants()
            .filter(|node| node.has_tag_name("polyline"))
            .filter(|node| node.attribute("stroke") == Some(hex(colour).as_str()))
            .filter(|node| node.attribute("stroke-width") == Some(width.to_string().as_str()))
            .map(|node| {
                node.attribute("points")
                    .unwrap()
                    .split_whitespace()
                    .map(|pair| {
                        let (x, y) = pair.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    /// The plot's top and bottom, from a vertical grid line.
    fn plot_rows(svg: &str) -> (i32, i32) {
        let document = parse(svg);
        let line = document
            .descendants()
            .find(|node| node.has_tag_name("line") && node.attribute("x1") == node.attribute("x2"))
            .expect("a vertical grid line");
        let (y1, y2) = (number(line, "y1"), number(line, "y2"));
        (y1.min(y2), y1.max(y2))
    }

    /// The fault bands: rects at the fault opacity taller than a legend swatch, as
    /// (x, width); each checked to span the plot's whole height.
    fn bands(svg: &str) -> Vec<(i32, i32)> {
        let (top, bottom) = plot_rows(svg);
        parse(svg)
            .descendants()
            .filter(|node| node.has_tag_name("rect"))
            .filter(|node| node.attribute("opacity") == Some(FAULT_OPACITY.to_string().as_str()))
            .filter(|&node| number(node, "height") > 20)
            .map(|node| {
                let (y, height) = (number(node, "y"), number(node, "height"));
                assert!((y - top).abs() <= 1, "band from {y}, plot from {top}");
                assert!(
                    (y + height - bottom).abs() <= 1,
                    "band to {}, plot to {bottom}",
                    y + height
                );
                (number(node, "x"), number(node, "width"))
            })
            .collect()
    }

    fn close(actual: i32, expected: i32) -> bool {
        (actual - expected).abs() <= 1
    }

    #[test]
    fn figures_come_in_order_as_svg_with_titles_and_text() {
        let report = simulated();
        let files = figure_files(&report);
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            [
                "latency-cdf.svg",
                "latency-over-time.svg",
                "throughput-over-time.svg",
                "utilisation-over-time.svg",
                "queue-depth-over-time.svg",
            ],
            "no topics: no topic lag"
        );
        let titles = [
            "Latency CDF",
            "Latency over time",
            "Throughput over time",
            "Utilisation over time",
            "Queue depth over time",
        ];
        for ((_, figure), title) in files.iter().zip(titles) {
            assert_eq!(figure.title, title);
            let document = parse(&figure.svg);
            let root = document.root_element();
            assert_eq!(root.attribute("width"), Some("720"));
            assert_eq!(root.attribute("height"), Some("360"));
            let texts = texts(&figure.svg);
            assert!(texts.iter().any(|text| text == title), "{title}: {texts:?}");
            assert!(
                texts
                    .iter()
                    .any(|text| text.ends_with("(ms)") || text.ends_with("(s)")),
                "{title}: axis descriptions with units: {texts:?}"
            );
        }
        let figures = report.figures();
        assert_eq!(figures.len(), files.len());
        for (figure, (_, file)) in figures.iter().zip(&files) {
            assert_eq!((&figure.title, &figure.svg), (&file.title, &file.svg));
        }
        assert!(texts(&files[2].1.svg).contains(&"requests per second (1/s)".to_string()));
    }

    #[test]
    fn latency_cdf_draws_one_rising_line_per_workload_to_the_max_tick() {
        let report = simulated();
        let svg = latency_cdf(&report).unwrap().svg;
        let texts = texts(&svg);
        for label in [
            "0%",
            "90%",
            "99%",
            "max",
            "percentile (log scale of 1/(1-p))",
        ] {
            assert!(texts.contains(&label.to_string()), "{label}: {texts:?}");
        }
        let (max_x, _) = tick(&svg, "max", "middle");
        let (zero_x, _) = tick(&svg, "0%", "middle");
        for (i, (name, workload)) in report.workloads.iter().enumerate() {
            assert!(texts.contains(name), "{name} in the legend");
            let lines = polylines(&svg, colour(i), 2);
            assert_eq!(lines.len(), 1, "{name}: one line");
            let line = &lines[0];
            assert_eq!(
                line.len(),
                workload.percentiles.len(),
                "{name}: a point per percentile"
            );
            assert!(close(line[0].0, zero_x), "{name} starts at 0%");
            assert!(close(line[line.len() - 1].0, max_x), "{name} ends at max");
            assert!(
                line.windows(2)
                    .all(|w| w[0].0 <= w[1].0 && w[0].1 >= w[1].1),
                "{name}: percentile and latency only grow: {line:?}"
            );
        }
        // The slowed-down workloads reach hundreds of ms; audit-log stays at 2 ms.
        let browse = &polylines(&svg, colour(1), 2)[0];
        let audit = &polylines(&svg, colour(0), 2)[0];
        assert!(browse.last().unwrap().1 < audit.last().unwrap().1 - 100);
    }

    #[test]
    fn over_time_plots_shade_each_fault_where_it_was() {
        let mut report = simulated();
        assert_eq!(report.faults.len(), 2);
        let names: Vec<String> = report.faults.iter().map(|f| f.fault.clone()).collect();
        let plots: [Plot; 3] = [
            latency_over_time,
            throughput_over_time,
            utilisation_over_time,
        ];
        for plot in plots {
            let svg = plot(&report).unwrap().svg;
            let texts = texts(&svg);
            for name in &names {
                assert!(texts.contains(name), "{name} in the legend: {texts:?}");
            }
            let x = |seconds: &str| tick(&svg, seconds, "middle").0;
            let bands = bands(&svg);
            assert_eq!(bands.len(), 2, "{bands:?}");
            // slow api x4: 4 s to 6 s; fail api p=0.2: 7 s to 8 s.
            assert!(close(bands[0].0, x("4")) && close(bands[0].0 + bands[0].1, x("6")));
            assert!(close(bands[1].0, x("7")) && close(bands[1].0 + bands[1].1, x("8")));
        }

        // One band per fault: none without faults, one more for one more (an open one runs
        // to the end of the plot).
        let faults = std::mem::take(&mut report.faults);
        for plot in plots {
            let svg = plot(&report).unwrap().svg;
            assert!(bands(&svg).is_empty());
            assert!(!texts(&svg).contains(&names[0]));
        }
        report.faults = faults;
        report.faults.push(fault("crash db", 9.0, None));
        for plot in plots {
            let svg = plot(&report).unwrap().svg;
            let bands = bands(&svg);
            assert_eq!(bands.len(), 3);
            let x = |seconds: &str| tick(&svg, seconds, "middle").0;
            assert!(close(bands[2].0, x("9")) && close(bands[2].0 + bands[2].1, x("10")));
            assert!(texts(&svg).contains(&"crash db".to_string()));
        }
    }

    #[test]
    fn windows_without_latency_break_the_line_instead_of_dropping_to_zero() {
        let mut report = with_timeline(6);
        let name = "a<b & c>";
        let series = WorkloadTimeline {
            p99_ms: vec![Some(2.0), Some(4.0), None, Some(6.0), Some(8.0), None],
            p50_ms: vec![None, Some(1.0), None, None, None, None],
            ..WorkloadTimeline::default()
        };
        report.timeline.workloads.insert(name.to_string(), series);
        let svg = latency_over_time(&report).unwrap().svg;
        assert!(
            texts(&svg).contains(&format!("{name} p99")),
            "escaped and read back"
        );
        let p99 = polylines(&svg, colour(0), 2);
        assert_eq!(p99.len(), 2, "two runs of windows: {p99:?}");
        assert!(p99.iter().all(|line| line.len() == 2));
        let (_, zero_y) = tick(&svg, "0", "end");
        assert!(
            p99.iter().flatten().all(|&(_, y)| y < zero_y - 10),
            "no point at zero"
        );
        // Windows are drawn at their middle: 0.5 s, 1.5 s; 3.5 s, 4.5 s.
        let x = |seconds: &str| tick(&svg, seconds, "middle").0;
        assert!(close(p99[0][0].0, (x("0") + x("1")) / 2));
        assert!(close(p99[1][0].0, (x("3") + x("4")) / 2));
        // A lone p50 is a dot, not a line.
        let document = parse(&svg);
        let dots = document
            .descendants()
            .filter(|node| {
                node.has_tag_name("circle")
                    && node.attribute("fill") == Some(hex(colour(0)).as_str())
            })
            .count();
        assert_eq!(dots, 1);
        assert!(polylines(&svg, colour(0), 1).is_empty());
    }

    #[test]
    fn utilisation_is_busy_workers_over_every_replicas_workers() {
        let mut report = with_timeline(2);
        let busy = |values: [f64; 2]| ServiceTimeline {
            busy_workers: values.to_vec(),
            ..ServiceTimeline::default()
        };
        // "one": 4 workers; "two": 2 replicas of 2 workers; "zz-free": unlimited.
        let one = ServiceReport {
            workers: Some(4),
            ..ServiceReport::default()
        };
        let two = ServiceReport {
            workers: Some(2),
            replicas: vec![ReplicaReport::default(), ReplicaReport::default()],
            ..ServiceReport::default()
        };
        report.services.insert("one".into(), one);
        report.services.insert("two".into(), two);
        report
            .services
            .insert("zz-free".into(), ServiceReport::default());
        for name in ["one", "two"] {
            report
                .timeline
                .services
                .insert(name.into(), busy([1.6, 3.2]));
        }
        report
            .timeline
            .services
            .insert("zz-free".into(), busy([3.0, 3.0]));

        let svg = utilisation_over_time(&report).unwrap().svg;
        let one = polylines(&svg, colour(0), 2);
        let two = polylines(&svg, colour(1), 2);
        assert_eq!(one.len(), 1);
        assert_eq!(one, two, "4 workers either way");
        // 1.6 and 3.2 busy of 4 workers.
        let (_, forty) = tick(&svg, "40%", "end");
        let (_, eighty) = tick(&svg, "80%", "end");
        assert!(
            close(one[0][0].1, forty) && close(one[0][1].1, eighty),
            "{one:?}"
        );
        let texts = texts(&svg);
        for label in [
            "utilisation (busy / workers)",
            "busy workers, unlimited services",
            "zz-free (unlimited)",
        ] {
            assert!(texts.contains(&label.to_string()), "{label}: {texts:?}");
        }

        // Without a limited service, busy workers take the only axis.
        report.services.retain(|name, _| name == "zz-free");
        report.timeline.services.retain(|name, _| name == "zz-free");
        let texts = super::tests::texts(&utilisation_over_time(&report).unwrap().svg);
        assert!(texts.contains(&"busy workers, unlimited services".to_string()));
        assert!(!texts.iter().any(|text| text.ends_with('%')), "{texts:?}");
    }

    #[test]
    fn topic_lag_is_drawn_only_with_topics() {
        let report = simulated();
        assert!(report.topics.is_empty() && topic_lag(&report).is_none());

        let mut report = with_timeline(4);
        let lag = |mean: &[f64], max: &[u64]| LagTimeline {
            mean: mean.to_vec(),
            max: max.to_vec(),
        };
        let subscribers: BTreeMap<String, LagTimeline> = [
            (
                "billing".to_string(),
                lag(&[0.0, 2.5, 4.0, 1.0], &[0, 3, 5, 2]),
            ),
            (
                "shipping".to_string(),
                lag(&[1.0, 1.0, 0.0, 0.0], &[1, 1, 1, 0]),
            ),
        ]
        .into();
        report.timeline.topics.insert("orders".into(), subscribers);
        let files = figure_files(&report);
        assert_eq!(files.len(), 1, "no workload, no service: only the lag");
        assert_eq!(files[0].0, "topic-lag.svg");
        let svg = &files[0].1.svg;
        let texts = texts(svg);
        for label in [
            "orders → billing mean",
            "orders → billing max",
            "orders → shipping mean",
            "simulated time (s)",
        ] {
            assert!(texts.contains(&label.to_string()), "{label}: {texts:?}");
        }
        // Means solid (2 px), maxima faint (1 px), one point per window.
        let billing = polylines(svg, colour(0), 2);
        let shipping = polylines(svg, colour(1), 2);
        assert_eq!((billing.len(), shipping.len()), (1, 1));
        assert_eq!((billing[0].len(), shipping[0].len()), (4, 4));
        assert_eq!(polylines(svg, colour(0), 1)[0].len(), 4);
        // Windows of 1 s: the first point at 0.5 s, the fourth at 3.5 s.
        let (x0, x4) = (tick(svg, "0", "middle").0, tick(svg, "4", "middle").0);
        let at = |seconds: f64| x0 + ((x4 - x0) as f64 * seconds / 4.0) as i32;
        assert!(close(billing[0][0].0, at(0.5)) && close(billing[0][3].0, at(3.5)));
        // The largest mean, 4, sits below the largest maximum, 5: higher up (smaller y)
        // the larger.
        let faint = &polylines(svg, colour(0), 1)[0];
        assert!(faint[2].1 < billing[0][2].1, "{faint:?} {billing:?}");
    }

    #[test]
    fn queue_depth_is_drawn_for_services_that_queued() {
        let mut report = with_timeline(3);
        let service = |mean: &[f64], max: &[u64]| ServiceTimeline {
            queue_mean: mean.to_vec(),
            queue_max: max.to_vec(),
            ..ServiceTimeline::default()
        };
        report
            .timeline
            .services
            .insert("idle".into(), service(&[0.0; 3], &[0; 3]));
        assert!(
            queue_depth_over_time(&report).is_none(),
            "nothing ever queued"
        );
        report
            .timeline
            .services
            .insert("busy".into(), service(&[0.5, 3.0, 0.0], &[2, 6, 1]));
        report.policies.insert(
            "busy -> idle".into(),
            crate::policy::PolicyReport {
                breaker_transitions: vec![crate::policy::BreakerTransition {
                    at_seconds: 1.5,
                    from: BreakerState::Closed,
                    to: BreakerState::Open,
                }],
                ..Default::default()
            },
        );
        let svg = queue_depth_over_time(&report).unwrap().svg;
        let texts = texts(&svg);
        for label in ["busy mean", "busy max", "requests waiting", "breaker open"] {
            assert!(texts.contains(&label.to_string()), "{label}: {texts:?}");
        }
        assert!(
            !texts.iter().any(|text| text.starts_with("idle")),
            "{texts:?}"
        );
        // "busy" is the first service in name order: colour 0; three windows each.
        assert_eq!(polylines(&svg, colour(0), 2)[0].len(), 3);
        assert_eq!(polylines(&svg, colour(0), 1)[0].len(), 3);
        // The breaker's mark: a vertical line at 1.5 s in its colour.
        let (x0, x3) = (tick(&svg, "0", "middle").0, tick(&svg, "3", "middle").0);
        let mark = polylines(&svg, breaker_colour(BreakerState::Open), 1);
        assert_eq!(mark.len(), 1, "{mark:?}");
        assert!(close(mark[0][0].0, x0 + (x3 - x0) / 2) && mark[0][0].0 == mark[0][1].0);
    }

    #[test]
    fn a_report_without_data_has_no_figures() {
        let mut report = Report::new(0, ClockKind::Virtual);
        assert!(report.figures().is_empty());
        let plots: [Plot; 6] = [
            latency_cdf,
            latency_over_time,
            throughput_over_time,
            utilisation_over_time,
            queue_depth_over_time,
            topic_lag,
        ];
        assert!(plots.iter().all(|plot| plot(&report).is_none()));
        // A workload that completed nothing: no percentiles, no latency, but a throughput
        // (of zero) in its windows.
        report
            .workloads
            .insert("idle".into(), WorkloadReport::default());
        report.timeline = with_timeline(3).timeline;
        report.timeline.workloads.insert(
            "idle".into(),
            WorkloadTimeline {
                throughput_per_s: vec![0.0; 3],
                failed: vec![0; 3],
                p50_ms: vec![None; 3],
                p99_ms: vec![None; 3],
                ..WorkloadTimeline::default()
            },
        );
        let names: Vec<String> = figure_files(&report)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(names, ["throughput-over-time.svg"]);
    }

    #[test]
    fn the_same_report_gives_the_same_bytes() {
        let first = simulated();
        let again = simulated();
        let svgs = |report: &Report| -> Vec<String> {
            report
                .figures()
                .into_iter()
                .map(|figure| figure.svg)
                .collect()
        };
        assert_eq!(svgs(&first), svgs(&first));
        assert_eq!(
            svgs(&first),
            svgs(&again),
            "the same seed, the same run, the same bytes"
        );
        assert_eq!(svgs(&first), svgs(&first.clone()));
    }
}
