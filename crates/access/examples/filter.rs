//! Filter and redact the flagship scenario's 6,000 people for each reader in a
//! loop, for profiling and instruction counts (the bench's `filter_6000/*_owned`).
//!
//! `cargo run --release -p sallyport-access --example filter -- 50` prints the
//! wall time per list; under `valgrind --tool=callgrind
//! --toggle-collect='*filter::one_list*' target/release/examples/filter 5 receiving`
//! the instruction count of one list (redaction and dropping the result, not
//! the copy of the input) is load-independent, for A/B comparisons.

use std::hint::black_box;
use std::time::{Duration, Instant};

use sallyport_access::people::{default_markings, marked_people, synthetic_notes};
use sallyport_access::redact::Filter;
use sallyport_access::{Authorizer, MarkedRecord, Principal};
use sallyport_core::{synth, Scenario};

#[path = "../benches/cases/mod.rs"]
mod cases;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[inline(never)]
fn one_list(authz: &Authorizer, p: &Principal, owned: Vec<MarkedRecord>) -> usize {
    Filter::new(authz, p).redact_all_owned(owned).len()
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let only = std::env::args().nth(2).unwrap_or_default();
    let s: Scenario = toml::from_str(include_str!("../../../scenarios/northeast-syria-2026.toml")).expect("flagship scenario");
    let people = synth::generate(&s).expect("people");
    let notes = synthetic_notes(&people, &s.agencies);
    let records = marked_people(&people, &notes, &default_markings(&s.agencies), &s.agencies);
    let authz = Authorizer::builtin().expect("built-in policies");
    for (name, p) in cases::readers() {
        if !only.is_empty() && only != name {
            continue;
        }
        let mut spent = Duration::ZERO;
        let mut shown = 0;
        for _ in 0..n {
            let owned = records.clone();
            let t = Instant::now();
            shown = black_box(one_list(&authz, &p, owned));
            spent += t.elapsed();
        }
        println!("{name}: {shown} of {} shown, {:.2} ms per list", records.len(), spent.as_secs_f64() * 1e3 / n as f64);
    }
}
