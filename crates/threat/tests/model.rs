//! The threat model, alerts, planner form and backtest on the flagship's real
//! sites, with real (GED) and constructed events.

mod common;

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use sallyport_threat::alerts::levels;
use sallyport_threat::model::Direction;
use sallyport_threat::{
    backtest, forecast, parse_bytes, replay, AlertRules, Change, Event, EventKind, Level,
    ModelParams, PriorityOptions, Source, ThreatModel,
};

use common::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ev(id: &str, day: NaiveDate, lat: f64, lon: f64, geo_prec: u8, deaths: u32) -> Event {
    Event {
        source: Source::UcdpGed,
        event_id: id.into(),
        kind: EventKind::StateBased,
        date_start: day,
        date_end: day,
        date_prec: 1,
        geo_prec,
        lat,
        lon,
        fatalities: deaths,
        location: format!("place {id}"),
        admin1: String::new(),
    }
}

fn real_model() -> ThreatModel {
    ThreatModel::new(
        parse_bytes("ged", &ged_bytes()).events,
        ModelParams::default(),
    )
}

#[test]
fn no_look_ahead_later_events_never_change_earlier_scores() {
    let all = parse_bytes("ged", &ged_bytes()).events;
    let rules = AlertRules::default();
    for cutoff in [
        date(2016, 9, 15),
        date(2017, 6, 1),
        date(2018, 10, 1),
        date(2019, 6, 30),
    ] {
        let before: Vec<Event> = all
            .iter()
            .filter(|e| e.date_end <= cutoff)
            .cloned()
            .collect();
        assert!(before.len() < all.len());
        let past = ThreatModel::new(before, ModelParams::default());
        let full = ThreatModel::new(all.clone(), ModelParams::default());
        for s in origins() {
            let from = cutoff - Duration::days(200);
            assert_eq!(
                past.series(&s, from, cutoff),
                full.series(&s, from, cutoff),
                "{} at {cutoff}",
                s.id
            );
            let (a, b) = (
                past.assess(&s, cutoff, &rules, 5),
                full.assess(&s, cutoff, &rules, 5),
            );
            assert_eq!(a, b, "{} at {cutoff}", s.id);
            assert!(b.contributors.iter().all(|c| c.date_end <= cutoff));
        }
    }
    // And the later data does change the later scores (the test can fail):
    // the same day a month later, with and without the events of that month.
    let raqqa = site("raqqa");
    let cutoff = date(2017, 6, 1);
    let past = ThreatModel::new(
        all.iter()
            .filter(|e| e.date_end <= cutoff)
            .cloned()
            .collect(),
        ModelParams::default(),
    );
    let later = date(2017, 7, 1);
    let (a, c) = (
        past.series(&raqqa, later, later),
        real_model().series(&raqqa, later, later),
    );
    assert!(
        c.days[0].rate > a.days[0].rate + 1.0,
        "{} vs {}",
        c.days[0].rate,
        a.days[0].rate
    );
}

#[test]
fn an_event_counts_from_its_end_date_not_its_start() {
    // A deadly event at the site reported as a span that started before day d
    // and ends after it is not known on d: it must not move d's score, only
    // the scores from its end date on.
    let site = site("ghwayran");
    let (lat, lon) = (site.position.lat(), site.position.lon());
    let d = date(2018, 3, 10);
    let base: Vec<Event> = parse_bytes("ged", &ged_bytes()).events;
    let mut span = ev("span", d - Duration::days(5), lat, lon, 1, 200);
    span.date_end = d + Duration::days(3);
    span.date_prec = 3;
    let mut with = base.clone();
    with.push(span);
    let (m0, m1) = (
        ThreatModel::new(base, ModelParams::default()),
        ThreatModel::new(with, ModelParams::default()),
    );
    let (s0, s1) = (
        m0.series(&site, d - Duration::days(30), d + Duration::days(2)),
        m1.series(&site, d - Duration::days(30), d + Duration::days(2)),
    );
    assert_eq!(s0, s1, "unchanged until the event's end date");
    let rules = AlertRules::default();
    assert!(m1
        .assess(&site, d + Duration::days(2), &rules, 3)
        .contributors
        .iter()
        .all(|c| c.event_id != "span"));
    let (a0, a1) = (
        m0.assess(&site, d + Duration::days(3), &rules, 3),
        m1.assess(&site, d + Duration::days(3), &rules, 3),
    );
    assert!(a1.rate > a0.rate + 1.0, "{} vs {}", a1.rate, a0.rate);
    assert_eq!(a1.contributors[0].event_id, "span");
}

#[test]
fn province_level_event_is_spread_not_a_point() {
    let site = site("ghwayran");
    let (lat, lon) = (site.position.lat(), site.position.lon());
    let d = date(2018, 3, 1);
    let p = ModelParams::default();
    let exact = ThreatModel::new(vec![ev("1", d, lat, lon, 1, 5)], p.clone());
    let prov = ThreatModel::new(vec![ev("1", d, lat, lon, 4, 5)], p.clone());
    let rules = AlertRules::default();
    let (ie, ip) = (
        exact.assess(&site, d, &rules, 3).intensity,
        prov.assess(&site, d, &rules, 3).intensity,
    );
    assert!(ie > 2.0 * ip && ip > 0.0, "exact {ie} vs province {ip}");
    // At the site the disk kernel has a closed form: a point counts 1, an
    // event spread with σ counts P(within R) = 1 − exp(−R²/2σ²).
    let sigma = p.disk_sigma_ratio * sallyport_threat::event::uncertainty_km(Source::UcdpGed, 4);
    let expect = 1.0 - (-(p.radius_km * p.radius_km) / (2.0 * sigma * sigma)).exp();
    assert!((ip / ie - expect).abs() < 1e-4, "{} vs {expect}", ip / ie);
    // 150 km away the province-level event reaches further than an exact one.
    let far = ThreatModel::new(vec![ev("1", d, lat + 1.35, lon, 1, 5)], p.clone());
    let far_prov = ThreatModel::new(vec![ev("1", d, lat + 1.35, lon, 4, 5)], p);
    assert!(
        far_prov.assess(&site, d, &rules, 3).intensity > far.assess(&site, d, &rules, 3).intensity
    );
}

#[test]
fn disk_kernel_is_the_probability_of_being_within_the_radius() {
    use sallyport_threat::model::disk_probability;
    // Closed form at the centre, for several spreads.
    for sigma in [5.0, 20.0, 50.0, 150.0] {
        let exact = 1.0 - (-(50.0f64 * 50.0) / (2.0 * sigma * sigma)).exp();
        let got = disk_probability(0.0, sigma, 50.0, 6.0);
        assert!((got - exact).abs() < 1e-5, "σ {sigma}: {got} vs {exact}");
    }
    // A sharp point on the circle is inside half the time; well inside or outside: 1 or 0.
    assert!((disk_probability(50.0, 0.5, 50.0, 4.0) - 0.5).abs() < 0.01);
    assert_eq!(disk_probability(20.0, 1.0, 50.0, 4.0), 1.0);
    assert_eq!(disk_probability(80.0, 1.0, 50.0, 4.0), 0.0);
    // Against a direct 2-D sum over a fine grid, off centre.
    let (dist, sigma, r): (f64, f64, f64) = (40.0, 25.0, 50.0);
    let (mut sum, h) = (0.0f64, 0.5f64);
    let mut x = -r;
    while x <= r {
        let mut y = -r;
        while y <= r {
            if x * x + y * y <= r * r {
                let q = ((x - dist).powi(2) + y * y) / (2.0 * sigma * sigma);
                sum += (-q).exp() * h * h / (2.0 * std::f64::consts::PI * sigma * sigma);
            }
            y += h;
        }
        x += h;
    }
    let got = disk_probability(dist, sigma, r, 6.0);
    assert!((got - sum).abs() < 5e-3, "{got} vs grid {sum}");
    // Decreasing with distance.
    let v: Vec<f64> = (0..20)
        .map(|k| disk_probability(k as f64 * 10.0, 25.0, 50.0, 4.0))
        .collect();
    assert!(
        v.windows(2).all(|w| w[0] >= w[1]) && v[0] > 0.8 && v[19] == 0.0,
        "{v:?}"
    );
}

#[test]
fn contributors_explain_the_score() {
    let m = real_model();
    let rules = AlertRules::default();
    let a = m.assess(&site("raqqa"), date(2017, 7, 15), &rules, 10);
    assert!(a.level >= Level::High, "battle of Raqqa, July 2017: {a:?}");
    assert_eq!(a.contributors.len(), 10);
    let shares: f64 = a.contributors.iter().map(|c| c.share).sum();
    assert!(shares > 0.0 && shares <= 1.0 + 1e-9);
    assert!(a
        .contributors
        .windows(2)
        .all(|w| w[0].intensity >= w[1].intensity));
    let top = &a.contributors[0];
    assert!(
        top.distance_km < 60.0 && top.date_end <= date(2017, 7, 15),
        "{top:?}"
    );
    // The contributions add up to the intensity when all are listed.
    let all = m.contributors(&site("raqqa"), date(2017, 7, 15), 100_000);
    let sum: f64 = all.iter().map(|c| c.intensity).sum();
    assert!(
        (sum - a.intensity).abs() / a.intensity < 0.02,
        "{sum} vs {}",
        a.intensity
    );
}

#[test]
fn trend_and_advance_of_approaching_fighting() {
    // Fighting 100 km north of Shaddadi moving south 2 km/day, 3 events a day.
    let site = site("shaddadi");
    let (lat, lon) = (site.position.lat(), site.position.lon());
    let start = date(2019, 1, 1);
    let mut evs = Vec::new();
    for k in 0..40 {
        let km = 100.0 - 2.0 * k as f64;
        for j in 0..3 {
            evs.push(ev(
                &format!("{k}-{j}"),
                start + Duration::days(k),
                lat + km / 111.0,
                lon + 0.01 * j as f64,
                1,
                2,
            ));
        }
    }
    let m = ThreatModel::new(evs, ModelParams::default());
    let s = m.series(&site, start, start + Duration::days(39));
    let last = s.days.last().unwrap();
    assert_eq!(last.trend.direction, Direction::Rising, "{:?}", last.trend);
    let adv = last.advance.expect("advance estimated");
    assert!(
        adv.bearing_deg < 15.0 || adv.bearing_deg > 345.0,
        "from the north: {adv:?}"
    );
    assert!((1.0..3.0).contains(&adv.approach_km_per_day), "{adv:?}");
    let eta = adv.eta_days.unwrap();
    assert!(eta > 5.0 && eta < 40.0, "{adv:?}");
    // Receding fighting has no ETA.
    let mut away = Vec::new();
    for k in 0..40 {
        let km = 20.0 + 2.0 * k as f64;
        for j in 0..3 {
            away.push(ev(
                &format!("{k}-{j}"),
                start + Duration::days(k),
                lat - km / 111.0,
                lon,
                1,
                2,
            ));
        }
    }
    let m = ThreatModel::new(away, ModelParams::default());
    let adv = m
        .series(
            &site,
            start + Duration::days(39),
            start + Duration::days(39),
        )
        .days[0]
        .advance
        .unwrap();
    assert!(
        adv.approach_km_per_day < 0.0 && adv.eta_days.is_none(),
        "{adv:?}"
    );
}

#[test]
fn hysteresis_stops_flapping() {
    // One event every other day at the site keeps the rate oscillating around
    // a threshold once the recursion has settled (5 τ = 150 days).
    let site = site("derik");
    let (lat, lon) = (site.position.lat(), site.position.lon());
    let start = date(2019, 1, 1);
    let evs: Vec<Event> = (0..240)
        .step_by(2)
        .map(|k| ev(&k.to_string(), start + Duration::days(k), lat, lon, 1, 0))
        .collect();
    let m = ThreatModel::new(evs, ModelParams::default());
    let s = m.series(&site, start, start + Duration::days(239));
    let steady: Vec<f64> = s.days[150..].iter().map(|d| d.rate).collect();
    let (lo, hi) = steady
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), r| (a.min(*r), b.max(*r)));
    // Put the high threshold inside the oscillation band.
    let rules = AlertRules {
        high: (lo + hi) / 2.0,
        elevated: 1.5,
        critical: hi * 5.0,
        ..AlertRules::default()
    };
    let raw_crossings = steady
        .windows(2)
        .filter(|w| (w[0] >= rules.high) != (w[1] >= rules.high))
        .count();
    assert!(
        raw_crossings > 20,
        "the raw rate crosses the threshold often: {raw_crossings}"
    );
    let (_, changes) = levels(&s, &rules);
    let late: Vec<_> = changes
        .iter()
        .filter(|a| a.day >= start + Duration::days(150))
        .collect();
    assert!(late.is_empty(), "no flapping once steady: {late:?}");
    assert!(changes
        .iter()
        .any(|a| a.level == Level::High && a.change == Change::Raised));
    // When the fighting stops, the alert is lowered, once.
    let s = m.series(&site, start, start + Duration::days(400));
    let (_, changes) = levels(&s, &rules);
    assert_eq!(changes.last().unwrap().change, Change::Lowered);
    assert_eq!(changes.last().unwrap().level, Level::Low);
}

#[test]
fn alerts_name_site_cause_and_events() {
    let m = real_model();
    let sites = origins();
    let alerts = sallyport_threat::alerts::alerts(
        &m,
        &sites,
        date(2017, 5, 1),
        date(2017, 8, 1),
        &AlertRules::default(),
        5,
    );
    // A window opening in the middle of the battle for Raqqa: the level in
    // force is carried in, not re-raised from "low" on the first day.
    assert!(
        !alerts
            .iter()
            .any(|a| a.site.as_str() == "raqqa" && a.day == date(2017, 5, 1)),
        "{alerts:?}"
    );
    let early = sallyport_threat::alerts::alerts(
        &m,
        &sites,
        date(2016, 6, 1),
        date(2017, 8, 1),
        &AlertRules::default(),
        5,
    );
    let raqqa: Vec<_> = early
        .iter()
        .filter(|a| a.site.as_str() == "raqqa" && a.change == Change::Raised)
        .collect();
    assert!(!raqqa.is_empty());
    for a in raqqa {
        assert!(a.cause.contains("rate"), "{}", a.cause);
        assert!(!a.contributors.is_empty());
        assert!(a.contributors.iter().all(|c| c.date_end <= a.day));
    }
}

#[test]
fn planner_form_forecast_and_replay() {
    let m = real_model();
    let sc = scenario();
    let first = Utc.with_ymd_and_hms(2026, 1, 21, 3, 0, 0).unwrap();
    let rules = AlertRules::default();
    let opts = PriorityOptions::default();
    let f = forecast(&m, &sc.sites, date(2017, 6, 5), first, 21, &rules, &opts);
    assert_eq!(f.sites.len(), sc.sites.len());
    let raqqa = &f.sites[&site("raqqa").id];
    assert_eq!(raqqa.rates.len(), 21);
    assert_eq!(raqqa.rates[1].0 - raqqa.rates[0].0, Duration::days(1));
    assert!(raqqa.rates.iter().all(|r| r.1.is_finite() && r.1 >= 1.0));
    assert!(
        raqqa.deadline.is_some(),
        "Raqqa in June 2017 needs a deadline: {raqqa:?}"
    );
    let baghdad = &f.sites[&site("baghdad").id];
    assert!(baghdad.rates.iter().all(|r| r.1 == 1.0) && baghdad.deadline.is_none());
    let daily = f.daily_rates();
    assert_eq!(daily[&site("raqqa").id].len(), 21);
    let json = serde_json::to_string(&f).unwrap();
    let back: sallyport_threat::PlannerThreat = serde_json::from_str(&json).unwrap();
    // serde_json's default float parser may differ from the written value in the last bit.
    assert_eq!(
        (&back.unit, &back.basis, back.deadlines()),
        (&f.unit, &f.basis, f.deadlines())
    );
    for (id, s) in &f.sites {
        let b = &back.sites[id];
        assert_eq!(b.rates.len(), s.rates.len());
        for (x, y) in b.rates.iter().zip(&s.rates) {
            assert!(
                x.0 == y.0 && (x.1 - y.1).abs() <= 1e-12 * y.1,
                "{id:?}: {x:?} vs {y:?}"
            );
        }
    }
    // Replay: rates are the historical daily ones, labelled as such.
    let r = replay(&m, &sc.sites, date(2017, 6, 5), first, 21, &rules, &opts);
    let hist = m.series(&site("raqqa"), date(2017, 6, 5), date(2017, 6, 25));
    let rr: Vec<f64> = r.sites[&site("raqqa").id]
        .rates
        .iter()
        .map(|x| x.1)
        .collect();
    assert_eq!(rr, hist.days.iter().map(|d| d.rate).collect::<Vec<_>>());
    match &r.basis {
        sallyport_threat::priority::Basis::Replay { label, .. } => {
            assert!(label.contains("REPLAY") && label.contains("2017-06-05"))
        }
        b => panic!("{b:?}"),
    }
}

#[test]
fn backtest_beats_the_baseline_on_the_tuning_period() {
    let m = real_model();
    let periods = [(
        "2016-2017".to_string(),
        date(2016, 3, 1),
        date(2017, 12, 31),
    )];
    let r = backtest(
        &m,
        &origins(),
        &periods,
        &Default::default(),
        &AlertRules::default(),
    );
    let p = &r.periods[0];
    assert_eq!(p.site_days, 7 * 671);
    assert!(p.positives > 0 && p.positives < p.site_days);
    assert!(p.model.auc > 0.5 && p.model.auc <= 1.0, "{p:?}");
    assert!(
        p.model.auc > p.baseline.auc,
        "model {} vs baseline {}",
        p.model.auc,
        p.baseline.auc
    );
}

#[test]
fn roc_auc_is_right_on_known_cases() {
    use sallyport_threat::backtest::roc_auc;
    assert_eq!(
        roc_auc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
        1.0
    );
    assert_eq!(
        roc_auc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]),
        0.0
    );
    assert_eq!(
        roc_auc(&[1.0, 1.0, 1.0, 1.0], &[false, true, false, true]),
        0.5
    );
    assert!((roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]) - 0.75).abs() < 1e-12);
    assert!(roc_auc(&[1.0, 2.0], &[true, true]).is_nan());
}

#[test]
fn long_memory_component_follows_its_formula() {
    let site = site("raqqa");
    let (lat, lon) = (site.position.lat(), site.position.lon());
    let d0 = date(2017, 1, 1);
    let evs = vec![ev("1", d0, lat, lon, 1, 0)];
    let rules = AlertRules::default();
    let later = d0 + Duration::days(120);
    let short =
        ThreatModel::new(evs.clone(), ModelParams::default()).assess(&site, later, &rules, 1);
    let p = ModelParams {
        long_weight: 1.5,
        ..ModelParams::default()
    };
    let long = ThreatModel::new(evs, p.clone()).assess(&site, later, &rules, 1);
    // A zero-death state-based event at the site weighs P(within R), which
    // for an exactly placed one (σ = 1 km ≪ R) is 1.
    let sigma = p.disk_sigma_ratio * sallyport_threat::event::uncertainty_km(Source::UcdpGed, 1);
    let k = 1.0 - (-(p.radius_km * p.radius_km) / (2.0 * sigma * sigma)).exp();
    let expect_short = k * (-120.0 / p.tau_days).exp() / p.tau_days;
    let expect_long = expect_short + k * 1.5 * (-120.0 / p.long_tau_days).exp() / p.long_tau_days;
    assert!(
        (short.intensity - expect_short).abs() < 1e-9 * expect_short,
        "{} vs {expect_short}",
        short.intensity
    );
    assert!(
        (long.intensity - expect_long).abs() < 1e-9 * expect_long,
        "{} vs {expect_long}",
        long.intensity
    );
    // The contributors add up to the intensity with the long component too.
    assert!((long.contributors[0].intensity - long.intensity).abs() < 1e-3 * long.intensity);
}

#[test]
fn default_periods_split_tuning_from_held_out() {
    use sallyport_threat::backtest::{default_periods, split_day};
    let cfg = sallyport_threat::BacktestConfig::default();
    let p = default_periods(date(2016, 1, 1), date(2019, 12, 1), &cfg).unwrap();
    assert_eq!(p.len(), 3);
    assert_eq!((p[0].1, p[0].2), (date(2016, 3, 1), date(2019, 11, 1)));
    assert_eq!(
        (p[1].1, p[1].2),
        (date(2016, 3, 1), split_day() - Duration::days(1))
    );
    assert_eq!((p[2].1, p[2].2), (split_day(), date(2019, 11, 1)));
    // Data entirely after the split: one period; too short: a clear error.
    assert_eq!(
        default_periods(date(2020, 1, 1), date(2021, 1, 1), &cfg)
            .unwrap()
            .len(),
        1
    );
    let e = default_periods(date(2020, 1, 1), date(2020, 3, 1), &cfg).unwrap_err();
    assert!(e.contains("not enough history"), "{e}");
}

#[test]
fn plot_draws_the_series_with_the_level_carried_in() {
    let m = real_model();
    let raqqa = site("raqqa");
    let dir = tempfile::tempdir().unwrap();
    let warm = date(2017, 5, 1) - Duration::days(sallyport_threat::alerts::ALERT_WARMUP_DAYS);
    let series = m.series(&raqqa, warm, date(2018, 6, 1));
    let rules = AlertRules::default();
    for name in ["r.svg", "r.png"] {
        let path = dir.path().join(name);
        let alerts =
            sallyport_threat::plot::plot(&path, &series, date(2017, 5, 1), &rules, "").unwrap();
        // Critical since 2016 (carried in, not re-raised on the first day); lowered after the city fell.
        assert!(alerts.iter().all(|a| a.day >= date(2017, 5, 1)));
        assert!(
            !alerts.iter().any(|a| a.day == date(2017, 5, 1)),
            "{alerts:?}"
        );
        assert!(
            alerts
                .iter()
                .any(|a| a.change == Change::Lowered && a.day > date(2017, 10, 1)),
            "{alerts:?}"
        );
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 10_000, "{name}: {} bytes", bytes.len());
        if name.ends_with("svg") {
            let text = String::from_utf8(bytes).unwrap();
            assert!(
                text.contains("Raqqa central prison") && text.contains("2017-05-01 to 2018-06-01")
            );
        } else {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        }
    }
    let e = sallyport_threat::plot::plot(
        &dir.path().join("no/such/dir.png"),
        &series,
        date(2017, 5, 1),
        &rules,
        "",
    )
    .unwrap_err();
    assert!(e.to_string().contains("no/such/dir.png"), "{e}");
    let e = sallyport_threat::plot::plot(
        &dir.path().join("x.png"),
        &series,
        date(2019, 1, 1),
        &rules,
        "",
    )
    .unwrap_err();
    assert!(e.to_string().contains("nothing to plot"), "{e}");
}
