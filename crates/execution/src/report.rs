//! Daily sitreps (Markdown) and the final report (self-contained HTML with
//! inline SVG charts). Pure functions of the [`Outcome`]: no clock, so two
//! runs with the same seed write byte-identical files.

use std::fmt::Write as _;

use crate::engine::{DayReport, Outcome};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The sitrep of one day.
pub fn sitrep(o: &Outcome, d: &DayReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# SITREP day {} — {} (local)\n", d.day, d.date);
    let _ = writeln!(s, "Operation: {}  \nRun seed: {} (SYNTHETIC people; simulated run)\n", o.operation, o.seed);
    let _ = writeln!(s, "## Movement");
    let _ = writeln!(s, "- sorties flown: {}", d.sorties_flown);
    let _ = writeln!(s, "- people moved today: {} (initial plan: {})", d.moved, d.planned_moved);
    let _ = writeln!(s, "- arrived at destination, total: {}", d.arrived_total);
    let _ = writeln!(
        s,
        "- enrolled and handed to the receiving government today: {} (intake capacity {}); total {}; waiting in reception: {}",
        d.enrolled_today, d.intake_capacity, d.with_receiving_government, d.queue_at_destination
    );
    let _ = writeln!(s, "- held back at boarding today (identity): {}", d.held_back_today);
    let _ = writeln!(s, "\n## Headcount per site (reconciled ledger)");
    for (k, v) in &d.per_site {
        let _ = writeln!(s, "- {k}: {v}");
    }
    let _ = writeln!(s, "\n## Threat (relative hazard, {})", if o.threat_label.starts_with("REPLAY") { "REPLAY of recorded history" } else { "flat" });
    for (k, v) in &d.threat {
        let _ = writeln!(s, "- {k}: {v:.2}");
    }
    let _ = writeln!(s, "\n## Disruptions and re-plans");
    if d.disruptions.is_empty() {
        let _ = writeln!(s, "- none");
    }
    for x in &d.disruptions {
        let _ = writeln!(s, "- {x}");
    }
    let _ = writeln!(s, "- re-plans today: {} (total {})", d.replans_today, d.replans_total);
    for x in &d.delays {
        let _ = writeln!(s, "- delay: {x}");
    }
    let _ = writeln!(s, "\n## Ledger");
    let _ = writeln!(s, "- log size after sync: {}", d.log_size);
    let _ = writeln!(
        s,
        "- discrepancies raised: {}, explained by signed correction: {}, open: {}",
        d.discrepancies_raised, d.discrepancies_explained, d.open_discrepancies
    );
    s
}

fn line_chart(title: &str, series: &[(String, String, Vec<f64>)], marks: &[(String, f64, String)], y_label: &str) -> String {
    let (w, h, l, r, t, b) = (760.0, 300.0, 56.0, 150.0, 30.0, 36.0);
    let n = series.iter().map(|s| s.2.len()).max().unwrap_or(1).max(2);
    let ymax = series.iter().flat_map(|s| s.2.iter().copied()).fold(1.0f64, f64::max) * 1.1;
    let x = |i: f64| l + (w - l - r) * i / (n - 1) as f64;
    let y = |v: f64| t + (h - t - b) * (1.0 - v / ymax);
    let mut s = String::new();
    let _ = write!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#);
    let _ = write!(s, r#"<text x="{l}" y="18" font-size="13" font-weight="bold">{}</text>"#, esc(title));
    let _ = write!(s, r##"<line x1="{l}" y1="{}" x2="{}" y2="{}" stroke="#444"/><line x1="{l}" y1="{t}" x2="{l}" y2="{}" stroke="#444"/>"##, h - b, w - r, h - b, h - b);
    for k in 0..=4 {
        let v = ymax * k as f64 / 4.0;
        let _ = write!(s, r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#555">{v:.0}</text>"##, l - 4.0, y(v) + 4.0);
    }
    let step = (n / 10).max(1);
    for i in (0..n).step_by(step) {
        let _ = write!(s, r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#555">{i}</text>"##, x(i as f64), h - b + 14.0);
    }
    let _ = write!(s, r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">operation day</text>"##, (l + w - r) / 2.0, h - 4.0);
    let _ = write!(s, r##"<text x="12" y="{}" transform="rotate(-90 12 {})" text-anchor="middle" fill="#555">{}</text>"##, (t + h - b) / 2.0, (t + h - b) / 2.0, esc(y_label));
    for (k, (name, colour, v)) in series.iter().enumerate() {
        let pts: Vec<String> = v.iter().enumerate().map(|(i, &val)| format!("{:.1},{:.1}", x(i as f64), y(val))).collect();
        let _ = write!(s, r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#, pts.join(" "));
        let ly = t + 14.0 * k as f64;
        let _ = write!(s, r#"<rect x="{}" y="{}" width="10" height="3" fill="{colour}"/><text x="{}" y="{}">{}</text>"#, w - r + 8.0, ly + 4.0, w - r + 22.0, ly + 8.0, esc(name));
    }
    for (name, day, colour) in marks {
        let xx = x(*day);
        let _ = write!(s, r#"<line x1="{xx:.1}" y1="{t}" x2="{xx:.1}" y2="{}" stroke="{colour}" stroke-dasharray="4 3"/><text x="{:.1}" y="{}" fill="{colour}" transform="rotate(-90 {:.1} {})">{}</text>"#, h - b, xx + 3.0, t + 4.0, xx + 3.0, t + 4.0, esc(name));
    }
    s.push_str("</svg>");
    s
}

const COLOURS: &[&str] = &["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

/// The final report.
pub fn html(o: &Outcome) -> String {
    let mut s = String::new();
    let _ = write!(s, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sallyport run report</title><style>body{{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}.ok{{color:#080}}.bad{{color:#b00}}</style></head><body>");
    let _ = write!(s, "<h1>Run report: {}</h1>", esc(&o.operation));
    let _ = write!(s, "<p><b>SYNTHETIC</b> people and biometric templates; simulated execution. Seed {}. Population {}.</p>", o.seed, o.population);
    let total = o.population;
    let documented: usize = o.documented.values().sum();
    let acc = o.delivered + documented;
    let cls = if o.unaccounted == 0 { "ok" } else { "bad" };
    let _ = write!(s, "<h2>Accounted for: <span class=\"{cls}\">{acc}/{total}</span></h2><ul>");
    let _ = write!(s, "<li>at the destination in the receiving government's custody: {}</li>", o.delivered);
    for (k, v) in &o.documented {
        let _ = write!(s, "<li>{}: {v}</li>", esc(k));
    }
    let _ = write!(s, "<li>unaccounted: {}</li>", o.unaccounted);
    let _ = write!(s, "<li>open discrepancies left unexplained: {}</li>", o.open_discrepancies);
    let _ = write!(s, "<li>custody chains broken: {}</li>", o.broken_chains.len());
    let _ = write!(s, "<li>ledger invariant: {}</li>", match &o.invariant { Ok(()) => "holds".to_string(), Err(e) => esc(e) });
    let _ = write!(s, "<li>re-plans: {} (initial plan {:.1} days; final {:.1} days)</li>", o.replans.len(), o.initial_plan_makespan_days, o.final_makespan_days);
    let ok = o.bundles.iter().filter(|b| b.verified).count();
    let _ = write!(s, "<li>evidence bundles verified: {ok}/{}</li>", o.bundles.len());
    let _ = write!(s, "<li>ledger: {} leaves, checkpoint root <code>{}</code>, witnessed by {} witnesses (threshold {})</li></ul>", o.log_size, o.checkpoint_root, o.policy.witnesses.len(), o.policy.threshold);

    // Chart 1: moved per day vs plan.
    let n = o.days.len().max(o.planned_per_day.len());
    let pad = |v: &[f64]| -> Vec<f64> { (0..n).map(|i| v.get(i).copied().unwrap_or(0.0)).collect() };
    let planned: Vec<f64> = o.planned_per_day.iter().map(|&x| x as f64).collect();
    let moved: Vec<f64> = o.moved_per_day.iter().map(|&x| x as f64).collect();
    let received: Vec<f64> = o.days.iter().map(|d| d.enrolled_today as f64).collect();
    let mut marks: Vec<(String, f64, String)> = o.disruptions.iter().map(|(d, w)| (w.chars().take(38).collect(), *d as f64, "#999".to_string())).collect();
    marks.truncate(12);
    let _ = write!(s, "<h2>People moved per day vs plan</h2>");
    s.push_str(&line_chart(
        "People per day",
        &[
            ("initial plan (arrivals)".into(), COLOURS[0].into(), pad(&planned)),
            ("actual arrivals".into(), COLOURS[1].into(), pad(&moved)),
            ("handed to receiving govt".into(), COLOURS[2].into(), pad(&received)),
        ],
        &marks,
        "people",
    ));
    // Chart 2: threat per site with the moment each emptied.
    let days = o.days.len().max(2);
    let series: Vec<(String, String, Vec<f64>)> = o
        .threat_series
        .iter()
        .enumerate()
        .map(|(k, (site, v))| (site.clone(), COLOURS[k % COLOURS.len()].to_string(), (0..days).map(|i| v.get(i).or(v.last()).copied().unwrap_or(1.0)).collect()))
        .collect();
    let empt: Vec<(String, f64, String)> = o
        .threat_series
        .keys()
        .enumerate()
        .filter_map(|(k, site)| o.emptied.get(site).copied().flatten().map(|d| (format!("{site} emptied"), d, COLOURS[k % COLOURS.len()].to_string())))
        .collect();
    let _ = write!(s, "<h2>Threat per site over time, and when each site emptied</h2><p>{}</p>", esc(&o.threat_label));
    s.push_str(&line_chart("Relative hazard per origin site", &series, &empt, "relative hazard"));
    let _ = write!(s, "<table><tr><th>site</th><th>emptied (day)</th><th>deadline (day)</th></tr>");
    for (site, e) in &o.emptied {
        let dl = o.deadlines.get(site).copied().flatten();
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(site),
            e.map_or("not emptied".into(), |d| format!("{d:.2}")),
            dl.map_or("—".into(), |d| format!("{d:.2}"))
        );
    }
    s.push_str("</table>");
    let _ = write!(s, "<h2>Disruptions and re-plans</h2><table><tr><th>day</th><th>cause</th><th>strategy</th><th>manifests changed</th><th>people re-seated</th><th>hard violations</th><th>makespan (days)</th></tr>");
    for r in &o.replans {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            r.day,
            esc(&r.cause),
            esc(&r.strategy),
            r.manifests_changed,
            r.people_moved_to_other_sortie,
            r.hard_violations,
            r.makespan_days
        );
    }
    s.push_str("</table><ul>");
    for (d, w) in &o.disruptions {
        let _ = write!(s, "<li>day {d}: {}</li>", esc(w));
    }
    s.push_str("</ul>");
    let _ = write!(s, "<h2>Evidence bundles (random sample)</h2><table><tr><th>person</th><th>events</th><th>bytes</th><th>verified</th></tr>");
    for b in &o.bundles {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>", b.person, b.events, b.bytes, if b.verified { "ok" } else { "bad" }, esc(&b.detail));
    }
    s.push_str("</table>");
    let _ = write!(s, "<h2>Daily summary</h2><table><tr><th>day</th><th>date</th><th>sorties</th><th>moved</th><th>with receiving govt</th><th>held back</th><th>re-plans</th><th>open discrepancies</th></tr>");
    for d in &o.days {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.day, d.date, d.sorties_flown, d.moved, d.with_receiving_government, d.held_back_today, d.replans_total, d.open_discrepancies
        );
    }
    s.push_str("</table>");
    let _ = write!(s, "<h2>Sources</h2><ul><li>Threat: {}</li><li>Biometrics: {}</li></ul>", esc(&o.threat_label), esc(&o.bio_source));
    s.push_str("</body></html>\n");
    s
}
