//! Fresh Cedar decisions in a loop, for profiling and instruction counts.
//!
//! `cargo run --release -p sallyport-access --example decisions -- 20000`
//! prints the wall time per decision; under
//! `valgrind --tool=callgrind target/release/examples/decisions 2000` the
//! instruction count per decision is load-independent, for A/B comparisons.
//! The cases are the benchmark's (`benches/access.rs`, `decision/cedar_uncached`):
//! three readers × eight markings × read, write and request_release. Then the
//! same with a record class (marking originator) never seen before on every
//! call, and with a new principal as well. `SALLYPORT_POLICIES=DIR` loads the
//! schema and policies from DIR instead of the built-in ones.

use std::hint::black_box;
use std::time::Instant;

use sallyport_access::Authorizer;

#[path = "../benches/cases/mod.rs"]
mod cases;

/// The same allocator as the `sallyport` binary, so figures match the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    // Which loops to run: all, or one of `fresh`, `class`, `principal`.
    let only = std::env::args().nth(2).unwrap_or_default();
    let runs = |name: &str| only.is_empty() || only == name;
    let cases = cases::decision_cases();
    let authz = match std::env::var_os("SALLYPORT_POLICIES") {
        Some(dir) => Authorizer::load(dir).expect("policies"),
        None => Authorizer::builtin().expect("built-in policies"),
    };
    let allowed = cases.iter().filter(|(p, a, r)| authz.decide(p, a, r).allowed).count();
    if runs("fresh") {
        let t = Instant::now();
        for k in 0..n {
            let (p, a, r) = &cases[k % cases.len()];
            black_box(authz.decide(p, a, r).allowed);
        }
        let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
        println!("{n} fresh decisions over {} cases ({allowed} allowed): {per:.2} µs each", cases.len());
    }
    // Cold inputs: the record's class (here its originator) is new on every call,
    // then the principal too.
    let cold = |new_principal: bool| {
        let t = Instant::now();
        for k in 0..n {
            let (p, a, r) = &cases[k % cases.len()];
            let mut r = r.clone();
            r.label.originator = format!("AG-{k}");
            let mut p = p.clone();
            if new_principal {
                p.user = format!("user-{k}");
            }
            black_box(authz.decide(&p, a, &r).allowed);
        }
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    };
    if runs("class") {
        println!("new record class each call: {:.2} µs each", cold(false));
    }
    if runs("principal") {
        println!("new record class and principal each call: {:.2} µs each", cold(true));
    }
}
