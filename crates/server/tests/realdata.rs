//! The picture from the capabilities' stored data: the schedule from the latest
//! stored plan, progress against it, threat from threat watch over stored
//! conflict events (and the fallback when none are stored).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use sallyport_server::Config;
use serde_json::Value;

async fn json_of(c: &reqwest::Client, url: String, token: &str) -> Value {
    let r = c.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

#[tokio::test]
async fn schedule_and_progress_follow_the_stored_plan_on_both_backends() {
    for db in sallyport_store::testing::backends().await {
        let name = db.name;
        let srv = TestServer::start_on(db, true, Default::default()).await;
        let c = client();

        // No plan stored: said so, origins on a linear plan, no sorties.
        let s = json_of(&c, srv.url("/api/v1/schedule"), VIEWER_TOKEN).await;
        assert!(s["plan"].is_null(), "{name}");
        assert!(
            s["basis"].as_str().unwrap().contains("no plan stored"),
            "{name}"
        );
        assert_eq!(s["aircraft"].as_array().unwrap().len(), 0, "{name}");
        assert_eq!(s["origins"].as_array().unwrap().len(), 7, "{name}");

        let plan = store_plan(&srv.db.store).await;
        srv.state.cache().invalidate();
        let s = json_of(&c, srv.url("/api/v1/schedule"), VIEWER_TOKEN).await;
        assert_eq!(s["plan"]["sorties"], plan.kpis.sorties, "{name}");
        assert_eq!(s["plan"]["kind"], "solve", "{name}");
        // Every sortie of the plan, on its aircraft's line, with its times and load.
        let mut bars = 0;
        let mut people = 0u64;
        let tails: BTreeSet<String> = plan
            .sorties
            .iter()
            .map(|s| s.aircraft.to_string())
            .collect();
        let rows = s["aircraft"].as_array().unwrap();
        assert_eq!(rows.len(), tails.len(), "{name}");
        for row in rows {
            for b in row["sorties"].as_array().unwrap() {
                bars += 1;
                people += b["people"].as_u64().unwrap();
                let id = b["id"].as_u64().unwrap() as u32;
                let ps = plan.sorties.iter().find(|s| s.id == id).unwrap();
                assert_eq!(row["tail"], ps.aircraft.as_str(), "{name}");
                assert_eq!(b["origin"], ps.origin.as_str(), "{name}");
                let dep: chrono::DateTime<chrono::Utc> =
                    b["depart"].as_str().unwrap().parse().unwrap();
                assert_eq!(dep, ps.legs[0].depart, "{name}");
                assert_eq!(b["people"], ps.manifest.len(), "{name}");
            }
        }
        assert_eq!(bars, plan.sorties.len(), "{name}");
        assert_eq!(people, plan.kpis.people_moved as u64, "{name}");
        // The wall clock is past the plan's last landing: everything has landed,
        // and the plan has delivered everyone it moves; nobody is recorded there.
        let last = plan
            .sorties
            .iter()
            .map(|s| s.legs.last().unwrap().arrive)
            .max()
            .unwrap();
        if chrono::Utc::now() > last {
            assert_eq!(s["sorties_landed"], plan.sorties.len(), "{name}");
            assert_eq!(
                s["planned_delivered_by_now"], plan.kpis.people_moved,
                "{name}"
            );
            assert_eq!(s["delivered"], 0, "{name}");
            let behind = s["origins"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|o| o["due"].as_f64().unwrap() > 0.9)
                .count();
            assert_eq!(behind, 7, "{name}: every origin is due by the plan");
        }
        for o in s["origins"].as_array().unwrap() {
            let site = o["site"].as_str().unwrap();
            let total: u64 = plan
                .sorties
                .iter()
                .filter(|s| s.origin.as_str() == site)
                .map(|s| s.manifest.len() as u64)
                .sum();
            assert_eq!(o["planned_total"], total, "{name} {site}");
        }

        // Progress: the plan's arrivals per day against what was recorded.
        let days = json_of(&c, srv.url("/api/v1/progress"), VIEWER_TOKEN).await;
        let days = days.as_array().unwrap();
        let mut want: BTreeMap<String, u64> = BTreeMap::new();
        for d in &plan.intake {
            *want.entry(d.date.to_string()).or_default() += d.people as u64;
        }
        for d in days {
            let date = d["date"].as_str().unwrap();
            assert_eq!(
                d["planned"].as_u64().unwrap(),
                want.get(date).copied().unwrap_or(0),
                "{name} {date}"
            );
        }
        assert_eq!(
            days.last().unwrap()["planned_cumulative"].as_u64().unwrap(),
            want.values().sum::<u64>(),
            "{name}"
        );
        // The sitrep of the plan's busiest day names that day's plan.
        let (busy, n) = want.iter().max_by_key(|(_, n)| **n).unwrap();
        let rep = json_of(
            &c,
            srv.url(&format!("/api/v1/sitrep?date={busy}")),
            VIEWER_TOKEN,
        )
        .await;
        assert_eq!(rep["planned"].as_u64().unwrap(), *n, "{name}");
        assert_eq!(rep["moved"], 0, "{name}");
        let landing = plan
            .sorties
            .iter()
            .filter(|s| s.legs.last().unwrap().arrive.date_naive().to_string() == *busy)
            .count();
        assert_eq!(rep["sorties_planned"], landing, "{name}");
        srv.stop().await;
    }
}

#[tokio::test]
async fn threat_comes_from_threat_watch_over_stored_events() {
    let Some(ged) = ged_file() else {
        let msg = "UCDP GED file not found under ../shared/data/conflict";
        if in_ci() {
            panic!("{msg}");
        }
        eprintln!("\n*** SKIPPED threat_comes_from_threat_watch_over_stored_events: {msg} ***\n");
        return;
    };
    for replay in [None, chrono::NaiveDate::from_ymd_opt(2017, 6, 1)] {
        let config = Config {
            threat_replay_from: replay,
            ..Config::default()
        };
        let srv =
            TestServer::start_on(sallyport_store::testing::sqlite().await, true, config).await;
        let c = client();
        // Nothing stored: said so, and the levels come from alerts only.
        let ov = json_of(&c, srv.url("/api/v1/overview"), VIEWER_TOKEN).await;
        assert!(
            ov["threat_basis"]
                .as_str()
                .unwrap()
                .contains("no conflict events"),
            "{ov}"
        );
        assert!(
            ov["sites"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["threat_source"] == "none")
        );
        let t = json_of(&c, srv.url("/api/v1/threat"), VIEWER_TOKEN).await;
        assert_eq!(t["source"], "none");

        let report = sallyport_threat::ingest_files(
            &srv.db.store,
            &[&ged],
            sallyport_threat::IngestOptions { skip_invalid: true },
        )
        .await
        .unwrap();
        assert!(report.added > 1000, "{}", report.summary);
        srv.state.cache().invalidate();
        let t = json_of(&c, srv.url("/api/v1/threat"), VIEWER_TOKEN).await;
        assert_eq!(t["source"], "model");
        assert_eq!(t["events"], report.added);
        let events = sallyport_threat::load_events(&srv.db.store).await.unwrap();
        let last = events.iter().map(|e| e.date_end).max().unwrap();
        let model = sallyport_threat::ThreatModel::new(events, Default::default());
        let scenario = flagship();
        let today = chrono::Utc::now().date_naive();
        let as_of = match replay {
            Some(from) => {
                from + chrono::Duration::days(
                    (today - scenario.operation.start.date_naive())
                        .num_days()
                        .max(0),
                )
            }
            None => today.min(last),
        };
        assert_eq!(t["as_of"], as_of.to_string());
        let basis = t["basis"].as_str().unwrap();
        match replay {
            Some(_) => assert!(basis.contains("REPLAY"), "{basis}"),
            None => assert!(basis.contains("STALE"), "{basis}: the data end in 2019"),
        }
        let ov = json_of(&c, srv.url("/api/v1/overview"), VIEWER_TOKEN).await;
        assert_eq!(ov["threat_basis"], t["basis"]);
        let rules = sallyport_threat::AlertRules::default();
        for site in &scenario.sites {
            let series = model.series(site, as_of - chrono::Duration::days(120), as_of);
            let (levels, _) = sallyport_threat::alerts::levels(&series, &rules);
            let day = series.days.last().unwrap();
            let v = ov["sites"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["id"] == site.id.as_str())
                .unwrap();
            assert_eq!(v["threat_source"], "threat_watch", "{}", site.id);
            assert_eq!(v["threat"], levels.last().unwrap().as_str(), "{}", site.id);
            let rate = v["threat_rate"].as_f64().unwrap();
            assert!(
                (rate - day.rate).abs() < 0.006,
                "{}: {rate} vs {}",
                site.id,
                day.rate
            );
        }
        srv.stop().await;
    }
}
