//! What every command needs: where the data lives, which database, output mode.

use std::path::PathBuf;

use anyhow::Context as _;
use sallyport_store::Store;

#[derive(Debug, clap::Args)]
pub struct GlobalArgs {
    /// Data directory for the embedded database and generated files.
    #[arg(long, global = true, env = "SALLYPORT_DATA")]
    pub data_dir: Option<PathBuf>,
    /// Database URL (`postgres://…` for a shared server, `sqlite://…` for a file).
    /// Defaults to `sallyport.db` in the data directory.
    #[arg(long, global = true, env = "SALLYPORT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Shared context handed to every command.
#[derive(Debug)]
pub struct Ctx {
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub json: bool,
}

impl Ctx {
    pub fn new(args: GlobalArgs) -> Self {
        let data_dir = args.data_dir.unwrap_or_else(default_data_dir);
        Ctx { data_dir, database_url: args.database_url, json: args.json }
    }

    /// The database URL in force: `--database-url`, else the embedded SQLite file.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("sallyport.db").display()),
        }
    }

    /// Open the store (creating the data directory and running migrations).
    pub async fn store(&self) -> anyhow::Result<Store> {
        if self.database_url.is_none() {
            std::fs::create_dir_all(&self.data_dir)
                .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
        }
        let url = self.database_url();
        Store::open(&url).await.with_context(|| format!("cannot open database {}", redact(&url)))
    }
}

/// `$XDG_DATA_HOME/sallyport`, else `~/.local/share/sallyport`, else `./sallyport-data`.
fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("sallyport");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/share/sallyport");
    }
    PathBuf::from("sallyport-data")
}

/// Hide a password in a database URL before printing it.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
