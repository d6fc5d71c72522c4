//! A site's threat over time as a picture a person can read: the daily rate
//! (log scale), the alert thresholds, the level in force shaded, and a marker
//! on every alert. PNG or SVG (both need a TrueType font on the system for
//! their text; `SALLYPORT_FONT` names one).

use std::path::Path;

use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::alerts::{Alert, AlertRules, Change, Level, levels};
use crate::event::{day_date, day_number};
use crate::model::SiteSeries;
use crate::ThreatError;

/// Where a TrueType font is looked for (first found wins); `SALLYPORT_FONT` overrides.
pub const FONT_CANDIDATES: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
];

fn register_font() -> Result<(), ThreatError> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let mut paths: Vec<String> = std::env::var("SALLYPORT_FONT").into_iter().collect();
        paths.extend(FONT_CANDIDATES.iter().map(|s| s.to_string()));
        for p in &paths {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return Ok(());
                }
            }
        }
        Err(format!(
            "no TrueType font found for PNG text (tried {}); set SALLYPORT_FONT to a .ttf file or write .svg instead",
            paths.join(", ")
        ))
    })
    .clone()
    .map_err(ThreatError::Plot)
}

fn level_color(l: Level) -> RGBColor {
    match l {
        Level::Low => RGBColor(90, 160, 90),
        Level::Elevated => RGBColor(230, 180, 0),
        Level::High => RGBColor(230, 100, 0),
        Level::Critical => RGBColor(190, 0, 0),
    }
}

/// Draw `series` from `show_from` on, with the alerts of `rules`, to `path`
/// (`.svg` → SVG, else PNG; both need a TrueType font for their text).
/// Days of `series` before `show_from` are not drawn but set the alert level
/// in force when the picture starts (hysteresis has memory): pass a series
/// that starts [`crate::alerts::ALERT_WARMUP_DAYS`] earlier.
pub fn plot(
    path: &Path,
    series: &SiteSeries,
    show_from: chrono::NaiveDate,
    rules: &AlertRules,
    title_note: &str,
) -> Result<Vec<Alert>, ThreatError> {
    let skip = series.days.iter().take_while(|d| d.day < show_from).count();
    if series.days.len() <= skip {
        return Err(ThreatError::Plot("nothing to plot: the period is empty".into()));
    }
    register_font()?;
    let svg = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg"));
    let size = (1400, 700);
    let (lv, alerts) = levels(series, rules);
    let alerts: Vec<Alert> = alerts.into_iter().filter(|a| a.day >= show_from).collect();
    let shown = SiteSeries { days: series.days[skip..].to_vec(), ..series.clone() };
    let lv = &lv[skip..];
    let res = if svg {
        draw(SVGBackend::new(path, size).into_drawing_area(), &shown, lv, &alerts, rules, title_note)
    } else {
        draw(BitMapBackend::new(path, size).into_drawing_area(), &shown, lv, &alerts, rules, title_note)
    };
    res.map_err(|e| ThreatError::Plot(format!("{}: {e}", path.display())))?;
    Ok(alerts)
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    series: &SiteSeries,
    lv: &[Level],
    alerts: &[Alert],
    rules: &AlertRules,
    note: &str,
) -> Result<(), Box<dyn std::error::Error + 'static>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let d0 = day_number(series.days[0].day) as f64;
    let d1 = day_number(series.days[series.days.len() - 1].day) as f64 + 1.0;
    let ymax = series.days.iter().map(|d| d.rate).fold(rules.critical * 1.5, f64::max) * 1.2;
    let title = format!(
        "Threat at {} ({}), {} to {}{}",
        series.site_name,
        series.site,
        series.days[0].day,
        series.days[series.days.len() - 1].day,
        note
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(d0..d1, (1f64..ymax).log_scale())?;
    let span = d1 - d0;
    chart
        .configure_mesh()
        .x_labels(12)
        .y_labels(10)
        .x_label_formatter(&|x| {
            let d = day_date(x.round() as i64);
            if span > 400.0 { d.format("%Y-%m").to_string() } else { d.format("%Y-%m-%d").to_string() }
        })
        .y_label_formatter(&|y| format!("{y:.0}"))
        .x_desc("date (UTC)")
        .y_desc("threat rate (relative hazard, log scale; 1 = quiet)")
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(RGBColor(235, 235, 235).stroke_width(1))
        .draw()?;
    // The level in force (with hysteresis), shaded.
    let mut i = 0;
    while i < lv.len() {
        let mut j = i;
        while j + 1 < lv.len() && lv[j + 1] == lv[i] {
            j += 1;
        }
        if lv[i] > Level::Low {
            let c = level_color(lv[i]).mix(0.18).filled();
            chart.draw_series(std::iter::once(Rectangle::new([(d0 + i as f64, 1.0), (d0 + j as f64 + 1.0, ymax)], c)))?;
        }
        i = j + 1;
    }
    for l in [Level::Elevated, Level::High, Level::Critical] {
        let t = rules.threshold(l);
        let c = level_color(l);
        chart
            .draw_series(LineSeries::new([(d0, t), (d1, t)], c.stroke_width(2)))?
            .label(format!("{} threshold ({t:.0})", l.as_str()))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .draw_series(LineSeries::new(series.days.iter().enumerate().map(|(k, d)| (d0 + k as f64 + 0.5, d.rate)), BLACK.stroke_width(2)))?
        .label("daily threat rate")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    let raised: Vec<&Alert> = alerts.iter().filter(|a| a.change == Change::Raised).collect();
    chart
        .draw_series(raised.iter().map(|a| {
            let x = day_number(a.day) as f64 + 0.5;
            TriangleMarker::new((x, a.rate.max(1.0) * 1.15), 9, level_color(a.level).filled())
        }))?
        .label("alert raised (colour = new level)")
        .legend(|(x, y)| TriangleMarker::new((x + 10, y), 7, level_color(Level::High).filled()));
    chart
        .draw_series(alerts.iter().filter(|a| a.change == Change::Lowered).map(|a| {
            let x = day_number(a.day) as f64 + 0.5;
            Circle::new((x, a.rate.max(1.0)), 5, level_color(a.level).stroke_width(2))
        }))?
        .label("alert lowered (hysteresis)")
        .legend(|(x, y)| Circle::new((x + 10, y), 5, BLACK.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;
    root.present()?;
    Ok(())
}
