//! The HTTP server: router assembly, middleware (limits, timeouts, metrics,
//! tracing), TLS, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sallyport_store::Store;
use serde::Serialize;
use tower_http::trace::TraceLayer;
use utoipa::ToSchema;

use crate::auth::Auth;
use crate::config::Config;
use crate::live::LiveBus;
use crate::problem::ApiError;
use crate::state::AppState;
use crate::{api, dashboard, metrics, openapi, problem};

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub uptime_s: u64,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok".into(),
        uptime_s: state.uptime_s(),
    })
}

/// Readiness: the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = crate::problem::Problem, content_type = "application/problem+json")))]
pub async fn readyz(State(state): State<AppState>) -> Result<axum::Json<Health>, ApiError> {
    sallyport_store::sqlx::query("SELECT 1")
        .fetch_one(state.store().pool())
        .await
        .map_err(|e| ApiError::new("unavailable", format!("database not ready: {e}")))?;
    Ok(axum::Json(Health {
        status: "ready".into(),
        uptime_s: state.uptime_s(),
    }))
}

async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(state.config().request_timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            "timeout",
            format!("no answer within {:?}", state.config().request_timeout),
        )
        .into_response(),
    }
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no route for {} {}",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        "method-not-allowed",
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/v1/session", post(api::login).get(api::whoami))
        .route("/api/v1/overview", get(api::overview))
        .route("/api/v1/sites", get(api::sites))
        .route("/api/v1/sites/{id}", get(api::site))
        .route("/api/v1/fleet", get(api::fleet))
        .route("/api/v1/schedule", get(api::schedule))
        .route("/api/v1/threat", get(api::threat))
        .route("/api/v1/operation", get(api::operation))
        .route("/api/v1/progress", get(api::progress))
        .route("/api/v1/alerts", get(api::alerts))
        .route("/api/v1/live", get(api::live))
        .route("/api/v1/people", get(api::people))
        .route("/api/v1/people/{id}", get(api::person))
        .route("/api/v1/export/people", get(api::export_people))
        .route("/api/v1/devices/{device}", get(api::device_state))
        .route("/api/v1/devices/{device}/events", post(api::device_sync))
        .route("/api/v1/sitrep", get(api::sitrep_json))
        .route("/api/v1/sitrep.pdf", get(api::sitrep_pdf));
    let ops = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics::handler))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    openapi::json(),
                )
            }),
        )
        .route("/problems/{slug}", get(problem::describe));
    api.merge(ops)
        .merge(dashboard::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config().body_limit))
        .layer(middleware::from_fn_with_state(state.clone(), timeout))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A bound, not yet running server.
pub struct Server {
    state: AppState,
    listener: std::net::TcpListener,
    addr: SocketAddr,
    /// Subscribed at bind time, so events published before `run` are kept.
    events: tokio::sync::broadcast::Receiver<crate::live::LiveEvent>,
}

impl Server {
    /// Bind `config.listen` (port 0 picks a free port) over `store`, publishing
    /// and listening on `bus`.
    pub async fn bind(
        store: Store,
        config: Config,
        auth: Auth,
        bus: LiveBus,
    ) -> anyhow::Result<Server> {
        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let events = bus.subscribe();
        Ok(Server {
            state: AppState::new(store, bus, config, auth),
            listener,
            addr,
            events,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (store, bus, cache) the routes use.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serve until `shutdown` resolves, then stop accepting, let in-flight
    /// requests finish (each write commits before it is acknowledged), end the
    /// live streams, and return once every connection is closed or the grace
    /// period is over.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state;
        let app = router(state.clone());
        // Remember live events and invalidate read models, whoever published them.
        let mut rx = self.events;
        let listener_state = state.clone();
        let remember = tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        // A sortie's position changes no stored data.
                        let stale = !matches!(ev, crate::live::LiveEvent::SortieProgress { .. });
                        listener_state.remember(ev);
                        if stale {
                            listener_state.cache().invalidate();
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        listener_state.cache().invalidate()
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let handle = axum_server::Handle::new();
        let grace = state.config().shutdown_grace;
        {
            let handle = handle.clone();
            let state = state.clone();
            tokio::spawn(async move {
                shutdown.await;
                tracing::info!("shutting down: finishing in-flight requests");
                state.begin_shutdown();
                handle.graceful_shutdown(Some(grace));
            });
        }
        let svc = app.into_make_service();
        let result = match &state.config().tls {
            Some(tls) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let cfg = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot load TLS certificate {} / key {}",
                            tls.cert.display(),
                            tls.key.display()
                        )
                    })?;
                tracing::info!(addr = %self.addr, "serving HTTPS");
                axum_server::from_tcp_rustls(self.listener, cfg)
                    .handle(handle)
                    .serve(svc)
                    .await
            }
            None => {
                tracing::info!(addr = %self.addr, "serving HTTP");
                axum_server::from_tcp(self.listener)
                    .handle(handle)
                    .serve(svc)
                    .await
            }
        };
        remember.abort();
        result.context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Bind and serve until `shutdown`; see [`Server::run`].
pub async fn serve(
    store: Store,
    config: Config,
    auth: Auth,
    bus: LiveBus,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Server::bind(store, config, auth, bus)
        .await?
        .run(shutdown)
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
