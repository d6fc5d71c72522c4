//! Deterministic synthetic population: the same seed gives the same people.
//!
//! Names are random combinations of common Arabic given names and family
//! names; every generated person is synthetic. Output is ordered by site then
//! sequence, ids `P-000001…`, so downstream runs are reproducible.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::person::{Alias, ApproxDate, Category, EscortNeed, Identity, LegalStatus, Medical, Person, RiskClass, Sex};
use crate::{CountryCode, DomainError, GroupId, PersonId, Scenario};

const MALE: &[(&str, &str)] = &[
    ("أحمد", "Ahmad"), ("محمد", "Muhammad"), ("علي", "Ali"), ("عمر", "Umar"), ("خالد", "Khalid"),
    ("يوسف", "Yusuf"), ("إبراهيم", "Ibrahim"), ("حسن", "Hasan"), ("حسين", "Husayn"), ("عبدالله", "Abdallah"),
    ("سليمان", "Sulayman"), ("مصطفى", "Mustafa"), ("طارق", "Tariq"), ("سعيد", "Said"), ("ماجد", "Majid"),
    ("فيصل", "Faysal"), ("ناصر", "Nasir"), ("جمال", "Jamal"), ("كريم", "Karim"), ("رامي", "Rami"),
    ("بلال", "Bilal"), ("زياد", "Ziyad"), ("وليد", "Walid"), ("هشام", "Hisham"), ("عادل", "Adil"),
    ("سامر", "Samir"), ("منصور", "Mansur"), ("ياسر", "Yasir"), ("نبيل", "Nabil"), ("مراد", "Murad"),
];
const FEMALE: &[(&str, &str)] = &[
    ("فاطمة", "Fatima"), ("مريم", "Maryam"), ("عائشة", "Aisha"), ("زينب", "Zaynab"), ("خديجة", "Khadija"),
    ("نور", "Nur"), ("سارة", "Sara"), ("هدى", "Huda"), ("ليلى", "Layla"), ("رنا", "Rana"),
    ("سلمى", "Salma"), ("أمل", "Amal"), ("هبة", "Hiba"), ("دعاء", "Duaa"), ("أسماء", "Asma"),
];
const FAMILY: &[(&str, &str)] = &[
    ("الأحمد", "al-Ahmad"), ("الحسن", "al-Hasan"), ("العلي", "al-Ali"), ("الخليل", "al-Khalil"),
    ("الجبوري", "al-Jaburi"), ("الدليمي", "al-Dulaymi"), ("العبيدي", "al-Ubaydi"), ("الشمري", "al-Shammari"),
    ("الزبيدي", "al-Zubaydi"), ("الحمد", "al-Hamad"), ("السالم", "al-Salim"), ("الموسى", "al-Musa"),
    ("العمر", "al-Umar"), ("الصالح", "al-Salih"), ("الحسين", "al-Husayn"), ("الكردي", "al-Kurdi"),
    ("النعيمي", "al-Nuaymi"), ("العزاوي", "al-Azzawi"), ("البكر", "al-Bakr"), ("الراوي", "al-Rawi"),
];

fn pick<'a, R: Rng>(rng: &mut R, list: &'a [(&'a str, &'a str)]) -> (&'a str, &'a str) {
    list[rng.gen_range(0..list.len())]
}

fn weighted<R: Rng>(rng: &mut R, w: &BTreeMap<String, f64>, what: &str) -> Result<String, DomainError> {
    let keys: Vec<&String> = w.keys().collect();
    let dist = WeightedIndex::new(w.values().copied())
        .map_err(|e| DomainError::new(what, format!("bad weights: {e}")))?;
    Ok(keys[dist.sample(rng)].clone())
}

/// Generate the population of every origin of `scenario`, `site.population`
/// people each. Deterministic in `scenario.population.seed`.
pub fn generate(scenario: &Scenario) -> Result<Vec<Person>, DomainError> {
    let spec = &scenario.population;
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let on: NaiveDate = scenario.operation.start.date_naive();
    let mut people = Vec::with_capacity(scenario.total_population() as usize);
    let mut group_seq = 0u32;
    for origin in &scenario.origins {
        let site = scenario
            .site(&origin.site)
            .ok_or_else(|| DomainError::new("origins.site", format!("unknown site {}", origin.site)))?;
        let mut open_group: Option<(GroupId, u32)> = None;
        for _ in 0..site.population {
            let n = people.len() + 1;
            let category = Category::parse(&weighted(&mut rng, &origin.categories, "categories")?)?;
            let risk = RiskClass::parse(&weighted(&mut rng, &spec.risk, "risk")?)?;
            let nationality = CountryCode::new(&weighted(&mut rng, &spec.nationality, "nationality")?)?;
            let sex = match category {
                Category::AdultMale => Sex::Male,
                Category::AdultFemale => Sex::Female,
                Category::Minor if rng.gen_bool(0.8) => Sex::Male,
                Category::Minor => Sex::Female,
            };
            let names = if sex == Sex::Male { MALE } else { FEMALE };
            let (g_ar, g_la) = pick(&mut rng, names);
            let (f_ar, f_la) = pick(&mut rng, MALE);
            let (l_ar, l_la) = pick(&mut rng, FAMILY);
            let age = match category {
                Category::Minor => rng.gen_range(12..=17),
                _ => rng.gen_range(19..=58),
            };
            let year = (on.year() - age) as u16;
            let date_of_birth = match rng.gen_range(0..3) {
                0 => ApproxDate { year, month: None, day: None },
                1 => ApproxDate { year, month: Some(rng.gen_range(1..=12)), day: None },
                _ => ApproxDate { year, month: Some(rng.gen_range(1..=12)), day: Some(rng.gen_range(1..=28)) },
            };
            let aliases = if rng.gen_bool(spec.alias_share) {
                let (a_ar, a_la) = pick(&mut rng, MALE);
                vec![Alias { name_ar: format!("أبو {a_ar}"), name_latin: format!("Abu {a_la}") }]
            } else {
                Vec::new()
            };
            // Separation groups: runs of 2-5 consecutive people share a group.
            let separation_groups = match &mut open_group {
                Some((g, left)) if *left > 0 => {
                    *left -= 1;
                    vec![g.clone()]
                }
                _ if rng.gen_bool(spec.separated_share / 3.5) => {
                    group_seq += 1;
                    let g = GroupId::new(format!("G-{group_seq:04}"))?;
                    open_group = Some((g.clone(), rng.gen_range(1..=4)));
                    vec![g]
                }
                _ => {
                    open_group = None;
                    Vec::new()
                }
            };
            let roll: f64 = rng.r#gen();
            let medical = match roll {
                r if r < 0.004 => Medical { fit_to_fly: false, escort: EscortNeed::Stretcher },
                r if r < 0.010 => Medical { fit_to_fly: true, escort: EscortNeed::Stretcher },
                r if r < 0.040 => Medical { fit_to_fly: true, escort: EscortNeed::Medical },
                _ => Medical { fit_to_fly: true, escort: EscortNeed::None },
            };
            let legal_status = match rng.gen_range(0..10) {
                0..=5 => LegalStatus::Detained,
                6 | 7 => LegalStatus::AwaitingTrial,
                8 => LegalStatus::Charged,
                _ if category == Category::Minor => LegalStatus::ForRepatriation,
                _ => LegalStatus::Convicted,
            };
            let person = Person {
                id: PersonId::new(format!("P-{n:06}"))?,
                identity: Identity {
                    name_ar: format!("{g_ar} {f_ar} {l_ar}"),
                    name_latin: format!("{g_la} {f_la} {l_la}"),
                    aliases,
                    date_of_birth,
                    sex,
                    nationality,
                },
                category,
                risk,
                separation_groups,
                medical,
                legal_status,
                custodian: site.operator.clone(),
                site: site.id.clone(),
            };
            person.validate(on).map_err(|e| e.within(format!("synthetic person {n}")))?;
            people.push(person);
        }
    }
    Ok(people)
}
