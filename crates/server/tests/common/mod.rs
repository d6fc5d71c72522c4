//! A real server on 127.0.0.1:0 over a fresh store, for the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use sallyport_core::Scenario;
use sallyport_server::access::{Level, Principal, Role};
use sallyport_server::state::AppState;
use sallyport_server::{Auth, Config, LiveBus, Server};
use sallyport_store::testing::TestDb;

/// US-CENTCOM coordinator and field custodian, cleared SECRET (no compartments).
pub const OPERATOR: (&str, &str) = ("operator", "operator-password-1");
/// US-STATE planner, cleared CONFIDENTIAL: reads the picture and people's
/// unclassified fields.
pub const VIEWER: (&str, &str) = ("viewer", "viewer-password-1");
/// SDF (the detaining partner force) field custodian, cleared CONFIDENTIAL.
pub const PARTNER: (&str, &str) = ("partner", "partner-password-1");
/// US-ODNI coordinator, cleared TOP SECRET and read into HVD.
pub const ANALYST: (&str, &str) = ("analyst", "analyst-password-1");
pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";
pub const VIEWER_TOKEN: &str = "test-viewer-token-0123456789";
pub const PARTNER_TOKEN: &str = "test-partner-token-0123456789";
pub const ANALYST_TOKEN: &str = "test-analyst-token-0123456789";
/// An administrator only: manages users, reads nothing.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// An observer whose agency is not party to the operation (country CHE).
pub const OUTSIDER_TOKEN: &str = "test-outsider-token-0123456789";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn flagship() -> Scenario {
    let text = std::fs::read_to_string(repo().join("scenarios/northeast-syria-2026.toml"))
        .expect("flagship scenario");
    toml::from_str(&text).expect("valid scenario")
}

fn who(user: &str, agency: &str, roles: &[Role], clearance: Level, comps: &[&str]) -> Principal {
    sallyport_server::policy::principal(&flagship().agencies, user, agency, roles, clearance, comps)
        .expect("flagship agency")
}

pub fn operator() -> Principal {
    who(
        OPERATOR.0,
        "US-CENTCOM",
        &[Role::Coordinator, Role::FieldCustodian],
        Level::Secret,
        &[],
    )
}
pub fn viewer() -> Principal {
    who(
        VIEWER.0,
        "US-STATE",
        &[Role::Planner],
        Level::Confidential,
        &[],
    )
}
pub fn partner() -> Principal {
    who(
        PARTNER.0,
        "SDF",
        &[Role::FieldCustodian],
        Level::Confidential,
        &[],
    )
}
pub fn analyst() -> Principal {
    who(
        ANALYST.0,
        "US-ODNI",
        &[Role::Coordinator],
        Level::TopSecret,
        &["HVD"],
    )
}

/// The test users and tokens, decided by the repository's Cedar policies.
pub fn auth() -> Auth {
    auth_with(sallyport_server::Policy::builtin().expect("builtin policies"))
}

pub fn auth_with(policy: sallyport_server::Policy) -> Auth {
    let mut a = Auth::new(policy);
    for ((user, password), token, p) in [
        (OPERATOR, OPERATOR_TOKEN, operator()),
        (VIEWER, VIEWER_TOKEN, viewer()),
        (PARTNER, PARTNER_TOKEN, partner()),
        (ANALYST, ANALYST_TOKEN, analyst()),
    ] {
        a.add_user(user, password, p.clone());
        a.add_token(token, p);
    }
    a.add_token(
        ADMIN_TOKEN,
        who(
            "admin",
            "US-ODNI",
            &[Role::Administrator],
            Level::TopSecret,
            &[],
        ),
    );
    a.add_token(
        OUTSIDER_TOKEN,
        Principal {
            user: "observer".into(),
            agency: "ICRC".into(),
            country: "CHE".into(),
            agency_kind: "humanitarian".into(),
            roles: [Role::Coordinator].into(),
            clearance: Level::Secret,
            compartments: Default::default(),
        },
    );
    a
}

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub bus: LiveBus,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub db: TestDb,
}

impl TestServer {
    /// Start over `db`, loading the flagship scenario with its 6,000 synthetic people when `load`.
    pub async fn start_on(db: TestDb, load: bool, config: Config) -> TestServer {
        Self::start_with(db, load, config, auth()).await
    }

    /// Start with the given users and policy.
    pub async fn start_with(db: TestDb, load: bool, config: Config, auth: Auth) -> TestServer {
        if load {
            let scenario = flagship();
            let people = sallyport_core::synth::generate(&scenario).expect("synthetic people");
            db.store
                .load_scenario(&scenario, &people, false)
                .await
                .expect("load scenario");
        }
        let bus = sallyport_server::bus();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..config
        };
        let server = Server::bind(db.store.clone(), config, auth, bus.clone())
            .await
            .expect("bind");
        let base = format!("http://{}", server.local_addr());
        let state = server.state();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        TestServer {
            base,
            state,
            bus,
            stop: Some(tx),
            task: Some(task),
            db,
        }
    }

    pub async fn start(load: bool) -> TestServer {
        Self::start_on(
            sallyport_store::testing::sqlite().await,
            load,
            Config::default(),
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Graceful stop; returns once the server has finished.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Assert `resp` is a problem with `status`, and return its detail.
pub async fn problem(resp: reqwest::Response, status: u16) -> String {
    assert_eq!(resp.status().as_u16(), status, "status");
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "content type");
    let v: serde_json::Value = resp.json().await.expect("problem JSON");
    assert_eq!(v["status"].as_u64(), Some(status as u64), "{v}");
    let kind = v["type"].as_str().expect("type");
    assert!(kind.starts_with("/problems/"), "{v}");
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    v["detail"].as_str().expect("detail").to_string()
}

/// Solve the stored operation with the planner (construction only, seed 1)
/// on a flat threat and store the plan as `sallyport plan` would; returns it.
pub async fn store_plan(store: &sallyport_store::Store) -> sallyport_planner::Plan {
    let scenario = store.scenario().await.unwrap().expect("scenario loaded");
    let people = store.people().await.unwrap();
    let rates: sallyport_planner::ThreatRates = scenario
        .origins
        .iter()
        .map(|o| (o.site.clone(), vec![1.0; 120]))
        .collect();
    let problem = sallyport_planner::Problem::from_scenario(&scenario, &people, &rates).unwrap();
    let opts = sallyport_planner::SolverOptions {
        time_limit: std::time::Duration::from_secs(60),
        seed: 1,
        max_rounds: Some(0),
        batch: 1,
    };
    let plan = tokio::task::spawn_blocking(move || {
        sallyport_planner::solve(&problem, &opts).map(|p| (p, problem))
    })
    .await
    .unwrap()
    .unwrap();
    let (plan, problem) = plan;
    sallyport_store::sqlx::query(
        "INSERT INTO plans (created_ms, seed, kind, note, json, problem_json) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(plan.epoch.timestamp_millis())
    .bind(1i64)
    .bind("solve")
    .bind("test plan")
    .bind(serde_json::to_string(&plan).unwrap())
    .bind(serde_json::to_string(&problem).unwrap())
    .execute(store.pool())
    .await
    .unwrap();
    plan
}

/// The recorded UCDP GED events for Syria (real data, read-only), if present.
pub fn ged_file() -> Option<PathBuf> {
    let p = repo().join("../shared/data/conflict/ucdp-ged-syria-v19.1-2016-2019.csv");
    p.is_file().then_some(p)
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}
