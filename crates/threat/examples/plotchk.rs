use chrono::NaiveDate;
fn main() {
    let bytes = std::fs::read("/work/shared/data/conflict/ucdp-ged-syria-v19.1-2016-2019.csv").unwrap();
    let m = sallyport_threat::ThreatModel::new(sallyport_threat::parse_bytes("g", &bytes).events, Default::default());
    let sc: sallyport_core::Scenario = toml::from_str(&std::fs::read_to_string("scenarios/northeast-syria-2026.toml").unwrap()).unwrap();
    let s = sc.sites.iter().find(|s| s.id.as_str() == "raqqa").unwrap();
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let series = m.series(s, d(2015, 7, 1), d(2019, 12, 1));
    for x in &series.days { if x.rate < 1.05 && x.day > d(2016,2,1) { println!("{} {}", x.day, x.rate); } }
    sallyport_threat::plot::plot(std::path::Path::new("/tmp/plotchk/full.svg"), &series, d(2016, 1, 1), &Default::default(), "").unwrap();
}
