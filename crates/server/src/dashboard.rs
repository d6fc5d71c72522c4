//! The dashboard: server-rendered HTML pages with one small script for live
//! updates. No build step, no CDN, no tile server: the map is SVG drawn here
//! from Natural Earth borders shipped in the binary, in an equirectangular
//! projection. Pages work without JavaScript; the script only keeps them live.

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use std::sync::Arc;

use crate::api::{self, Caller};
use crate::auth::SESSION_COOKIE;
use crate::policy::{self, Identity};
use crate::problem::ApiError;
use crate::readmodel::{DayProgress, Overview, Schedule};
use crate::sitrep::{self, Sitrep};
use crate::state::AppState;
use sallyport_access::Action;

const CSS: &str = include_str!("../../../web/app.css");
const JS: &str = include_str!("../../../web/app.js");
const BORDERS: &str = include_str!("../../../web/data/borders.geojson");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(picture))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/schedule", get(schedule))
        .route("/people", get(people))
        .route("/people/{id}", get(person))
        .route("/sitrep", get(sitrep_page))
        .route(
            "/assets/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    JS,
                )
            }),
        )
        .route(
            "/assets/borders.geojson",
            get(|| async { ([(header::CONTENT_TYPE, "application/geo+json")], BORDERS) }),
        )
}

/// Escape text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A dashboard page needs a logged-in caller; otherwise it sends them to /login.
#[allow(clippy::result_large_err)] // the error is the redirect itself, sent at once
fn page_caller(state: &AppState, headers: &HeaderMap) -> Result<Arc<Identity>, Response> {
    match state.auth().authenticate(headers) {
        Ok(p) => state
            .check_rate(&p.subject)
            .map(|_| p)
            .map_err(IntoResponse::into_response),
        Err(_) => Err(Redirect::to("/login").into_response()),
    }
}

/// The page for a refused request: the problem's status, the policy's reason.
fn refused(who: &Identity, title: &str, active: &str, e: ApiError) -> Response {
    (
        e.status,
        layout(
            title,
            Some(who),
            active,
            &format!(
                "<h1>{}</h1><p class=\"error\" role=\"alert\">{}</p>",
                esc(title),
                esc(&e.detail)
            ),
        ),
    )
        .into_response()
}

/// A logged-in caller the policy lets read the picture's `view`.
async fn picture_caller(
    state: &AppState,
    headers: &HeaderMap,
    view: &str,
    title: &str,
) -> Result<Arc<Identity>, Response> {
    let who = page_caller(state, headers)?;
    match api::may_read_picture(state, &who, view).await {
        Ok(()) => Ok(who),
        Err(e) => Err(refused(&who, title, title, e)),
    }
}

fn layout(title: &str, who: Option<&Identity>, active: &str, body: &str) -> Html<String> {
    let nav = match who {
        Some(p) => {
            let mut n = String::from("<nav aria-label=\"Main\"><ul>");
            for (href, label) in [
                ("/", "Picture"),
                ("/schedule", "Schedule"),
                ("/people", "People"),
                ("/sitrep", "Sitrep"),
            ] {
                let cur = if label == active {
                    " aria-current=\"page\""
                } else {
                    ""
                };
                let _ = write!(n, "<li><a href=\"{href}\"{cur}>{label}</a></li>");
            }
            let _ = write!(
                n,
                "</ul><form method=\"post\" action=\"/logout\" class=\"who\"><span>{} · {} · {} · {}</span> <button type=\"submit\">Log out</button></form></nav>",
                esc(&p.subject),
                esc(&p.principal.agency),
                esc(&policy::roles(&p.principal)),
                esc(p.principal.clearance.banner())
            );
            n
        }
        None => String::new(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t} · Sallyport</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body>\
         <header class=\"top\"><p class=\"brand\">Sallyport <span>common operating picture</span></p>{nav}</header>\
         <main id=\"main\">{body}</main><footer><p>Synthetic data only. Borders: Natural Earth (public domain), for orientation only.</p></footer>\
         <script src=\"/assets/app.js\" defer></script></body></html>",
        t = esc(title)
    ))
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

async fn login_form() -> Html<String> {
    layout("Log in", None, "", &login_body(None))
}

fn login_body(error: Option<&str>) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    format!(
        "<h1>Log in</h1>{err}<form method=\"post\" action=\"/login\" class=\"login\">\
         <label for=\"username\">User name</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Log in</button></form>"
    )
}

async fn login(
    State(state): State<AppState>,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return ApiError::bad_request("send username and password as an HTML form").into_response();
    };
    if let Err(e) = state.check_rate(&format!("login:{}", f.username)) {
        return e.into_response();
    }
    match state.auth().login(&f.username, &f.password) {
        Ok((token, _)) => {
            let cookie = format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                crate::auth::SESSION_TTL.as_secs()
            );
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(_) => (
            StatusCode::UNAUTHORIZED,
            layout(
                "Log in",
                None,
                "",
                &login_body(Some("Unknown user or wrong password.")),
            ),
        )
            .into_response(),
    }
}

async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(t) = crate::auth::cookie(&headers, SESSION_COOKIE) {
        state.auth().logout(&t);
    }
    let clear = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

// ---- map ----

/// The map window: lon 36.5..46.5 E, lat 32..38 N, equirectangular with cos(35°) x-scaling.
pub const MAP_W: f64 = 900.0;
const LON0: f64 = 36.5;
const LON1: f64 = 46.5;
const LAT0: f64 = 32.0;
const LAT1: f64 = 38.0;

fn map_h() -> f64 {
    let k = ((LAT0 + LAT1) / 2.0).to_radians().cos();
    MAP_W * (LAT1 - LAT0) / ((LON1 - LON0) * k)
}

/// Project a WGS84 position into map pixels.
pub fn project(lat: f64, lon: f64) -> (f64, f64) {
    (
        (lon - LON0) / (LON1 - LON0) * MAP_W,
        (LAT1 - lat) / (LAT1 - LAT0) * map_h(),
    )
}

/// SVG paths of the country borders, computed once.
fn border_paths() -> &'static str {
    static PATHS: OnceLock<String> = OnceLock::new();
    PATHS.get_or_init(|| {
        let mut out = String::new();
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(BORDERS) else {
            return out;
        };
        for f in doc["features"].as_array().into_iter().flatten() {
            let name = f["properties"]["name"].as_str().unwrap_or("");
            let mut d = String::new();
            for poly in f["geometry"]["coordinates"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for ring in poly.as_array().into_iter().flatten() {
                    for (i, p) in ring.as_array().into_iter().flatten().enumerate() {
                        let (lon, lat) =
                            (p[0].as_f64().unwrap_or(0.0), p[1].as_f64().unwrap_or(0.0));
                        let (x, y) = project(lat, lon);
                        let _ = write!(d, "{}{:.1},{:.1}", if i == 0 { "M" } else { "L" }, x, y);
                    }
                    d.push('Z');
                }
            }
            let cls = if matches!(name, "Syria" | "Iraq") {
                "country focus"
            } else {
                "country"
            };
            let _ = write!(
                out,
                "<path class=\"{cls}\" d=\"{d}\"><title>{}</title></path>",
                esc(name)
            );
        }
        out
    })
}

fn threat_class(t: &str) -> &'static str {
    match t {
        "low" => "t-low",
        "elevated" => "t-elevated",
        "high" => "t-high",
        "critical" => "t-critical",
        _ => "t-unassessed",
    }
}

fn map_svg(ov: &Overview) -> String {
    let h = map_h();
    let mut s = format!(
        "<svg id=\"map\" viewBox=\"0 0 {MAP_W} {h:.0}\" role=\"img\" aria-labelledby=\"map-title\"><title id=\"map-title\">Map of sites in Syria and Iraq coloured by threat level, with sorties in flight</title>\
         <rect width=\"{MAP_W}\" height=\"{h:.0}\" class=\"sea\"/>{}<g id=\"routes\"></g><g id=\"sorties\"></g><g id=\"sites\">",
        border_paths()
    );
    for site in &ov.sites {
        let (x, y) = project(site.lat, site.lon);
        let cls = threat_class(&site.threat);
        let shape = match site.kind.as_str() {
            "destination" => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"16\" height=\"16\" class=\"dest\"/>",
                x - 8.0,
                y - 8.0
            ),
            "staging_base" | "landing_zone" => {
                format!(
                    "<path d=\"M{x:.1},{:.1}L{:.1},{y:.1}L{x:.1},{:.1}L{:.1},{y:.1}Z\" class=\"base\"/>",
                    y - 8.0,
                    x + 8.0,
                    y + 8.0,
                    x - 8.0
                )
            }
            _ => {
                let r = 5.0 + (site.held_now as f64).sqrt() / 6.0;
                format!("<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" class=\"origin {cls}\"/>")
            }
        };
        let _ = write!(
            s,
            "<g class=\"site\" data-site=\"{id}\" data-x=\"{x:.1}\" data-y=\"{y:.1}\">{shape}<title>{name}: {held} held, threat {threat}</title>\
             <text x=\"{tx:.1}\" y=\"{ty:.1}\" class=\"label\">{id} <tspan class=\"held\" data-held=\"{id}\">{held}</tspan></text></g>",
            id = esc(&site.id),
            name = esc(&site.name),
            held = site.held_now,
            threat = esc(&site.threat),
            tx = x + 10.0,
            ty = y + 4.0,
        );
    }
    s.push_str("</g></svg>");
    s
}

fn kpi(id: &str, label: &str, v: u64) -> String {
    format!(
        "<div class=\"kpi\"><span class=\"v\" id=\"kpi-{id}\">{v}</span><span class=\"l\">{label}</span></div>"
    )
}

fn alerts_list(ov: &Overview) -> String {
    let mut s = String::from("<ul id=\"alerts\" class=\"alerts\">");
    if ov.alerts.is_empty() {
        s.push_str("<li class=\"none\">No alerts.</li>");
    }
    for a in ov.alerts.iter().take(20) {
        let _ = write!(
            s,
            "<li class=\"sev-{}\"><time datetime=\"{}\">{}</time> <strong>{}</strong> {} {}</li>",
            esc(&a.severity),
            a.at.to_rfc3339(),
            a.at.format("%d %b %H:%M"),
            esc(&a.severity),
            esc(a.site.as_deref().unwrap_or("")),
            esc(&a.message)
        );
    }
    s.push_str("</ul>");
    s
}

async fn picture(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let who = match picture_caller(&state, &headers, "overview", "Picture").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let ov = match api::overview_model(&state, &who).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let mut b = format!(
        "<h1>{}</h1><p class=\"sub\">Updated <time id=\"generated\">{}</time> · <span id=\"live-status\" role=\"status\">connecting…</span></p>",
        esc(ov.operation.as_deref().unwrap_or("No operation loaded")),
        ov.generated_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    let _ = write!(
        b,
        "<p class=\"sub\">Operation run: <span id=\"op-state\">{}</span> · headcounts: <span id=\"headcount-source\">{}</span></p>",
        esc(ov.operation_state.as_deref().unwrap_or("none recorded")),
        esc(&ov.headcount_source)
    );
    b.push_str("<section class=\"kpis\" aria-label=\"Totals\">");
    b.push_str(&kpi("total", "in custody", ov.total_in_custody));
    b.push_str(&kpi("origins", "at origin sites", ov.at_origins));
    b.push_str(&kpi("transit", "at staging bases", ov.in_transit));
    b.push_str(&kpi("delivered", "delivered", ov.delivered));
    b.push_str("</section><div class=\"grid\"><section class=\"mapbox\" aria-labelledby=\"h-map\"><h2 id=\"h-map\">Map</h2>");
    b.push_str(&map_svg(&ov));
    b.push_str(
        "<ul class=\"legend\" aria-label=\"Legend\"><li><span class=\"sw t-unassessed\"></span>unassessed</li><li><span class=\"sw t-low\"></span>low</li>\
         <li><span class=\"sw t-elevated\"></span>elevated</li><li><span class=\"sw t-high\"></span>high</li><li><span class=\"sw t-critical\"></span>critical</li>\
         <li><span class=\"sw base\"></span>staging base</li><li><span class=\"sw dest\"></span>destination</li><li><span class=\"sw sortie\"></span>sortie in flight</li></ul>",
    );
    let _ = write!(
        b,
        "<p class=\"sub\" id=\"threat-basis\">Threat: {}</p></section>",
        esc(&ov.threat_basis)
    );
    b.push_str("<section aria-labelledby=\"h-alerts\"><h2 id=\"h-alerts\">Alerts</h2>");
    b.push_str(&alerts_list(&ov));
    b.push_str("<h2 id=\"h-feed\">Live feed</h2><ol id=\"feed\" class=\"feed\" aria-labelledby=\"h-feed\" aria-live=\"polite\"></ol></section></div>");
    b.push_str(&headcounts(&ov));
    let sites_json = serde_json::to_string(
        &ov.sites
            .iter()
            .map(|s| (s.id.clone(), project(s.lat, s.lon)))
            .collect::<std::collections::BTreeMap<_, _>>(),
    )
    .unwrap_or_else(|_| "{}".into());
    let _ = write!(
        b,
        "<script type=\"application/json\" id=\"site-xy\">{}</script>",
        sites_json.replace('<', "\\u003c")
    );
    layout("Picture", Some(&who), "Picture", &b).into_response()
}

fn headcounts(ov: &Overview) -> String {
    let mut b = String::from(
        "<section aria-labelledby=\"h-heads\"><h2 id=\"h-heads\">Headcounts per site</h2><table id=\"headcounts\"><thead><tr>\
         <th scope=\"col\">Site</th><th scope=\"col\">Kind</th><th scope=\"col\">Operator</th><th scope=\"col\" class=\"n\">Held now</th>\
         <th scope=\"col\" class=\"n\">Capacity</th><th scope=\"col\" class=\"n\">Reported</th><th scope=\"col\">Threat</th>\
         <th scope=\"col\" class=\"n\">Field count (24 h)</th><th scope=\"col\">Reconciliation</th></tr></thead><tbody>",
    );
    for s in &ov.sites {
        let _ = write!(
            b,
            "<tr data-row=\"{id}\"><th scope=\"row\"><a href=\"/people?site={id}\">{name}</a></th><td>{kind}</td><td>{op}</td>\
             <td class=\"n\" data-cell=\"held\">{held}</td><td class=\"n\">{cap}</td><td class=\"n\">{rep}</td><td><span class=\"badge {tc}\" data-threat-source=\"{tsrc}\" title=\"{tdet}\">{threat}</span></td>\
             <td class=\"n\">{fc}</td><td class=\"rec-{rec}\">{recl}</td></tr>",
            id = esc(&s.id),
            name = esc(&s.name),
            kind = esc(&s.kind.replace('_', " ")),
            op = esc(&s.operator),
            held = s.held_now,
            cap = s.holding_capacity,
            rep = s.reported_population,
            tc = threat_class(&s.threat),
            threat = esc(&s.threat),
            tsrc = esc(&s.threat_source),
            tdet = esc(s
                .threat_detail
                .as_deref()
                .unwrap_or("no threat-watch assessment")),
            fc = s.field_count.map_or("–".to_string(), |c| c.to_string()),
            rec = esc(&s.reconciliation),
            recl = esc(&s.reconciliation.replace('_', " ")),
        );
    }
    let open = ov
        .sites
        .iter()
        .filter(|s| s.reconciliation == "discrepancy")
        .count();
    let _ = write!(
        b,
        "</tbody></table><p>Open discrepancies: <strong id=\"open-discrepancies\">{open}</strong></p>"
    );
    b.push_str(
        "<h2 id=\"h-cust\">Headcounts per custodian</h2><table id=\"custody\" aria-labelledby=\"h-cust\"><thead><tr><th scope=\"col\">Site</th>\
         <th scope=\"col\">Custodian</th><th scope=\"col\" class=\"n\">People</th></tr></thead><tbody>",
    );
    for c in &ov.custody {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&c.site),
            esc(&c.custodian),
            c.people
        );
    }
    b.push_str("</tbody><tfoot>");
    for (c, n) in &ov.per_custodian {
        let _ = write!(
            b,
            "<tr><th scope=\"row\" colspan=\"2\">Total, {}</th><td class=\"n\">{n}</td></tr>",
            esc(c)
        );
    }
    b.push_str("</tfoot></table></section>");
    b
}

/// Cumulative delivered vs plan as an SVG line chart.
pub fn progress_chart(days: &[DayProgress]) -> String {
    let (w, h, pad) = (640.0, 220.0, 36.0);
    let max = days
        .iter()
        .map(|d| d.planned_cumulative.max(d.cumulative))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = days.len().max(2) as f64;
    let pt = |i: usize, v: u64| {
        (
            pad + (w - 2.0 * pad) * i as f64 / (n - 1.0),
            h - pad - (h - 2.0 * pad) * v as f64 / max,
        )
    };
    let line = |f: &dyn Fn(&DayProgress) -> u64| {
        days.iter()
            .enumerate()
            .map(|(i, d)| {
                let (x, y) = pt(i, f(d));
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"chart-t\"><title id=\"chart-t\">People delivered per day, cumulative, against the plan</title>\
         <line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" class=\"axis\"/><line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{y0}\" class=\"axis\"/>\
         <text x=\"2\" y=\"{pad}\" class=\"tick\">{max}</text><text x=\"20\" y=\"{y0}\" class=\"tick\">0</text>",
        y0 = h - pad,
        x1 = w - pad,
        max = max as u64
    );
    for (i, d) in days.iter().enumerate() {
        let (x, _) = pt(i, 0);
        let bh = (h - 2.0 * pad) * d.moved as f64 / max;
        let ph = (h - 2.0 * pad) * d.planned as f64 / max;
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"5\" height=\"{ph:.1}\" class=\"pbar\"><title>{}: {} planned</title></rect>\
             <rect x=\"{:.1}\" y=\"{:.1}\" width=\"5\" height=\"{bh:.1}\" class=\"bar\"><title>{}: {} moved</title></rect>",
            x - 5.0,
            h - pad - ph,
            d.date,
            d.planned,
            x,
            h - pad - bh,
            d.date,
            d.moved
        );
    }
    let _ = write!(
        s,
        "<polyline points=\"{}\" class=\"plan\"/><polyline points=\"{}\" class=\"actual\"/>",
        line(&|d| d.planned_cumulative),
        line(&|d| d.cumulative)
    );
    if let (Some(f), Some(l)) = (days.first(), days.last()) {
        let _ = write!(
            s,
            "<text x=\"{pad}\" y=\"{}\" class=\"tick\">{}</text><text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>",
            h - 10.0,
            f.date,
            w - pad - 60.0,
            h - 10.0,
            l.date
        );
    }
    s.push_str("</svg><p class=\"key\"><span class=\"sw actual\"></span>delivered (cumulative) <span class=\"sw plan\"></span>plan (cumulative) <span class=\"sw bar\"></span>moved that day <span class=\"sw pbar\"></span>planned that day</p>");
    s
}

/// The Gantt chart of the plan in force: one line per aircraft, one bar per
/// sortie (positioning to landing), coloured by status at the operation clock.
pub fn gantt_svg(sched: &Schedule) -> String {
    let (Some(start), Some(end)) = (sched.start, sched.end) else {
        return String::new();
    };
    let end = end.max(start + chrono::Duration::hours(24));
    let span = (end - start).num_seconds().max(1) as f64;
    let (w, left, rh) = (1100.0, 96.0, 20.0);
    let xs = |t: DateTime<Utc>| {
        left + (w - left - 10.0) * ((t - start).num_seconds() as f64 / span).clamp(0.0, 1.0)
    };
    let h = 30.0 + rh * sched.aircraft.len().max(1) as f64;
    let n: usize = sched.aircraft.iter().map(|a| a.sorties.len()).sum();
    let mut g = format!(
        "<svg class=\"gantt\" id=\"gantt\" data-plan=\"{plan}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"gantt-t\"><title id=\"gantt-t\">Gantt chart of the plan in force: {n} sorties on {} aircraft; landed sorties dark, airborne purple, scheduled light; the red line is now</title>",
        sched.aircraft.len(),
        plan = sched
            .plan
            .as_ref()
            .map_or(String::new(), |p| p.id.to_string()),
    );
    let days = (end - start).num_days().max(1);
    let step = (days / 12).max(1);
    let mut d = start.date_naive();
    while d <= end.date_naive() {
        let t = DateTime::<Utc>::from_naive_utc_and_offset(
            d.and_hms_opt(0, 0, 0).unwrap_or_default(),
            Utc,
        );
        if t >= start {
            let x = xs(t);
            let _ = write!(
                g,
                "<line x1=\"{x:.1}\" y1=\"18\" x2=\"{x:.1}\" y2=\"{h}\" class=\"grid\"/>"
            );
            if (t - start).num_days() % step == 0 {
                let _ = write!(
                    g,
                    "<text x=\"{:.1}\" y=\"12\" class=\"tick\">{}</text>",
                    x + 2.0,
                    d.format("%d %b")
                );
            }
        }
        d = match d.succ_opt() {
            Some(n) => n,
            None => break,
        };
    }
    for (i, a) in sched.aircraft.iter().enumerate() {
        let y = 22.0 + rh * i as f64;
        let _ = write!(
            g,
            "<text x=\"4\" y=\"{:.1}\" class=\"rowlabel\">{}</text>",
            y + 12.0,
            esc(&a.tail)
        );
        for b in &a.sorties {
            let (x0, x1) = (xs(b.depart), xs(b.arrive));
            let _ = write!(
                g,
                "<rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"14\" class=\"sortie s-{st}\" data-sortie=\"{name}\"><title>{name} {tail}: {o} to {to}, {p} people ({cat}), {dep} to {arr} UTC, {st}</title></rect>",
                (x1 - x0).max(1.5),
                st = esc(&b.status),
                name = esc(&b.name),
                tail = esc(&a.tail),
                o = esc(&b.origin),
                to = esc(&b.to),
                p = b.people,
                cat = esc(&b.category.replace('_', " ")),
                dep = b.depart.format("%d %b %H:%M"),
                arr = b.arrive.format("%d %b %H:%M"),
            );
        }
    }
    if sched.now >= start && sched.now <= end {
        let xn = xs(sched.now);
        let _ = write!(
            g,
            "<line x1=\"{xn:.1}\" y1=\"18\" x2=\"{xn:.1}\" y2=\"{h}\" class=\"now\"/>"
        );
    }
    g.push_str("</svg><p class=\"key\"><span class=\"sw s-landed\"></span>landed <span class=\"sw s-airborne\"></span>airborne <span class=\"sw s-scheduled\"></span>scheduled</p>");
    g
}

/// Origins against the plan in force: a bar from start to deadline, filled by the share moved out, marked at the share due.
fn origins_svg(sched: &Schedule) -> String {
    let (Some(start), Some(end)) = (sched.start, sched.end) else {
        return String::new();
    };
    let end = sched
        .origins
        .iter()
        .map(|r| r.deadline)
        .fold(end, |a, b| a.max(b));
    let span = (end - start).num_seconds().max(1) as f64;
    let (w, left, rh) = (900.0, 210.0, 30.0);
    let xs = |t: DateTime<Utc>| {
        left + (w - left - 90.0) * ((t - start).num_seconds() as f64 / span).clamp(0.0, 1.0)
    };
    let h = 12.0 + rh * sched.origins.len() as f64;
    let mut g = format!(
        "<svg class=\"gantt\" id=\"origins-chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"orig-t\"><title id=\"orig-t\">Origins: bar from start to deadline; dark fill is the share moved out, the black mark the share due by now</title>"
    );
    for (i, r) in sched.origins.iter().enumerate() {
        let y = 6.0 + rh * i as f64;
        let (x0, x1) = (xs(r.start), xs(r.deadline));
        let late = r.due - r.done > 0.10;
        let _ = write!(
            g,
            "<text x=\"4\" y=\"{:.1}\" class=\"rowlabel\">{}</text><rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"18\" class=\"span{}\"/>\
             <rect x=\"{x0:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"18\" class=\"done\"><title>{}: {:.0}% moved, {:.0}% due</title></rect>\
             <line x1=\"{xd:.1}\" y1=\"{:.1}\" x2=\"{xd:.1}\" y2=\"{:.1}\" class=\"due\"/><text x=\"{:.1}\" y=\"{:.1}\" class=\"pct\">{:.0}% of {}</text>",
            y + 13.0,
            esc(&r.name.chars().take(30).collect::<String>()),
            (x1 - x0).max(1.0),
            if late { " late" } else { "" },
            (x1 - x0) * r.done,
            esc(&r.name),
            r.done * 100.0,
            r.due * 100.0,
            y - 2.0,
            y + 20.0,
            x1 + 4.0,
            y + 13.0,
            r.done * 100.0,
            r.reported_population,
            xd = x0 + (x1 - x0) * r.due,
        );
    }
    g.push_str("</svg>");
    g
}

async fn schedule(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let who = match picture_caller(&state, &headers, "schedule", "Schedule").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let result: Result<String, ApiError> = async {
        let ov = api::overview_model(&state, &who).await?;
        let sched = api::schedule_model(&state, &who).await?;
        if sched.start.is_none() {
            return Ok("<h1>Schedule</h1><p>No operation loaded.</p>".into());
        }
        let mut t = String::from(
            "<table id=\"origins\"><thead><tr><th scope=\"col\">Origin</th><th scope=\"col\">Deadline</th><th scope=\"col\">Plan empties it</th><th scope=\"col\" class=\"n\">Still held</th>\
             <th scope=\"col\" class=\"n\">Moved</th><th scope=\"col\" class=\"n\">Due by now</th><th scope=\"col\">State</th></tr></thead><tbody>",
        );
        for r in &sched.origins {
            let _ = write!(
                t,
                "<tr><th scope=\"row\">{}</th><td>{}{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.0}%</td><td class=\"n\">{:.0}%</td><td>{}</td></tr>",
                esc(&r.name),
                r.deadline.format("%Y-%m-%d %H:%M"),
                if r.deadline_stated { "" } else { " (operation end)" },
                r.planned_emptied.map_or("–".to_string(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                r.held_now,
                r.done * 100.0,
                r.due * 100.0,
                if r.due - r.done > 0.10 { "behind plan" } else { "on plan" }
            );
        }
        t.push_str("</tbody></table>");
        let progress = api::progress_model(&state, &who).await?;
        let plan = match &sched.plan {
            Some(p) => format!(
                "<p id=\"plan-info\">Plan {} ({}): {} sorties, {} people, makespan {:.1} days, {} deadline misses. {}</p>\
                 <p>At <span id=\"sched-clock\">{} ({})</span>: <strong id=\"sorties-landed\">{}</strong> sorties landed, <strong>{}</strong> airborne, <strong>{}</strong> scheduled; \
                 the plan has delivered <strong id=\"planned-by-now\">{}</strong> by now, <strong id=\"delivered-now\">{}</strong> are at the destination.</p>",
                p.id,
                esc(&p.note),
                p.sorties,
                p.people_moved,
                p.makespan_days,
                p.deadline_misses,
                esc(&sched.basis),
                sched.now.format("%Y-%m-%d %H:%M UTC"),
                esc(&sched.clock),
                sched.sorties_landed,
                sched.sorties_airborne,
                sched.sorties_scheduled,
                sched.planned_delivered_by_now,
                sched.delivered
            ),
            None => format!("<p id=\"plan-info\">{}</p>", esc(&sched.basis)),
        };
        Ok(format!(
            "<h1>Schedule</h1><p class=\"sub\"><span id=\"live-status\" role=\"status\">connecting…</span></p>{plan}<section aria-labelledby=\"h-g\"><h2 id=\"h-g\">Sorties per aircraft</h2>{}</section>\
             <section aria-labelledby=\"h-o\"><h2 id=\"h-o\">Origins against the plan</h2>{}{t}</section>\
             <section aria-labelledby=\"h-p\"><h2 id=\"h-p\">People moved per day against plan</h2>{}</section><section aria-labelledby=\"h-a\"><h2 id=\"h-a\">Alerts</h2>{}</section>",
            gantt_svg(&sched),
            origins_svg(&sched),
            progress_chart(&progress),
            alerts_list(&ov)
        ))
    }
    .await;
    match result {
        Ok(b) => layout("Schedule", Some(&who), "Schedule", &b).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
pub struct PeopleQ {
    site: Option<String>,
    offset: Option<usize>,
}

async fn people(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<PeopleQ>, QueryRejection>,
) -> Response {
    let who = match page_caller(&state, &headers) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Err(e) = state.policy().people_at_all(&who, &Action::Read) {
        return refused(&who, "People", "People", e);
    }
    let offset = q.offset.unwrap_or(0);
    let page = match api::people_page(&state, &who, q.site.as_deref(), offset, 100).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let total = page.total as usize;
    let offset = offset.min(total);
    api::audit_read(&who, "people list", page.items.len());
    let mut b = format!(
        "<h1>People{}</h1><p>{} people you may see. Showing {}–{}. <a href=\"/api/v1/export/people\" download>Export (JSON, redacted for you)</a></p>\
         <table id=\"people\"><thead><tr><th scope=\"col\">Id</th><th scope=\"col\">Name</th>\
         <th scope=\"col\">Category</th><th scope=\"col\">Risk</th><th scope=\"col\">Site</th><th scope=\"col\">Custodian</th></tr></thead><tbody>",
        q.site
            .as_deref()
            .map(|s| format!(" at {}", esc(s)))
            .unwrap_or_default(),
        total,
        if total == 0 { 0 } else { offset + 1 },
        (offset + 100).min(total)
    );
    for p in &page.items {
        let _ = write!(
            b,
            "<tr><td><a href=\"/people/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(p.display_name()),
            esc(&p.category.replace('_', " ")),
            esc(p.risk.as_deref().unwrap_or("withheld")),
            esc(&p.site),
            esc(&p.custodian),
            id = esc(&p.id)
        );
    }
    b.push_str("</tbody></table>");
    if offset + 100 < total {
        let site = q
            .site
            .as_deref()
            .map(|s| format!("site={}&amp;", esc(s)))
            .unwrap_or_default();
        let _ = write!(
            b,
            "<p><a href=\"/people?{site}offset={}\">Next 100</a></p>",
            offset + 100
        );
    }
    layout("People", Some(&who), "People", &b).into_response()
}

async fn person(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Response {
    let who = match caller {
        Ok(Caller(p)) => p,
        Err(_) => return Redirect::to("/login").into_response(),
    };
    if let Err(e) = state.policy().people_at_all(&who, &Action::Read) {
        return refused(&who, "Person", "People", e);
    }
    let d = match api::person_model(&state, &who, &id).await {
        Ok(d) => d,
        Err(e) => return refused(&who, "Person", "People", e),
    };
    let p = &d.person;
    const WITHHELD: &str = "<span class=\"withheld\">withheld (not releasable to you)</span>";
    let mark = |ptr: &str| {
        p.markings
            .get(ptr)
            .map(|m| format!(" <span class=\"portion\">{}</span>", esc(m)))
            .unwrap_or_default()
    };
    let mut b = format!(
        "<h1>{name} <span class=\"pid\">{id}</span></h1>{ar}<p class=\"banner\">Record {rec}</p>",
        name = esc(p.display_name()),
        id = esc(&p.id),
        ar = p
            .identity
            .as_ref()
            .map(|i| format!(
                "<p lang=\"ar\" dir=\"rtl\" class=\"ar\">{}</p>",
                esc(&i.name_ar)
            ))
            .unwrap_or_default(),
        rec = mark(""),
    );
    b.push_str("<section aria-labelledby=\"h-id\"><h2 id=\"h-id\">Identity</h2><dl class=\"facts\" id=\"identity\">");
    match &p.identity {
        Some(i) => {
            let _ = write!(
                b,
                "<dt>Name{m}</dt><dd>{name}</dd><dt>Aliases</dt><dd>{aliases}</dd><dt>Date of birth</dt><dd>{dob}</dd><dt>Sex</dt><dd>{sex}</dd><dt>Nationality</dt><dd>{nat}</dd>",
                m = mark("/identity"),
                name = esc(&i.name_latin),
                aliases = if i.aliases.is_empty() {
                    "none".into()
                } else {
                    esc(&i.aliases.join(", "))
                },
                dob = esc(&i.date_of_birth),
                sex = esc(&i.sex),
                nat = esc(&i.nationality),
            );
        }
        None => {
            let _ = write!(b, "<dt>Identity</dt><dd>{WITHHELD}</dd>");
        }
    }
    let _ = write!(
        b,
        "<dt>Category</dt><dd>{cat}</dd><dt>Legal status</dt><dd>{legal}</dd><dt>Now at</dt><dd id=\"now-at\">{site}, custody of {cust}</dd>",
        cat = esc(&p.category.replace('_', " ")),
        legal = esc(&p.legal_status.replace('_', " ")),
        site = esc(&p.site),
        cust = esc(&p.custodian),
    );
    match &p.risk {
        Some(r) => {
            let _ = write!(
                b,
                "<dt>Risk{m}</dt><dd id=\"risk\">{r}</dd><dt>Separation groups</dt><dd>{g}</dd>",
                m = mark("/risk"),
                r = esc(r),
                g = match p.separation_groups.as_deref() {
                    Some([]) | None => "none".into(),
                    Some(g) => esc(&g.join(", ")),
                }
            );
        }
        None => {
            let _ = write!(b, "<dt>Risk</dt><dd id=\"risk\">{WITHHELD}</dd>");
        }
    }
    match &p.medical {
        Some(m) => {
            let _ = write!(
                b,
                "<dt>Medical{mk}</dt><dd>{fit}, escort {escort}</dd>",
                mk = mark("/medical"),
                fit = if m.fit_to_fly {
                    "fit to fly"
                } else {
                    "NOT fit to fly"
                },
                escort = esc(&m.escort)
            );
        }
        None => {
            let _ = write!(b, "<dt>Medical</dt><dd>{WITHHELD}</dd>");
        }
    }
    let _ = write!(
        b,
        "<dt>Biometric enrolment</dt><dd>{bio} <span class=\"sub\">({biod})</span></dd></dl></section>",
        bio = esc(&d.biometrics.status.replace('_', " ")),
        biod = esc(&d.biometrics.detail),
    );
    if !p.intel_notes.is_empty() {
        b.push_str("<section aria-labelledby=\"h-notes\"><h2 id=\"h-notes\">Intelligence notes</h2><ul id=\"intel-notes\">");
        for n in &p.intel_notes {
            let _ = write!(
                b,
                "<li><span class=\"portion\">{}</span> {} <span class=\"sub\">({})</span></li>",
                esc(&n.marking),
                esc(&n.text),
                esc(&n.originator)
            );
        }
        b.push_str("</ul></section>");
    }
    b.push_str("<section aria-labelledby=\"h-tl\"><h2 id=\"h-tl\">Custody timeline</h2>");
    if d.timeline.is_empty() {
        b.push_str("<p id=\"timeline-empty\">No custody events recorded since the scenario was loaded.</p>");
    } else {
        b.push_str("<ol class=\"timeline\" id=\"timeline\">");
        for e in &d.timeline {
            let _ = write!(
                b,
                "<li><time datetime=\"{}\">{}</time> <strong>{}</strong> at {} · custody {} · device {} #{}</li>",
                e.at.to_rfc3339(),
                e.at.format("%Y-%m-%d %H:%M"),
                e.kind.as_str(),
                esc(&e.site),
                esc(&e.custodian),
                esc(&e.device),
                e.seq
            );
        }
        b.push_str("</ol>");
    }
    b.push_str("</section>");
    layout(p.display_name(), Some(&who), "People", &b).into_response()
}

#[derive(Deserialize)]
pub struct DateQ {
    date: Option<chrono::NaiveDate>,
}

/// The printable sitrep page.
pub fn sitrep_html(r: &Sitrep) -> String {
    let t = &r.totals;
    let list = |items: &[String]| {
        if items.is_empty() {
            "<p>None.</p>".to_string()
        } else {
            format!(
                "<ul>{}</ul>",
                items
                    .iter()
                    .map(|i| format!("<li>{}</li>", esc(i)))
                    .collect::<String>()
            )
        }
    };
    let mut mv = String::from(
        "<table><thead><tr><th scope=\"col\">Event</th><th scope=\"col\">Site</th><th scope=\"col\">Custodian</th><th scope=\"col\" class=\"n\">People</th></tr></thead><tbody>",
    );
    for m in &r.movements {
        let _ = write!(
            mv,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            esc(&m.kind),
            esc(&m.site),
            esc(&m.custodian),
            m.people
        );
    }
    if r.movements.is_empty() {
        mv.push_str("<tr><td colspan=\"4\">No movements recorded this day.</td></tr>");
    }
    mv.push_str("</tbody></table>");
    let threats: Vec<String> = r
        .threats
        .iter()
        .map(|a| {
            format!(
                "[{}] {} {}",
                a.severity,
                a.site.as_deref().unwrap_or("-"),
                a.message
            )
        })
        .collect();
    format!(
        "<article class=\"sitrep\"><h1>Situation report, {date}</h1><p>{op} · generated {gen}</p>\
         <p class=\"noprint\"><a id=\"sitrep-pdf\" href=\"/api/v1/sitrep.pdf?date={date}\" download>Download PDF</a> · <a href=\"/sitrep?date={date}\">Permalink</a></p>\
         <section aria-labelledby=\"s-t\"><h2 id=\"s-t\">Totals</h2><dl class=\"facts\"><dt>Planned</dt><dd>{pl}</dd><dt>In custody</dt><dd>{ic}</dd><dt>Delivered</dt><dd id=\"sitrep-delivered\">{de}</dd>\
         <dt>At origins</dt><dd>{ao}</dd><dt>In transit</dt><dd>{it}</dd><dt>Sorties landed</dt><dd>{sl}</dd>\
         <dt>Moved today</dt><dd id=\"sitrep-moved\">{mt}</dd><dt>Planned today</dt><dd id=\"sitrep-planned\">{pt}</dd><dt>Sorties of the plan landing today</dt><dd>{sp}</dd></dl><p class=\"sub\">{plan}</p></section>\
         <section aria-labelledby=\"s-m\"><h2 id=\"s-m\">Movements</h2>{mv}</section>\
         <section aria-labelledby=\"s-d\"><h2 id=\"s-d\">Delays</h2>{delays}</section>\
         <section aria-labelledby=\"s-r\"><h2 id=\"s-r\">Disruptions and re-plans</h2>{disruptions}</section>\
         <section aria-labelledby=\"s-th\"><h2 id=\"s-th\">Threats and alerts</h2>{threats}</section>\
         <section aria-labelledby=\"s-x\"><h2 id=\"s-x\">Discrepancies</h2>{disc}</section>\
         <section aria-labelledby=\"s-c\"><h2 id=\"s-c\">People moved per day against plan</h2>{chart}</section></article>",
        date = r.date,
        op = esc(r.operation.as_deref().unwrap_or("No operation loaded")),
        gen = r.generated_at.format("%Y-%m-%d %H:%M UTC"),
        pl = t.planned,
        ic = t.in_custody,
        de = t.delivered,
        ao = t.at_origins,
        it = t.in_transit,
        sl = r.sorties_landed,
        mt = r.moved,
        pt = r.planned,
        sp = r.sorties_planned,
        plan = esc(&r.plan),
        delays = list(&r.delays),
        disruptions = list(&r.disruptions),
        threats = list(&threats),
        disc = list(&r.discrepancies),
        chart = progress_chart(&r.progress),
    )
}

async fn sitrep_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<DateQ>, QueryRejection>,
) -> Response {
    let who = match picture_caller(&state, &headers, "sitrep", "Sitrep").await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let date = match q {
        Ok(Query(q)) => q.date,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match sitrep::build(&state, &who, date).await {
        Ok(r) => layout(
            &format!("Sitrep {}", r.date),
            Some(&who),
            "Sitrep",
            &sitrep_html(&r),
        )
        .into_response(),
        Err(e) => e.into_response(),
    }
}
