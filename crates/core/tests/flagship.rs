//! The flagship scenario file parses, validates and generates its population.

use sallyport_core::{synth, Category, Scenario, SiteKind};

fn flagship() -> Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/northeast-syria-2026.toml");
    toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn flagship_validates_and_generates_about_6000_people() {
    let s = flagship();
    s.validate().unwrap();
    assert_eq!(s.total_population(), 6000);
    let people = synth::generate(&s).unwrap();
    assert_eq!(people.len(), 6000);
    let minors = people.iter().filter(|p| p.category == Category::Minor).count();
    assert!((200..500).contains(&minors), "{minors}");
    let grouped = people.iter().filter(|p| !p.separation_groups.is_empty()).count();
    assert!((300..1200).contains(&grouped), "{grouped}");
    for p in &people {
        let site = s.site(&p.site).unwrap();
        assert!(site.kind.is_origin());
        assert_eq!(p.custodian, site.operator);
    }
    assert!(s.sites.iter().any(|x| x.kind == SiteKind::Destination));
}

#[test]
fn generation_is_deterministic_and_seed_sensitive() {
    let mut s = flagship();
    let a = synth::generate(&s).unwrap();
    assert_eq!(a, synth::generate(&s).unwrap());
    s.population.seed += 1;
    assert_ne!(a, synth::generate(&s).unwrap());
}

#[test]
fn validation_names_the_broken_reference() {
    let mut s = flagship();
    s.fleet[0].base = "nowhere".parse().unwrap();
    let e = s.validate().unwrap_err();
    assert_eq!(e.field, "fleet[0].base");
    assert!(e.rule.contains("unknown site nowhere"));
    let mut s = flagship();
    s.sites[0].population = s.sites[0].holding_capacity + 1;
    assert_eq!(s.validate().unwrap_err().field, "sites[0].population");
}
