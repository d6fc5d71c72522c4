//! The daily situation report: one document for HTML and PDF, built from the
//! read models, the field events of the day and the remembered live events.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use printpdf::{BuiltinFont, Color, Line, Mm, PdfDocument, Point, Rgb};
use sallyport_store::sqlx::{self, Row};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::live::LiveEvent;
use crate::policy::Identity;
use crate::problem::ApiError;
use crate::readmodel::{AlertView, DayProgress, SortieBar};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    /// Reported at planning time across origins.
    pub planned: u64,
    pub in_custody: u64,
    pub delivered: u64,
    pub at_origins: u64,
    pub in_transit: u64,
}

/// Field custody events of the day, grouped.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Movement {
    pub site: String,
    pub custodian: String,
    pub kind: String,
    pub people: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Sitrep {
    pub date: NaiveDate,
    pub operation: Option<String>,
    pub generated_at: DateTime<Utc>,
    pub totals: Totals,
    pub movements: Vec<Movement>,
    /// People who reached the destination that day, and how many the baseline plan brings that day.
    pub moved: u64,
    pub planned: u64,
    /// Sorties of the plan in force that land that day.
    pub sorties_planned: u64,
    /// Which plan the day is measured against.
    pub plan: String,
    /// Disruptions and re-plans of the day (the running operation's report).
    pub disruptions: Vec<String>,
    /// Sorties reported landed that day (live feed, or the operation's report).
    pub sorties_landed: u64,
    /// Delays: sorties reported delayed and origins behind the linear plan.
    pub delays: Vec<String>,
    /// Alerts of the day.
    pub threats: Vec<AlertView>,
    /// Records that do not add up (capacity exceeded, people at unknown sites).
    pub discrepancies: Vec<String>,
    /// People delivered per day against the plan, up to this day.
    pub progress: Vec<DayProgress>,
}

/// The report for `date` (default today) as `who` may see it: movements and
/// counts include only the people the caller may see.
pub async fn build(
    state: &AppState,
    who: &Identity,
    date: Option<NaiveDate>,
) -> Result<Sitrep, ApiError> {
    let date = date.unwrap_or_else(|| Utc::now().date_naive());
    let start = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
    let end = start + chrono::Duration::days(1);
    let ov = crate::api::overview_model(state, who).await?;
    let (index, visible) = crate::api::visibility(state, who).await?;
    let rows = sqlx::query(
        "SELECT site, custodian, kind, person FROM server_field_events \
         WHERE at_ms >= $1 AND at_ms < $2",
    )
    .bind(start.timestamp_millis())
    .bind(end.timestamp_millis())
    .fetch_all(state.store().pool())
    .await
    .map_err(ApiError::internal)?;
    let mut grouped: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for r in rows {
        let person: String = r.try_get(3).map_err(ApiError::internal)?;
        let seen = index
            .by_id
            .get(&person)
            .is_some_and(|&i| visible.get(index.class_of[i]).copied().unwrap_or(false));
        if !seen {
            continue;
        }
        *grouped
            .entry((
                r.try_get(0).map_err(ApiError::internal)?,
                r.try_get(1).map_err(ApiError::internal)?,
                r.try_get(2).map_err(ApiError::internal)?,
            ))
            .or_default() += 1;
    }
    let movements: Vec<Movement> = grouped
        .into_iter()
        .map(|((site, custodian, kind), people)| Movement {
            site,
            custodian,
            kind,
            people,
        })
        .collect();
    let recent: Vec<_> = state
        .recent()
        .into_iter()
        .filter(|(at, _)| *at >= start && *at < end)
        .collect();
    let mut landed = BTreeMap::new();
    let mut delays = Vec::new();
    for (_, e) in &recent {
        if let LiveEvent::SortieProgress {
            sortie,
            status,
            from,
            to,
            ..
        } = e
        {
            match status.as_str() {
                "landed" => {
                    landed.insert(sortie.clone(), ());
                }
                "delayed" => delays.push(format!("sortie {sortie} {from} to {to} delayed")),
                _ => {}
            }
        }
    }
    delays.dedup();
    let sched = crate::api::schedule_model(state, who).await?;
    for row in &sched.origins {
        if row.due - row.done > 0.10 {
            delays.push(format!(
                "{}: {:.0}% moved out, {:.0}% due by now per {} ({} still held, deadline {})",
                row.name,
                row.done * 100.0,
                row.due * 100.0,
                if sched.plan.is_some() {
                    "the plan in force"
                } else {
                    "a linear plan"
                },
                row.held_now,
                row.deadline.format("%Y-%m-%d %H:%M UTC")
            ));
        }
    }
    // The running operation's report of the day, if one is recorded.
    let op = crate::api::operation_model(state).await?;
    let reported = op
        .as_ref()
        .as_ref()
        .and_then(|o| o.days.iter().find(|d| d.date == date).cloned());
    let mut disruptions = Vec::new();
    if let Some(d) = &reported {
        delays.extend(d.delays.iter().map(|x| format!("sortie {x}")));
        disruptions = d.disruptions.clone();
        if d.replans_today > 0 {
            disruptions.push(format!(
                "{} re-plan(s) today, {} since the start",
                d.replans_today, d.replans_total
            ));
        }
    }
    let threats = ov
        .alerts
        .iter()
        .filter(|a| a.at >= start && a.at < end)
        .cloned()
        .collect();
    let mut discrepancies = Vec::new();
    if let Some(d) = &reported {
        discrepancies.push(format!(
            "{} open discrepancies at the end of operation day {} (ledger reconciliation); {} held back today",
            d.open_discrepancies, d.day, d.held_back_today
        ));
    }
    for s in &ov.sites {
        if s.held_now > s.holding_capacity as u64 {
            discrepancies.push(format!(
                "{}: {} held, capacity {}",
                s.name, s.held_now, s.holding_capacity
            ));
        }
    }
    let counted: u64 = ov.sites.iter().map(|s| s.held_now).sum();
    if counted != ov.total_in_custody {
        discrepancies.push(format!(
            "{} people in custody but {} counted at known sites",
            ov.total_in_custody, counted
        ));
    }
    let progress: Vec<DayProgress> = crate::api::progress_model(state, who)
        .await?
        .iter()
        .filter(|d| d.date <= date)
        .cloned()
        .collect();
    let today = progress.iter().find(|d| d.date == date);
    let plan_day = |f: fn(&SortieBar) -> DateTime<Utc>| {
        sched
            .aircraft
            .iter()
            .flat_map(|a| &a.sorties)
            .filter(|s| f(s) >= start && f(s) < end)
            .count() as u64
    };
    let planned = ov
        .sites
        .iter()
        .filter(|s| s.kind == "detention_facility" || s.kind == "camp")
        .map(|s| s.reported_population as u64)
        .sum();
    Ok(Sitrep {
        date,
        operation: ov.operation.clone(),
        generated_at: Utc::now(),
        totals: Totals {
            planned,
            in_custody: ov.total_in_custody,
            delivered: ov.delivered,
            at_origins: ov.at_origins,
            in_transit: ov.in_transit,
        },
        movements,
        moved: today.map_or(0, |d| d.moved),
        planned: today.map_or(0, |d| d.planned),
        sorties_planned: plan_day(|s| s.arrive),
        plan: sched.basis.clone(),
        sorties_landed: (landed.len() as u64)
            .max(reported.as_ref().map_or(0, |d| d.sorties_flown as u64)),
        disruptions,
        delays,
        threats,
        discrepancies,
        progress,
    })
}

/// Builtin PDF fonts speak WinAnsi: keep printable ASCII, replace the rest.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// At most `n` characters, with an ellipsis when cut (keeps lines inside the page).
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(n - 3).collect::<String>())
    }
}

/// Render the report as a one-page A4 PDF (pure Rust, builtin Helvetica).
pub fn pdf(r: &Sitrep) -> Result<Vec<u8>, ApiError> {
    let (doc, page, layer) = PdfDocument::new(
        format!("Situation report {}", r.date),
        Mm(210.0),
        Mm(297.0),
        "report",
    );
    let font = doc
        .add_builtin_font(BuiltinFont::Helvetica)
        .map_err(ApiError::internal)?;
    let bold = doc
        .add_builtin_font(BuiltinFont::HelveticaBold)
        .map_err(ApiError::internal)?;
    let l = doc.get_page(page).get_layer(layer);
    let mut y = 280.0;
    let mut text = |s: &str, size: f32, b: bool, y: &mut f64| {
        if *y > 12.0 {
            l.use_text(
                ascii(s),
                size,
                Mm(15.0),
                Mm(*y as f32),
                if b { &bold } else { &font },
            );
        }
        *y -= size as f64 * 0.45 + 1.5;
    };
    text(&format!("SITUATION REPORT  {}", r.date), 16.0, true, &mut y);
    text(
        r.operation.as_deref().unwrap_or("(no operation loaded)"),
        10.0,
        false,
        &mut y,
    );
    text(
        &format!("Generated {}", r.generated_at.format("%Y-%m-%d %H:%M UTC")),
        8.0,
        false,
        &mut y,
    );
    y -= 3.0;
    text("TOTALS", 11.0, true, &mut y);
    let t = &r.totals;
    text(
        &format!(
            "Planned {}   In custody {}   Delivered {}   At origins {}   In transit {}   Sorties landed today {}",
            t.planned, t.in_custody, t.delivered, t.at_origins, t.in_transit, r.sorties_landed
        ),
        9.0,
        false,
        &mut y,
    );
    text(
        &format!(
            "Moved to the destination today {} (plan {}); sorties of the plan landing today {}",
            r.moved, r.planned, r.sorties_planned
        ),
        9.0,
        false,
        &mut y,
    );
    text(&clip(&format!("Plan: {}", r.plan), 118), 8.0, false, &mut y);
    y -= 2.0;
    let section = |title: &str,
                   lines: Vec<String>,
                   y: &mut f64,
                   text: &mut dyn FnMut(&str, f32, bool, &mut f64)| {
        text(title, 11.0, true, y);
        if lines.is_empty() {
            text("none", 9.0, false, y);
        }
        let n = lines.len();
        for (i, s) in lines.into_iter().enumerate() {
            if i == 12 && n > 13 {
                text(&format!("... and {} more", n - 12), 9.0, false, y);
                break;
            }
            text(&clip(&s, 118), 9.0, false, y);
        }
        *y -= 2.0;
    };
    section(
        "MOVEMENTS",
        r.movements
            .iter()
            .map(|m| {
                format!(
                    "{:<10} {:>5}  at {}  custody {}",
                    m.kind, m.people, m.site, m.custodian
                )
            })
            .collect(),
        &mut y,
        &mut text,
    );
    section("DELAYS", r.delays.clone(), &mut y, &mut text);
    section("DISRUPTIONS", r.disruptions.clone(), &mut y, &mut text);
    section(
        "THREATS AND ALERTS",
        r.threats
            .iter()
            .map(|a| {
                format!(
                    "[{}] {} {}",
                    a.severity,
                    a.site.as_deref().unwrap_or("-"),
                    a.message
                )
            })
            .collect(),
        &mut y,
        &mut text,
    );
    section("DISCREPANCIES", r.discrepancies.clone(), &mut y, &mut text);
    text(
        "PEOPLE DELIVERED, CUMULATIVE: ACTUAL (solid) VS PLAN (grey)",
        11.0,
        true,
        &mut y,
    );
    // Chart box below the text, at least 50 mm tall.
    let (x0, x1) = (20.0f32, 195.0f32);
    let top = (y as f32 - 2.0).min(120.0);
    let bottom = (top - 60.0).max(15.0);
    let max = r
        .progress
        .iter()
        .map(|d| d.planned_cumulative.max(d.cumulative))
        .max()
        .unwrap_or(0)
        .max(1) as f32;
    let n = r.progress.len().max(2) as f32;
    let pt = |i: usize, v: u64| {
        (
            x0 + (x1 - x0) * i as f32 / (n - 1.0),
            bottom + (top - bottom) * v as f32 / max,
        )
    };
    let poly = |pts: Vec<(f32, f32)>| Line {
        points: pts
            .into_iter()
            .map(|(x, y)| (Point::new(Mm(x), Mm(y)), false))
            .collect(),
        is_closed: false,
    };
    l.set_outline_thickness(0.5);
    l.set_outline_color(Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)));
    l.add_line(poly(vec![(x0, top), (x0, bottom), (x1, bottom)]));
    l.use_text(format!("{}", max as u64), 7.0, Mm(x0 - 5.0), Mm(top), &font);
    l.use_text("0", 7.0, Mm(x0 - 3.0), Mm(bottom), &font);
    if let (Some(f), Some(la)) = (r.progress.first(), r.progress.last()) {
        l.use_text(f.date.to_string(), 7.0, Mm(x0), Mm(bottom - 4.0), &font);
        l.use_text(
            la.date.to_string(),
            7.0,
            Mm(x1 - 15.0),
            Mm(bottom - 4.0),
            &font,
        );
    }
    if r.progress.len() >= 2 {
        l.set_outline_color(Color::Rgb(Rgb::new(0.6, 0.6, 0.6, None)));
        l.set_outline_thickness(1.0);
        l.add_line(poly(
            r.progress
                .iter()
                .enumerate()
                .map(|(i, d)| pt(i, d.planned_cumulative))
                .collect(),
        ));
        l.set_outline_color(Color::Rgb(Rgb::new(0.05, 0.3, 0.6, None)));
        l.set_outline_thickness(1.6);
        l.add_line(poly(
            r.progress
                .iter()
                .enumerate()
                .map(|(i, d)| pt(i, d.cumulative))
                .collect(),
        ));
    }
    doc.save_to_bytes().map_err(ApiError::internal)
}
