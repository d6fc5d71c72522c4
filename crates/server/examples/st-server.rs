//! A server over DATABASE_URL, loaded with the flagship scenario when empty, with
//! one operator token printed on stdout (`TOKEN …`) — for schemathesis and manual runs.
//!
//! `cargo run -p sallyport-server --example st-server -- sqlite://PATH [ADDR]`

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    sallyport_server::init_tracing(false);
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: st-server DATABASE_URL [ADDR]"))?;
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let store = sallyport_store::Store::open(&url).await?;
    if store.scenario().await?.is_none() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/northeast-syria-2026.toml"
        ))?;
        let scenario: sallyport_core::Scenario = toml::from_str(&text)?;
        let people = sallyport_core::synth::generate(&scenario)?;
        store.load_scenario(&scenario, &people, false).await?;
    }
    let token = sallyport_server::auth::random_secret();
    let mut auth = sallyport_server::Auth::builtin()?;
    use sallyport_server::access::{Level, Role};
    let who = sallyport_server::policy::principal(
        &store.agencies().await?,
        "st",
        "US-CENTCOM",
        &[Role::Coordinator, Role::FieldCustodian],
        Level::Secret,
        &[],
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    auth.add_token(&token, who);
    let config = sallyport_server::Config {
        listen: listen.parse()?,
        rate_per_second: 100_000,
        rate_burst: 100_000,
        ..Default::default()
    };
    let server =
        sallyport_server::Server::bind(store.clone(), config, auth, sallyport_server::bus())
            .await?;
    println!("LISTENING {}", server.local_addr());
    println!("TOKEN {token}");
    server.run(sallyport_server::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}
