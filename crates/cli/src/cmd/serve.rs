//! `sallyport serve`: the HTTP API and the live dashboard over the store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use sallyport_server::access::{Level, Role};
use sallyport_server::policy::{Policy, principal};
use sallyport_server::{Auth, Config, TlsFiles};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// TLS certificate chain (PEM); with --tls-key, serve HTTPS.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Largest request body accepted, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub body_limit: usize,
    /// Requests per second allowed per token or session (burst twice that).
    #[arg(long, default_value_t = 2000)]
    pub rate: u32,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, default_value_t = 15)]
    pub timeout: u64,
    /// Credentials file: lines `user NAME PASSWORD AGENCY ROLES CLEARANCE [COMPARTMENTS]` or
    /// `token NAME SECRET AGENCY ROLES CLEARANCE [COMPARTMENTS]`: AGENCY one of the stored
    /// operation's agencies; ROLES comma-separated access roles (coordinator, planner,
    /// enrollment_officer, field_custodian, legal_officer, auditor, administrator); CLEARANCE
    /// U, R, C, S or TS; COMPARTMENTS comma-separated (e.g. HVD). Without the file, a
    /// coordinator/administrator login is generated and printed.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Directory with `sallyport.cedarschema` and `sallyport.cedar` (default: the policies
    /// built into this binary, from the repository's `policies/`).
    #[arg(long)]
    pub policies: Option<PathBuf>,
    /// Assess threat as a REPLAY of recorded conflict history from this day (YYYY-MM-DD):
    /// operation day k is assessed as this day + k. Default: the operation's current date.
    #[arg(long)]
    pub threat_replay_from: Option<chrono::NaiveDate>,
    /// Logs as JSON lines.
    #[arg(long)]
    pub log_json: bool,
}

fn load_credentials(path: &PathBuf, agencies: &[sallyport_core::Agency], auth: &mut Auth) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", path.display(), n + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let (kind, name, secret, agency, roles, clearance, comps) = match f.as_slice() {
            [k, n, s, a, r, c] => (*k, *n, *s, *a, *r, *c, ""),
            [k, n, s, a, r, c, x] => (*k, *n, *s, *a, *r, *c, *x),
            _ => anyhow::bail!("{}: expected `user|token NAME SECRET AGENCY ROLES CLEARANCE [COMPARTMENTS]`", at()),
        };
        let roles = roles
            .split(',')
            .filter(|r| !r.is_empty())
            .map(Role::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        let clearance = Level::parse(&clearance.replace('_', " ")).map_err(|e| anyhow::anyhow!("{}: clearance: {e}", at()))?;
        let comps: Vec<&str> = comps.split(',').filter(|c| !c.is_empty() && *c != "-").collect();
        let who = principal(agencies, name, agency, &roles, clearance, &comps).map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        match kind {
            "user" => auth.add_user(name, secret, who),
            "token" => auth.add_token(secret, who),
            other => anyhow::bail!("{}: unknown kind {other:?} (user or token)", at()),
        }
    }
    Ok(())
}

/// Add an `admin` login with a fresh random password (printed on stderr): a
/// coordinator, auditor and administrator of the operation's first agency.
pub fn generated_login(agencies: &[sallyport_core::Agency], auth: &mut Auth) -> anyhow::Result<()> {
    let password = sallyport_server::auth::random_secret();
    let agency = agencies
        .first()
        .map(|a| a.id.to_string())
        .context("no operation stored, so no agency to log in for: load a scenario first or give --credentials")?;
    let who = principal(agencies, "admin", &agency, &[Role::Coordinator, Role::Auditor, Role::Administrator], Level::TopSecret, &["HVD"])
        .map_err(|e| anyhow::anyhow!(e))?;
    auth.add_user("admin", &password, who);
    eprintln!(
        "No --credentials given: log in as `admin` with password {password} ({agency} coordinator, auditor and administrator; TOP SECRET, HVD)"
    );
    Ok(())
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    sallyport_server::init_tracing(args.log_json);
    let store = ctx.store().await?;
    let policy = match &args.policies {
        Some(dir) => Policy::new(sallyport_server::access::Authorizer::load(dir)?),
        None => Policy::builtin()?,
    };
    let mut auth = Auth::new(policy);
    let agencies = store.agencies().await?;
    match &args.credentials {
        Some(p) => load_credentials(p, &agencies, &mut auth)?,
        None => generated_login(&agencies, &mut auth)?,
    }
    let config = Config {
        listen: args.listen,
        tls: args.tls_cert.zip(args.tls_key).map(|(cert, key)| TlsFiles { cert, key }),
        body_limit: args.body_limit,
        rate_per_second: args.rate,
        rate_burst: args.rate.saturating_mul(2),
        request_timeout: Duration::from_secs(args.timeout),
        threat_replay_from: args.threat_replay_from,
        ..Config::default()
    };
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let server = sallyport_server::Server::bind(store.clone(), config, auth, sallyport_server::bus()).await?;
    eprintln!("Serving the dashboard at {scheme}://{}/ (Ctrl-C to stop)", server.local_addr());
    server.run(sallyport_server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}
