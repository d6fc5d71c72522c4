//! Load and fault test of `sallyport-server` on loopback (bounded in time and count).
//!
//! `cargo bench -p sallyport-server --bench load -- [--backend sqlite|postgres]
//!   [--seconds 10] [--connections 32] [--devices 50] [--events 1000] [--batch 100] [--no-kill]`
//!
//! 1. Loads the flagship scenario (6,000 synthetic people) into a fresh database
//!    and starts the server as a child process (this binary with `--child`).
//! 2. Reads: `--connections` keep-alive clients hit the main read endpoints for
//!    `--seconds`; prints requests/s and p50/p99 per endpoint.
//! 3. Field sync: `--devices` devices each send `--events` custody events in
//!    batches, re-sending anything unacknowledged. Midway the server is killed
//!    (SIGKILL) and restarted on the same port. Afterwards every acknowledged
//!    event must be in the database exactly once: zero loss or the bench fails.
//!
//! Server and load generator share the machine's cores.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sallyport_store::Store;
use sallyport_store::sqlx::{self, Row};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The same allocator as the `sallyport` binary, so figures match the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const TOKEN: &str = "bench-operator-token-0123456789abcdef";

#[derive(Debug, Clone)]
struct Opts {
    backend: String,
    seconds: u64,
    connections: usize,
    devices: usize,
    events: u64,
    batch: u64,
    kill: bool,
}

fn opts() -> Opts {
    let mut o = Opts {
        backend: "sqlite".into(),
        seconds: 10,
        connections: 32,
        devices: 50,
        events: 1000,
        batch: 100,
        kill: true,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let v = args.get(i + 1).cloned().unwrap_or_default();
        let num = |s: &str| {
            s.parse::<u64>()
                .unwrap_or_else(|_| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--backend" => o.backend = v,
            "--seconds" => o.seconds = num(&v).clamp(1, 120),
            "--connections" => o.connections = num(&v).clamp(1, 512) as usize,
            "--devices" => o.devices = num(&v).clamp(1, 200) as usize,
            "--events" => o.events = num(&v).clamp(1, 100_000),
            "--batch" => o.batch = num(&v).clamp(1, 1000),
            "--no-kill" => {
                o.kill = false;
                i += 1;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// Child mode: serve `url` on `listen` until killed or SIGTERM.
async fn child(url: &str, listen: &str) -> anyhow::Result<()> {
    let store = Store::open(url).await?;
    let mut auth = sallyport_server::Auth::builtin()?;
    use sallyport_server::access::{Level, Role};
    let who = sallyport_server::policy::principal(
        &store.agencies().await?,
        "bench",
        "US-CENTCOM",
        &[Role::Coordinator, Role::FieldCustodian],
        Level::Secret,
        &[],
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    auth.add_token(TOKEN, who);
    let config = sallyport_server::Config {
        listen: listen.parse()?,
        rate_per_second: 1_000_000,
        rate_burst: 1_000_000,
        ..Default::default()
    };
    let server =
        sallyport_server::Server::bind(store.clone(), config, auth, sallyport_server::bus())
            .await?;
    println!("LISTENING {}", server.local_addr());
    server.run(sallyport_server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

struct Child {
    proc: tokio::process::Child,
    addr: String,
}

async fn spawn_child(url: &str, listen: &str) -> Child {
    let mut proc = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--child", url, listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn server child");
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let addr = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if let Some(a) = l.strip_prefix("LISTENING ") {
                return a.to_string();
            }
        }
        panic!("server child exited before listening");
    })
    .await
    .expect("server child listening in time");
    Child { proc, addr }
}

async fn database(backend: &str, dir: &std::path::Path) -> String {
    match backend {
        "sqlite" => format!("sqlite://{}", dir.join("bench.db").display()),
        "postgres" => {
            use sqlx::Connection;
            let base = sallyport_store::testing::postgres_url();
            let schema = format!("sp_bench_{}", std::process::id());
            let mut c = sqlx::PgConnection::connect(&base)
                .await
                .expect("PostgreSQL reachable");
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&mut c)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE SCHEMA {schema}"))
                .execute(&mut c)
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            format!("{base}{sep}options=-c%20search_path%3D{schema}")
        }
        other => panic!("unknown backend {other}"),
    }
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

async fn reads(base: &str, o: &Opts) {
    let endpoints = [
        "/api/v1/overview",
        "/api/v1/sites",
        "/api/v1/sites/ghwayran",
        "/api/v1/people?site=ghwayran&limit=50",
        "/api/v1/fleet",
        "/api/v1/progress",
        "/",
    ];
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(o.connections)
        .build()
        .unwrap();
    for ep in endpoints {
        let r = client
            .get(format!("{base}{ep}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{ep}: {}", r.status());
    }
    println!(
        "\n## Reads ({} connections, {} s per endpoint)\n",
        o.connections, o.seconds
    );
    println!("| endpoint | requests | req/s | p50 ms | p99 ms | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for ep in endpoints {
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(AtomicU64::new(0));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..o.connections {
            let (client, url, stop, errors) = (
                client.clone(),
                format!("{base}{ep}"),
                stop.clone(),
                errors.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(100_000);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match client.get(&url).bearer_auth(TOKEN).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            lat.push(t.elapsed().as_micros() as u32);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                lat
            }));
        }
        tokio::time::sleep(Duration::from_secs(o.seconds)).await;
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let secs = t0.elapsed().as_secs_f64();
        all.sort_unstable();
        println!(
            "| `GET {ep}` | {} | {:.0} | {:.2} | {:.2} | {} |",
            all.len(),
            all.len() as f64 / secs,
            pct(&all, 0.50),
            pct(&all, 0.99),
            errors.load(Ordering::Relaxed)
        );
    }
}

const KINDS: [(&str, &str, &str); 3] = [
    ("checkpoint", "", "SDF"),
    ("departed", "rmeilan", "US-CENTCOM"),
    ("arrived", "baghdad", "IQ-GOV"),
];

fn event(dev: usize, seq: u64, origin_of: &BTreeMap<String, String>, people: &[String]) -> Value {
    let person = &people[(dev * 997 + seq as usize * 13) % people.len()];
    let (kind, site, cust) = KINDS[(seq % 3) as usize];
    let site = if site.is_empty() {
        origin_of[person].as_str()
    } else {
        site
    };
    let at = chrono::DateTime::parse_from_rfc3339("2026-01-22T00:00:00Z").unwrap()
        + chrono::Duration::seconds(seq as i64 * 60 + dev as i64);
    json!({"seq": seq, "person": person, "kind": kind, "site": site, "custodian": cust, "at": at.to_rfc3339()})
}

async fn sync(url: &str, first: Child, o: &Opts, store: &Store) -> bool {
    let people: Vec<(String, String)> = sqlx::query("SELECT id, site FROM people ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect();
    let origin_of: Arc<BTreeMap<String, String>> = Arc::new(people.iter().cloned().collect());
    let ids: Arc<Vec<String>> = Arc::new(people.into_iter().map(|p| p.0).collect());
    let base = format!("http://{}", first.addr);
    let listen = first.addr.clone();
    let total = o.devices as u64 * o.events;
    let acked = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let duplicates = Arc::new(AtomicU64::new(0));
    let acked_seqs: Arc<std::sync::Mutex<Vec<(usize, u64)>>> = Default::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for dev in 0..o.devices {
        let (client, base, origin_of, ids) =
            (client.clone(), base.clone(), origin_of.clone(), ids.clone());
        let (acked, retries, duplicates, acked_seqs) = (
            acked.clone(),
            retries.clone(),
            duplicates.clone(),
            acked_seqs.clone(),
        );
        let (events, batch) = (o.events, o.batch);
        tasks.push(tokio::spawn(async move {
            let mut next = 1u64;
            let started = Instant::now();
            while next <= events {
                assert!(
                    started.elapsed() < Duration::from_secs(600),
                    "device {dev} gave up"
                );
                let last = (next + batch - 1).min(events);
                let evs: Vec<Value> = (next..=last)
                    .map(|s| event(dev, s, &origin_of, &ids))
                    .collect();
                let r = client
                    .post(format!("{base}/api/v1/devices/field-{dev:03}/events"))
                    .bearer_auth(TOKEN)
                    .json(&json!({ "events": evs }))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let ack: Value = match r.json().await {
                            Ok(v) => v,
                            Err(_) => {
                                retries.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                        };
                        assert!(
                            ack["high_water"].as_u64().unwrap() >= last,
                            "ack below batch: {ack}"
                        );
                        duplicates
                            .fetch_add(ack["duplicates"].as_u64().unwrap(), Ordering::Relaxed);
                        acked.fetch_add(last - next + 1, Ordering::Relaxed);
                        acked_seqs
                            .lock()
                            .unwrap()
                            .extend((next..=last).map(|s| (dev, s)));
                        next = last + 1;
                    }
                    Ok(r) if r.status().is_client_error() && r.status() != 429 => {
                        panic!(
                            "device {dev}: refused {}: {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        )
                    }
                    _ => {
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    let mut child = first;
    let mut killed_at = None;
    if o.kill {
        while acked.load(Ordering::Relaxed) < total * 2 / 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let before = acked.load(Ordering::Relaxed);
        child.proc.kill().await.expect("kill server");
        killed_at = Some(before);
        tokio::time::sleep(Duration::from_millis(500)).await;
        child = spawn_child(url, &listen).await;
    }
    for t in tasks {
        t.await.expect("device task");
    }
    let secs = t0.elapsed().as_secs_f64();
    let stored: i64 = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) FROM server_field_events")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    let mut missing = 0u64;
    let have: std::collections::HashSet<(String, i64)> =
        sqlx::query("SELECT device, seq FROM server_field_events")
            .fetch_all(store.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect();
    for (dev, seq) in acked_seqs.lock().unwrap().iter() {
        if !have.contains(&(format!("field-{dev:03}"), *seq as i64)) {
            missing += 1;
        }
    }
    println!(
        "\n## Field sync ({} devices x {} events, batches of {})\n",
        o.devices, o.events, o.batch
    );
    println!("| measure | value |\n|---|---:|");
    println!(
        "| events acknowledged | {} |",
        acked.load(Ordering::Relaxed)
    );
    println!("| events stored (exactly once) | {stored} |");
    println!("| acknowledged but missing | {missing} |");
    println!(
        "| duplicates re-sent and ignored | {} |",
        duplicates.load(Ordering::Relaxed)
    );
    println!("| retried requests | {} |", retries.load(Ordering::Relaxed));
    match killed_at {
        Some(n) => println!("| server SIGKILLed and restarted after | {n} acknowledged events |"),
        None => println!("| server restarts | 0 |"),
    }
    println!("| wall time | {secs:.1} s |");
    println!("| throughput | {:.0} events/s |", total as f64 / secs);
    drop(child);
    missing == 0 && stored as u64 == total
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("--child") {
        if let Err(e) = rt.block_on(child(&args[2], &args[3])) {
            eprintln!("server child: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let o = opts();
    let ok = rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = database(&o.backend, dir.path()).await;
        let store = Store::open(&url).await.expect("open database");
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/northeast-syria-2026.toml"
        ))
        .unwrap();
        let scenario: sallyport_core::Scenario = toml::from_str(&text).unwrap();
        let people = sallyport_core::synth::generate(&scenario).unwrap();
        store
            .load_scenario(&scenario, &people, false)
            .await
            .expect("load flagship");
        println!(
            "# sallyport-server load test: backend {}, {} people, {}",
            o.backend,
            people.len(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        );
        let c = spawn_child(&url, "127.0.0.1:0").await;
        reads(&format!("http://{}", c.addr), &o).await;
        let ok = sync(&url, c, &o, &store).await;
        store.close().await;
        ok
    });
    if !ok {
        eprintln!("FAILED: acknowledged events were lost or duplicated");
        std::process::exit(1);
    }
}
