//! The facility threat model: a space–time kernel over conflict events.
//!
//! For site `s` and day `d`, with only events *known* by `d` (end date ≤ d):
//!
//! ```text
//! I(s,d) = Σ_e  w_kind(e) · (1 + f·ln(1 + deaths_e)) · K_space(dist, σ_e) · T(d - t_e)
//! T(a)   = exp(-a/τ)/τ + w_long · exp(-a/τ_long)/τ_long
//! K_space = P(the event's true place is within R of the site)      (disk kernel, default)
//!         = ∫_0^R (r/σ_e²) · exp(-(r² + dist²)/(2σ_e²)) · I₀(r·dist/σ_e²) dr
//! rate(s,d) = 1 + I(s,d) / I_ref
//! ```
//!
//! `K_space` is the probability that the event really happened within the
//! danger radius R (default 50 km, the distance at which fighting threatens a
//! facility, and the radius of the backtest's target) of the site, when its
//! true place is Gaussian around the reported point with the location
//! uncertainty σ_e of its precision code (half the uncertainty radius of
//! [`Event::uncertainty_km`], so that radius holds 86 % of the probability):
//! an exactly placed event 30 km away counts 1, one 60 km away 0; a
//! governorate-level event (σ 50 km) reported at the site counts only
//! 1 − exp(−R²/2σ²) ≈ 0.39 (it is spread over the governorate), but reaches
//! further. The older kernel, a Gaussian distance decay of length λ
//! convolved with a Gaussian whose σ is the whole uncertainty radius
//! (λ²/(λ²+σ²)·exp(−dist²/2(λ²+σ²))), is kept as [`SpaceKernel::Gaussian`]
//! for comparison. `I` has the unit
//! *weighted events per day* (an exact-location, zero-death battle within R
//! contributes a total of 1 over time); `rate` is a dimensionless relative
//! hazard, 1.0 = no recent conflict nearby, which is what the planner's
//! default for an unlisted site means too. Exposure = Σ hours × rate is then
//! in *hazard-weighted hours*.
//!
//! Daily series are computed with exponential recursions (O(days + events) per
//! site); events near a site come from a grid index, so assessing every site
//! for every day of ten years takes milliseconds.

use std::collections::HashMap;

use chrono::NaiveDate;
use sallyport_core::{Site, SiteId};
use serde::{Deserialize, Serialize};

use crate::event::{day_date, day_number, Event, EventKind, Source};

/// Weights per event type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KindWeights {
    pub state_based: f64,
    pub non_state: f64,
    pub one_sided: f64,
    pub battles: f64,
    pub explosions_remote_violence: f64,
    pub violence_against_civilians: f64,
    pub riots: f64,
    pub protests: f64,
    pub strategic_developments: f64,
}

impl Default for KindWeights {
    fn default() -> Self {
        KindWeights {
            state_based: 1.0,
            non_state: 1.0,
            one_sided: 1.2,
            battles: 1.0,
            explosions_remote_violence: 1.0,
            violence_against_civilians: 1.2,
            riots: 0.3,
            protests: 0.05,
            strategic_developments: 0.2,
        }
    }
}

impl KindWeights {
    pub fn get(&self, k: EventKind) -> f64 {
        match k {
            EventKind::StateBased => self.state_based,
            EventKind::NonState => self.non_state,
            EventKind::OneSided => self.one_sided,
            EventKind::Battles => self.battles,
            EventKind::ExplosionsRemoteViolence => self.explosions_remote_violence,
            EventKind::ViolenceAgainstCivilians => self.violence_against_civilians,
            EventKind::Riots => self.riots,
            EventKind::Protests => self.protests,
            EventKind::StrategicDevelopments => self.strategic_developments,
        }
    }
}

/// The spatial kernel: how much an event counts at a site, from its distance
/// and its location uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceKernel {
    /// Probability that the event's true place is within `radius_km` of the site.
    Disk,
    /// Gaussian distance decay of length `length_km`, convolved with the uncertainty.
    Gaussian,
}

/// Model parameters. Defaults were chosen on the tuning period (before
/// 2018-01-01) only; see docs/architecture/threat.md for what was tried and
/// what each change did on the tuning and the held-out period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelParams {
    pub kernel: SpaceKernel,
    /// Danger radius R of the disk kernel, km.
    pub radius_km: f64,
    /// The disk kernel's σ_e as a fraction of the event's uncertainty radius
    /// ([`Event::uncertainty_km`]); 0.5 reads that radius as 2σ, which holds
    /// 86 % of a circular Gaussian.
    pub disk_sigma_ratio: f64,
    /// Distance-decay length λ of the Gaussian kernel, km (standard deviation).
    pub length_km: f64,
    /// Time-decay constant τ of the threat intensity, days.
    pub tau_days: f64,
    /// A slow second component: I = I_τ + long_weight · I_τlong, both in
    /// weighted events per day (0 = off). It keeps the memory that a place
    /// is a battlefield after a lull.
    pub long_weight: f64,
    pub long_tau_days: f64,
    /// Fast and slow decay constants for the trend and the advance, days.
    pub tau_fast_days: f64,
    pub tau_slow_days: f64,
    /// Fatality weight f in `1 + f·ln(1 + deaths)`.
    pub fatality_weight: f64,
    pub kinds: KindWeights,
    /// Reference intensity I_ref (weighted events/day) that doubles the rate.
    pub reference_intensity: f64,
    /// Radius within which precisely located events drive the advance estimate, km.
    pub advance_radius_km: f64,
    /// Kernel cut-off, in kernel standard deviations.
    pub cutoff_sigmas: f64,
    /// Trend ratio fast/slow above which a trend is "rising" (below 1/x: "falling").
    pub trend_band: f64,
}

impl Default for ModelParams {
    fn default() -> Self {
        ModelParams {
            kernel: SpaceKernel::Disk,
            radius_km: 50.0,
            disk_sigma_ratio: 0.5,
            length_km: 30.0,
            tau_days: 30.0,
            long_weight: 0.0,
            long_tau_days: 180.0,
            tau_fast_days: 7.0,
            tau_slow_days: 30.0,
            fatality_weight: 1.0,
            kinds: KindWeights::default(),
            reference_intensity: 0.1,
            advance_radius_km: 150.0,
            cutoff_sigmas: 4.0,
            trend_band: 1.3,
        }
    }
}

/// Direction of the trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Rising,
    Steady,
    Falling,
}

/// Fast (τ_fast) vs slow (τ_slow) intensity: ratio > band means rising.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub fast: f64,
    pub slow: f64,
    /// fast / slow (1.0 when both are ~0).
    pub ratio: f64,
    pub direction: Direction,
}

/// Where the mass of recent fighting is, relative to the site, and how it moves.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Advance {
    /// Bearing from the site to the estimated front (the centroid of recent
    /// events carried forward by their velocity), degrees from north.
    pub bearing_deg: f64,
    /// Distance from the site to that front, km.
    pub distance_km: f64,
    /// Speed at which the centroid approaches the site, km/day (negative: receding).
    pub approach_km_per_day: f64,
    /// Estimated days until the centroid reaches the site, when approaching.
    pub eta_days: Option<f64>,
    /// Effective number of recent events behind the estimate.
    pub events: f64,
}

/// One site-day of the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayScore {
    pub day: NaiveDate,
    /// Weighted events per day (see module docs).
    pub intensity: f64,
    /// Relative hazard: 1 + intensity / reference_intensity.
    pub rate: f64,
    pub trend: Trend,
    pub advance: Option<Advance>,
}

/// A site's daily scores over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteSeries {
    pub site: SiteId,
    pub site_name: String,
    pub days: Vec<DayScore>,
}

impl SiteSeries {
    pub fn at(&self, day: NaiveDate) -> Option<&DayScore> {
        let first = self.days.first()?.day;
        let i = (day - first).num_days();
        if i < 0 {
            None
        } else {
            self.days.get(i as usize)
        }
    }
}

/// An event's share of a site-day's intensity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub source: Source,
    pub event_id: String,
    pub kind: EventKind,
    pub date_start: NaiveDate,
    pub date_end: NaiveDate,
    pub fatalities: u32,
    pub location: String,
    /// Distance from the site to the reported point, km.
    pub distance_km: f64,
    /// Radius the event was spread over, km (from its geo-precision code).
    pub uncertainty_km: f64,
    /// Its term of the intensity, weighted events/day.
    pub intensity: f64,
    /// Its share of the site-day's intensity, 0..=1.
    pub share: f64,
}

/// A site's threat on a day, with the events that made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    pub site: SiteId,
    pub site_name: String,
    pub day: NaiveDate,
    pub intensity: f64,
    pub rate: f64,
    /// Level of the rate alone (no hysteresis; alerts add it).
    pub level: crate::Level,
    pub trend: Trend,
    pub advance: Option<Advance>,
    /// The events that contributed most, largest first.
    pub contributors: Vec<Contribution>,
}

/// Events near a site, with their precomputed spatial weight.
#[derive(Debug, Clone, Copy)]
struct Near {
    event: u32,
    known: i64,
    /// w_kind · fatality term · K_space.
    weight: f64,
    /// Whether (and where, km east/north of the site) the event drives the advance.
    adv: Option<(f64, f64)>,
}

/// Conflict events, indexed in time (sorted by known day) and space (grid).
#[derive(Debug, Clone)]
pub struct ThreatModel {
    params: ModelParams,
    events: Vec<Event>,
    grid: HashMap<(i32, i32), Vec<u32>>,
}

const CELL_DEG: f64 = 0.5;

fn cell(lat: f64, lon: f64) -> (i32, i32) {
    (
        (lat / CELL_DEG).floor() as i32,
        (lon / CELL_DEG).floor() as i32,
    )
}

impl ThreatModel {
    pub fn new(mut events: Vec<Event>, params: ModelParams) -> ThreatModel {
        events.sort_by(|a, b| {
            (a.date_end, a.source, &a.event_id).cmp(&(b.date_end, b.source, &b.event_id))
        });
        let mut grid: HashMap<(i32, i32), Vec<u32>> = HashMap::new();
        for (i, e) in events.iter().enumerate() {
            grid.entry(cell(e.lat, e.lon)).or_default().push(i as u32);
        }
        ThreatModel {
            params,
            events,
            grid,
        }
    }

    pub fn params(&self) -> &ModelParams {
        &self.params
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Indices of events whose reported point is within `radius_km` of `p` (grid query).
    pub fn within(&self, lat: f64, lon: f64, radius_km: f64) -> Vec<u32> {
        let dlat = radius_km / 110.574;
        let coslat = lat.to_radians().cos().abs().max(0.01);
        let dlon = (radius_km / (111.320 * coslat)).min(180.0);
        let (a0, o0) = cell((lat - dlat).max(-90.0), lon - dlon);
        let (a1, o1) = cell((lat + dlat).min(90.0), lon + dlon);
        let mut out = Vec::new();
        let here = sallyport_core::LatLon::new(lat, lon).ok();
        for a in a0..=a1 {
            for o in o0..=o1 {
                // Wrap longitudes across the antimeridian.
                let ow = ((o as f64 * CELL_DEG + 180.0).rem_euclid(360.0) - 180.0) / CELL_DEG;
                let key = (a, ow.round() as i32);
                if let Some(v) = self.grid.get(&key) {
                    for &i in v {
                        let e = &self.events[i as usize];
                        let d = match (here, sallyport_core::LatLon::new(e.lat, e.lon)) {
                            (Some(h), Ok(p)) => h.distance_km(&p),
                            _ => f64::INFINITY,
                        };
                        if d <= radius_km {
                            out.push(i);
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn event_weight(&self, e: &Event) -> f64 {
        self.params.kinds.get(e.kind)
            * (1.0 + self.params.fatality_weight * (1.0 + e.fatalities as f64).ln())
    }

    /// The spatial weight of an event at distance `dist` km with location
    /// uncertainty `sigma` km (see the module docs).
    pub fn space_weight(&self, dist: f64, sigma: f64) -> f64 {
        let p = &self.params;
        match p.kernel {
            SpaceKernel::Disk => disk_probability(
                dist,
                p.disk_sigma_ratio * sigma,
                p.radius_km,
                p.cutoff_sigmas,
            ),
            SpaceKernel::Gaussian => {
                let lam2 = p.length_km * p.length_km;
                let s2 = lam2 + sigma * sigma;
                if dist <= p.cutoff_sigmas * s2.sqrt() {
                    lam2 / s2 * (-(dist * dist) / (2.0 * s2)).exp()
                } else {
                    0.0
                }
            }
        }
    }

    fn near(&self, site: &Site) -> Vec<Near> {
        let p = &self.params;
        // Largest location uncertainty of a locatable event (GED governorate level).
        let max_sigma = crate::event::uncertainty_km(Source::UcdpGed, 4);
        let reach = match p.kernel {
            SpaceKernel::Disk => p.radius_km + p.cutoff_sigmas * p.disk_sigma_ratio * max_sigma,
            SpaceKernel::Gaussian => {
                p.cutoff_sigmas * (p.length_km * p.length_km + max_sigma * max_sigma).sqrt()
            }
        }
        .max(p.advance_radius_km);
        let (slat, slon) = (site.position.lat(), site.position.lon());
        let coslat = slat.to_radians().cos();
        let mut out = Vec::new();
        for i in self.within(slat, slon, reach) {
            let e = &self.events[i as usize];
            if !e.locatable() {
                continue;
            }
            let Ok(ep) = sallyport_core::LatLon::new(e.lat, e.lon) else {
                continue;
            };
            let d = site.position.distance_km(&ep);
            let k = self.space_weight(d, e.uncertainty_km());
            let adv = (e.precisely_located() && d <= p.advance_radius_km).then(|| {
                let x = (e.lon - slon).to_radians() * coslat * sallyport_core::geo::EARTH_RADIUS_KM;
                let y = (e.lat - slat).to_radians() * sallyport_core::geo::EARTH_RADIUS_KM;
                (x, y)
            });
            if k > 0.0 || adv.is_some() {
                out.push(Near {
                    event: i,
                    known: e.known_day(),
                    weight: self.event_weight(e) * k,
                    adv,
                });
            }
        }
        out.sort_by_key(|n| (n.known, n.event));
        out
    }

    /// Daily scores of `site` for every day in `from..=to`, each using only the
    /// events known by that day.
    pub fn series(&self, site: &Site, from: NaiveDate, to: NaiveDate) -> SiteSeries {
        let p = &self.params;
        let near = self.near(site);
        let (d0, d1) = (day_number(from), day_number(to));
        let decay = |tau: f64| (-1.0 / tau).exp();
        let (g, gf, gs, gl) = (
            decay(p.tau_days),
            decay(p.tau_fast_days),
            decay(p.tau_slow_days),
            decay(p.long_tau_days),
        );
        // Recursions start at the first relevant event (or d0) so that history is complete.
        let start = near.first().map_or(d0, |n| n.known.min(d0));
        let (mut i_main, mut i_fast, mut i_slow, mut i_long) = (0.0, 0.0, 0.0, 0.0);
        // Advance: decayed moments of the positions (km east, km north) and ages, fast and slow windows.
        let (mut fast, mut slow) = (Moments::default(), Moments::default());
        let mut j = 0;
        let mut days = Vec::with_capacity((d1 - d0 + 1).max(0) as usize);
        let mut d = start;
        while d <= d1 {
            i_main *= g;
            i_fast *= gf;
            i_slow *= gs;
            i_long *= gl;
            fast.age_one_day(gf);
            slow.age_one_day(gs);
            // Every event is added on its known day (the recursion starts no
            // later than the first one), at age 0.
            while j < near.len() && near[j].known <= d {
                let n = &near[j];
                let age = (d - n.known) as f64;
                let w = n.weight;
                i_main += w * (-age / p.tau_days).exp() / p.tau_days;
                i_fast += w * (-age / p.tau_fast_days).exp() / p.tau_fast_days;
                i_slow += w * (-age / p.tau_slow_days).exp() / p.tau_slow_days;
                i_long += w * (-age / p.long_tau_days).exp() / p.long_tau_days;
                if let Some((x, y)) = n.adv {
                    fast.add((-age / p.tau_fast_days).exp(), age, x, y);
                    slow.add((-age / p.tau_slow_days).exp(), age, x, y);
                }
                j += 1;
            }
            if d >= d0 {
                let intensity = i_main + p.long_weight * i_long;
                let ratio = if i_slow > 1e-9 { i_fast / i_slow } else { 1.0 };
                let direction = if i_slow < 1e-6 {
                    Direction::Steady
                } else if ratio >= p.trend_band {
                    Direction::Rising
                } else if ratio <= 1.0 / p.trend_band {
                    Direction::Falling
                } else {
                    Direction::Steady
                };
                let advance = advance(&fast, &slow);
                days.push(DayScore {
                    day: day_date(d),
                    intensity,
                    rate: 1.0 + intensity / p.reference_intensity,
                    trend: Trend {
                        fast: i_fast,
                        slow: i_slow,
                        ratio,
                        direction,
                    },
                    advance,
                });
            }
            d += 1;
        }
        SiteSeries {
            site: site.id.clone(),
            site_name: site.name.clone(),
            days,
        }
    }

    /// [`ThreatModel::series`] for every site.
    pub fn series_all(&self, sites: &[Site], from: NaiveDate, to: NaiveDate) -> Vec<SiteSeries> {
        sites.iter().map(|s| self.series(s, from, to)).collect()
    }

    /// The `n` events that contributed most to `site`'s intensity on `day`.
    pub fn contributors(&self, site: &Site, day: NaiveDate, n: usize) -> Vec<Contribution> {
        let p = &self.params;
        let d = day_number(day);
        let longest = if p.long_weight > 0.0 {
            p.tau_days.max(p.long_tau_days)
        } else {
            p.tau_days
        };
        let horizon = (longest * 12.0) as i64;
        let mut terms: Vec<(f64, &Event, f64)> = self
            .near(site)
            .into_iter()
            .filter(|x| x.known <= d && x.known >= d - horizon && x.weight > 0.0)
            .map(|x| {
                let e = &self.events[x.event as usize];
                let age = (d - x.known) as f64;
                let dist = sallyport_core::LatLon::new(e.lat, e.lon)
                    .map_or(f64::NAN, |q| site.position.distance_km(&q));
                let time = (-age / p.tau_days).exp() / p.tau_days
                    + p.long_weight * (-age / p.long_tau_days).exp() / p.long_tau_days;
                (x.weight * time, e, dist)
            })
            .collect();
        let total: f64 = terms.iter().map(|t| t.0).sum();
        terms.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.event_id.cmp(&b.1.event_id))
        });
        terms
            .into_iter()
            .take(n)
            .map(|(c, e, dist)| Contribution {
                source: e.source,
                event_id: e.event_id.clone(),
                kind: e.kind,
                date_start: e.date_start,
                date_end: e.date_end,
                fatalities: e.fatalities,
                location: e.location.clone(),
                distance_km: dist,
                uncertainty_km: e.uncertainty_km(),
                intensity: c,
                share: if total > 0.0 { c / total } else { 0.0 },
            })
            .collect()
    }

    /// Assess one site on one day, with its top `n` contributing events.
    pub fn assess(
        &self,
        site: &Site,
        day: NaiveDate,
        rules: &crate::AlertRules,
        n: usize,
    ) -> Assessment {
        let s = self.series(site, day, day);
        let ds = s.days[0];
        Assessment {
            site: site.id.clone(),
            site_name: site.name.clone(),
            day,
            intensity: ds.intensity,
            rate: ds.rate,
            level: rules.level_of(ds.rate),
            trend: ds.trend,
            advance: ds.advance,
            contributors: self.contributors(site, day, n),
        }
    }

    /// [`ThreatModel::assess`] for every site.
    pub fn assess_all(
        &self,
        sites: &[Site],
        day: NaiveDate,
        rules: &crate::AlertRules,
        n: usize,
    ) -> Vec<Assessment> {
        sites
            .iter()
            .map(|s| self.assess(s, day, rules, n))
            .collect()
    }
}

/// Exponentially weighted moments of event positions (x east, y north, km
/// from the site) and ages (days), kept by recursion day to day.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    m: f64,
    sa: f64,
    saa: f64,
    sx: f64,
    sy: f64,
    sxa: f64,
    sya: f64,
}

impl Moments {
    /// One day passes: every age grows by 1 and every weight decays by `g`.
    fn age_one_day(&mut self, g: f64) {
        let Moments {
            m,
            sa,
            saa,
            sx,
            sy,
            sxa,
            sya,
        } = *self;
        *self = Moments {
            m: g * m,
            sa: g * (sa + m),
            saa: g * (saa + 2.0 * sa + m),
            sx: g * sx,
            sy: g * sy,
            sxa: g * (sxa + sx),
            sya: g * (sya + sy),
        };
    }

    fn add(&mut self, w: f64, age: f64, x: f64, y: f64) {
        self.m += w;
        self.sa += w * age;
        self.saa += w * age * age;
        self.sx += w * x;
        self.sy += w * y;
        self.sxa += w * x * age;
        self.sya += w * y * age;
    }
}

/// Advance of fighting: velocity from a weighted least-squares fit of event
/// position against age over the slow window; position = the fast window's
/// centroid carried forward by that velocity over the fast window's mean age
/// (the centroid of recent events lags the front it describes).
fn advance(fast: &Moments, slow: &Moments) -> Option<Advance> {
    // Need a few recent events in both windows for a centroid to mean anything.
    if fast.m < 3.0 || slow.m < 3.0 {
        return None;
    }
    let a_slow = slow.sa / slow.m;
    let var = slow.saa / slow.m - a_slow * a_slow;
    // Velocity (km/day, forward in time) = −d(position)/d(age). Events all on
    // (nearly) one day give no direction of movement.
    let (vx, vy) = if var > 4.0 {
        let (mx, my) = (slow.sx / slow.m, slow.sy / slow.m);
        (
            -(slow.sxa / slow.m - mx * a_slow) / var,
            -(slow.sya / slow.m - my * a_slow) / var,
        )
    } else {
        (0.0, 0.0)
    };
    let a_fast = fast.sa / fast.m;
    let (cx, cy) = (
        fast.sx / fast.m + vx * a_fast,
        fast.sy / fast.m + vy * a_fast,
    );
    let dist = (cx * cx + cy * cy).sqrt();
    let approach = if dist > 1e-6 {
        -(vx * cx + vy * cy) / dist
    } else {
        0.0
    };
    let eta = (approach > 0.5).then(|| dist / approach);
    let bearing = cx.atan2(cy).to_degrees().rem_euclid(360.0);
    Some(Advance {
        bearing_deg: bearing,
        distance_km: dist,
        approach_km_per_day: approach,
        eta_days: eta,
        events: fast.m,
    })
}

/// Probability that a point drawn from a circular Gaussian of standard
/// deviation `sigma` (km) around a reported point `dist` km from the site lies
/// within `radius` km of the site (the Rice distribution's CDF at `radius`).
/// Beyond `cutoff` standard deviations outside the disk it is taken as 0, and
/// as 1 when that far inside.
pub fn disk_probability(dist: f64, sigma: f64, radius: f64, cutoff: f64) -> f64 {
    let sigma = sigma.max(1e-3);
    if dist - radius > cutoff * sigma {
        return 0.0;
    }
    if radius - dist > cutoff * sigma {
        return 1.0;
    }
    let s2 = sigma * sigma;
    // ∫ (r/σ²) exp(-(r-d)²/2σ²) I0e(r d/σ²) dr over the part of [0, R] where
    // the integrand is not negligible, by Simpson's rule.
    let (a, b) = (
        (dist - (cutoff + 2.0) * sigma).max(0.0),
        radius.min(dist + (cutoff + 2.0) * sigma),
    );
    if b <= a {
        return 0.0;
    }
    let n = 64;
    let h = (b - a) / n as f64;
    let f =
        |r: f64| r / s2 * (-(r - dist) * (r - dist) / (2.0 * s2)).exp() * bessel_i0e(r * dist / s2);
    let mut sum = f(a) + f(b);
    for k in 1..n {
        sum += f(a + k as f64 * h) * if k % 2 == 1 { 4.0 } else { 2.0 };
    }
    (sum * h / 3.0).clamp(0.0, 1.0)
}

/// exp(−x)·I₀(x) for x ≥ 0, by the polynomial approximations of Abramowitz &
/// Stegun 9.8.1–9.8.2 (relative error below 2·10⁻⁷).
fn bessel_i0e(x: f64) -> f64 {
    let x = x.abs();
    if x <= 3.75 {
        let t = (x / 3.75).powi(2);
        let i0 = 1.0
            + t * (3.5156229
                + t * (3.0899424
                    + t * (1.2067492 + t * (0.2659732 + t * (0.0360768 + t * 0.0045813)))));
        i0 * (-x).exp()
    } else {
        let t = 3.75 / x;
        let p = 0.39894228
            + t * (0.01328592
                + t * (0.00225319
                    + t * (-0.00157565
                        + t * (0.00916281
                            + t * (-0.02057706
                                + t * (0.02635537 + t * (-0.01647633 + t * 0.00392377)))))));
        p / x.sqrt()
    }
}
