//! The dashboard in a real browser: `node tests/web/dashboard.mjs` drives
//! Debian's chromium (playwright-core) against this server on loopback, loaded
//! with the flagship scenario, while sorties are published on the live bus.
//!
//! Needs node, /usr/bin/chromium and tests/web/node_modules (`scripts/web-deps`).
//! When missing: a failure under CI=true, otherwise skipped loudly on stderr.
//! Screenshots go to `$SALLYPORT_SCREENSHOTS` (e.g. docs/screenshots) or a temp dir.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use sallyport_server::LiveEvent;

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn missing() -> Vec<String> {
    let mut m = Vec::new();
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !PathBuf::from(&chromium).exists() {
        m.push(format!("chromium at {chromium}"));
    }
    if std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .map_or(true, |s| !s.success())
    {
        m.push("node".into());
    }
    for pkg in ["playwright-core", "axe-core"] {
        if !repo().join("tests/web/node_modules").join(pkg).exists() {
            m.push(format!("tests/web/node_modules/{pkg}"));
        }
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_chromium() {
    let missing = missing();
    if !missing.is_empty() {
        let msg = format!(
            "browser test needs {} (run scripts/web-deps)",
            missing.join(", ")
        );
        if in_ci() {
            panic!("{msg}");
        }
        eprintln!("\n*** SKIPPED dashboard_in_chromium: {msg} ***\n");
        return;
    }
    let srv = TestServer::start(true).await;
    // A stored plan for the Gantt chart, as `sallyport plan` would leave it.
    store_plan(&srv.db.store).await;
    let shots = match std::env::var_os("SALLYPORT_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
    };
    srv.bus
        .send(LiveEvent::Alert {
            id: "A-0001".into(),
            severity: "high".into(),
            site: Some("raqqa".into()),
            message: "armed clashes reported 12 km from the site (synthetic)".into(),
        })
        .unwrap();
    // Sorties in flight while the browser watches: Rmeilan → Baghdad and Erbil → Baghdad.
    let bus = srv.bus.clone();
    let flying = tokio::spawn(async move {
        for step in 0u32.. {
            for (sortie, aircraft, from, off) in [
                ("S-0001", "CH47-01", "rmeilan", 0.0),
                ("S-0002", "C130-01", "erbil", 0.35),
            ] {
                let progress = ((step as f64 * 0.02) + off) % 1.0;
                let _ = bus.send(LiveEvent::SortieProgress {
                    sortie: sortie.into(),
                    aircraft: aircraft.into(),
                    from: from.into(),
                    to: "baghdad".into(),
                    people: 30,
                    progress,
                    status: "airborne".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let out = tokio::process::Command::new("node")
        .arg(repo().join("tests/web/dashboard.mjs"))
        .arg(&srv.base)
        .arg(&shots)
        .env("SP_USER", OPERATOR.0)
        .env("SP_PASSWORD", OPERATOR.1)
        .env("SP_PARTNER", PARTNER.0)
        .env("SP_PARTNER_PASSWORD", PARTNER.1)
        .env("SP_TOKEN", OPERATOR_TOKEN)
        .current_dir(repo().join("tests/web"))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), out)
        .await
        .expect("browser test finished in time")
        .expect("node runs");
    flying.abort();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "browser test failed:\n{stdout}");
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    for f in [
        "login.png",
        "picture.png",
        "person.png",
        "person-partner.png",
        "schedule.png",
        "sitrep.png",
        "sitrep.pdf",
    ] {
        assert!(
            shots.join(f).metadata().is_ok_and(|m| m.len() > 1000),
            "{f} not written"
        );
    }
    srv.stop().await;
}
