//! Run the flagship demo without the CLI (until the CLI depends on this crate):
//! `cargo run --release -p sallyport-execution --example demo -- [--seed N] [--people N] [--out DIR]`
use std::path::PathBuf;
use std::time::Instant;

use sallyport_execution::{DemoOptions, RunConfig, prepare_and_run, scale_scenario, write_outputs};

fn main() -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut seed = 2026u64;
    let mut people: Option<u32> = None;
    let mut out = PathBuf::from("target/demo-example");
    let mut db: Option<String> = None;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
        match a.as_str() {
            "--seed" => seed = v.parse()?,
            "--people" => people = Some(v.parse()?),
            "--out" => out = PathBuf::from(v),
            "--db" => db = Some(v.clone()),
            _ => anyhow::bail!("unknown option {a}"),
        }
    }
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/northeast-syria-2026.toml"))?;
    let mut sc: sallyport_core::Scenario = toml::from_str(&text)?;
    if let Some(n) = people {
        sc = scale_scenario(&sc, n);
    }
    sc.validate()?;
    let pop = sallyport_core::synth::generate(&sc)?;
    let opts = DemoOptions {
        config: RunConfig { seed, ..Default::default() },
        search_bases: vec![std::env::current_dir()?, PathBuf::from(env!("CARGO_MANIFEST_DIR"))],
        threat_days: 90,
    };
    let o = prepare_and_run(&sc, &pop, &opts, &mut |n| println!("{n}"), &mut |d| {
        println!(
            "day {:>2} {}  moved {:>4}  at destination {:>5}  with receiving govt {:>5}  open discrepancies {:>3}  replans {:>2}",
            d.day, d.date, d.moved, d.arrived_total, d.with_receiving_government, d.open_discrepancies, d.replans_total
        )
    })?;
    let s = write_outputs(&o, &out)?;
    if let Some(url) = db {
        // Same persistence as `sallyport demo`: scenario + people, every plan, final custody.
        let t = Instant::now();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        rt.block_on(async {
            let store = sallyport_store::Store::open(&url).await?;
            store.load_scenario(&sc, &pop, true).await?;
            let p = sallyport_execution::persist::save_plans(&store, &o).await?;
            let c = sallyport_execution::persist::save_custody(&store, &o).await?;
            println!("store: {p} plans, {c} custody updates in {:.1} s", t.elapsed().as_secs_f64());
            anyhow::Ok(())
        })?;
    }
    println!("documented: {:?}", o.documented);
    println!("unexplained: {:?}", o.unexplained_discrepancies.iter().take(5).collect::<Vec<_>>());
    println!("broken chains: {:?}", o.broken_chains.iter().take(5).collect::<Vec<_>>());
    println!("checkpoint root: {} (size {})", o.checkpoint_root, o.log_size);
    println!("re-plans: {}", s.replans);
    println!("evidence bundles verified: {}/{}", s.bundles_verified, s.bundles);
    println!("report: {}", s.report.display());
    println!("wall: {:.1} s", t0.elapsed().as_secs_f64());
    println!("accounted for: {}/{}", s.accounted, s.population);
    Ok(())
}
