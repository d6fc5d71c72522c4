//! `sallyport status` and `sallyport people`.

use sallyport_core::{Person, SiteId};

use crate::Ctx;

pub async fn status(ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let status = store.status().await?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    let Some(op) = &status.operation else {
        println!("no operation loaded: `sallyport scenario load FILE` or `sallyport demo`");
        return Ok(());
    };
    let sites = store.sites().await?;
    println!("{op}\n{} people in custody\n", status.total);
    println!("{:<12} {:<20} {:>7}  name", "site", "kind", "people");
    for s in &sites {
        let n = status.per_site.get(s.id.as_str()).copied().unwrap_or(0);
        println!("{:<12} {:<20} {:>7}  {}", s.id, s.kind.as_str(), n, s.name);
    }
    println!("\n{:<20} {:>7}", "category", "people");
    for (k, n) in &status.per_category {
        println!("{k:<20} {n:>7}");
    }
    println!("\n{:<20} {:>7}", "custodian", "people");
    for (k, n) in &status.per_custodian {
        println!("{k:<20} {n:>7}");
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct PeopleArgs {
    /// Only people at this site.
    #[arg(long)]
    site: Option<SiteId>,
    /// At most this many (table output defaults to 50).
    #[arg(long)]
    limit: Option<usize>,
}

pub async fn people(args: PeopleArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let store = ctx.store().await?;
    let people: Vec<Person> =
        store.people().await?.into_iter().filter(|p| args.site.as_ref().is_none_or(|s| &p.site == s)).collect();
    if ctx.json {
        let limit = args.limit.unwrap_or(usize::MAX);
        println!("{}", serde_json::to_string(&people.iter().take(limit).collect::<Vec<_>>())?);
        return Ok(());
    }
    let limit = args.limit.unwrap_or(50);
    println!("{:<10} {:<34} {:<12} {:<9} {:<10} {:<10}", "id", "name (transliterated)", "category", "risk", "site", "custodian");
    for p in people.iter().take(limit) {
        println!(
            "{:<10} {:<34} {:<12} {:<9} {:<10} {:<10}",
            p.id, p.identity.name_latin, p.category.as_str(), p.risk.as_str(), p.site, p.custodian
        );
    }
    if people.len() > limit {
        println!("… {} more (use --limit or --json)", people.len() - limit);
    }
    Ok(())
}
