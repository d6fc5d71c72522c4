//! `sallyport access …` and `sallyport audit …`: users, tokens, policy,
//! policy-filtered views of people, markings, legal holds, releases, audit.
//!
//! Every command that touches people's data acts as an authenticated user:
//! `--as USER` with the password in `SALLYPORT_PASSWORD` (or `--password-stdin`),
//! or `--token` / `SALLYPORT_TOKEN` (a device API token or a session). What is
//! printed comes from `sallyport_access` after the policy filtered it and the
//! read was audited; this module never reads people's data from the store itself.
//!
//! The policy is read from `--policies DIR`, else `DATA/policies/` when it
//! exists (`access policy init` writes it there for an administrator to edit),
//! else the policy built into this binary.

use std::collections::BTreeSet;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _};
use sallyport_access::audit::{AuditEntry, AuditHead};
use sallyport_access::authz::{BUILTIN_POLICIES, BUILTIN_SCHEMA, POLICY_FILE, SCHEMA_FILE};
use sallyport_access::identity::{fmt_ms, parse_compartments, parse_roles, parse_scopes};
use sallyport_access::{render, Access, Authorizer, Caller, Capacity, Level, Marking, NewUser, ReleaseRequest};

use crate::Ctx;

/// Who is acting, and under which policy.
#[derive(Debug, clap::Args)]
pub struct Who {
    /// Act as this user; the password is read from SALLYPORT_PASSWORD or, with --password-stdin, from standard input.
    #[arg(long = "as", global = true, value_name = "USER")]
    as_user: Option<String>,
    /// Read the password of --as from the first line of standard input.
    #[arg(long, global = true)]
    password_stdin: bool,
    /// A device API token (spt_…) or a session (sps_…) instead of --as.
    #[arg(long, global = true, env = "SALLYPORT_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Policy directory holding sallyport.cedar and sallyport.cedarschema
    /// (default: DATA/policies if it exists, else the built-in policy).
    #[arg(long, global = true, env = "SALLYPORT_POLICIES")]
    policies: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    who: Who,
    #[command(subcommand)]
    cmd: AccessCmd,
}

#[derive(Debug, clap::Subcommand)]
enum AccessCmd {
    /// Users: add, list, disable, enable, set a password.
    #[command(subcommand)]
    User(UserCmd),
    /// Device API tokens: issue, revoke, list.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Check a credential, or open a session.
    #[command(subcommand)]
    Login(LoginCmd),
    /// Validate, show or install the Cedar policy.
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// What the acting user may see of one person (audited).
    View {
        #[arg(long)]
        person: String,
    },
    /// The people the acting user may see (audited); hidden people are not counted.
    People {
        #[arg(long)]
        site: Option<String>,
        /// At most this many lines (table output; default 50).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Set the marking of one field group of a person (custody, identity, medical, risk).
    Mark {
        #[arg(long)]
        person: String,
        #[arg(long)]
        field: String,
        /// Banner or portion marking, e.g. "SECRET//REL TO USA, IRQ".
        #[arg(long)]
        marking: String,
        /// Originating agency (default: the person's custodian).
        #[arg(long)]
        originator: Option<String>,
    },
    /// Intelligence notes.
    #[command(subcommand)]
    Note(NoteCmd),
    /// Legal holds: a held record cannot be changed.
    #[command(subcommand)]
    Hold(HoldCmd),
    /// Release of records for legal proceedings.
    #[command(subcommand)]
    Release(ReleaseCmd),
}

#[derive(Debug, clap::Subcommand)]
enum UserCmd {
    /// Add a user. The first user (an administrator) needs no --as; later ones need an administrator.
    /// The new password comes from SALLYPORT_NEW_PASSWORD, or use --generate-password.
    Add {
        username: String,
        #[arg(long)]
        agency: String,
        /// Comma-separated: coordinator, planner, enrollment_officer, field_custodian, legal_officer, auditor, administrator.
        #[arg(long)]
        roles: String,
        /// UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET, TOP SECRET (or U, R, C, S, TS).
        #[arg(long)]
        clearance: String,
        /// Comma-separated need-to-know compartments, e.g. HVD.
        #[arg(long, default_value = "")]
        compartments: String,
        #[arg(long, default_value = "")]
        name: String,
        /// Generate a random password and print it once.
        #[arg(long, conflicts_with = "no_password")]
        generate_password: bool,
        /// No password: the user acts only through API tokens.
        #[arg(long)]
        no_password: bool,
    },
    /// The users the acting administrator may manage.
    List,
    Disable { username: String },
    Enable { username: String },
    /// Set a user's password (from SALLYPORT_NEW_PASSWORD, or --generate-password).
    Password {
        username: String,
        #[arg(long)]
        generate_password: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum TokenCmd {
    /// Issue a token for a device acting as USER; the secret is printed once.
    Issue {
        #[arg(long)]
        user: String,
        /// What the device is, e.g. "LZ-1 tablet 3".
        #[arg(long)]
        label: String,
        /// Comma-separated actions: read, write, read_audit, manage_users, request_release, approve_release, legal_hold.
        #[arg(long)]
        scope: String,
        /// Lifetime in days.
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    Revoke { id: String },
    List {
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Debug, clap::Subcommand)]
enum LoginCmd {
    /// Check the credential given (--as + password, or --token) and print who it is.
    Check,
    /// Sign in with --as + password and print a session token (use it as --token).
    Session,
}

#[derive(Debug, clap::Subcommand)]
enum PolicyCmd {
    /// Validate a policy directory (default: the one in force) strictly against its schema.
    Validate { dir: Option<PathBuf> },
    /// Print the policy in force.
    Show,
    /// Write the built-in policy to DATA/policies for an administrator to edit.
    Init {
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
enum NoteCmd {
    /// Add a note to a person, originated by the acting user's agency.
    Add {
        #[arg(long)]
        person: String,
        #[arg(long)]
        marking: String,
        #[arg(long)]
        text: String,
    },
    /// Write synthetic notes for every high- and critical-risk person (demo data).
    Synth,
}

#[derive(Debug, clap::Subcommand)]
enum HoldCmd {
    Place {
        #[arg(long)]
        person: String,
        #[arg(long)]
        reason: String,
    },
    Lift {
        #[arg(long)]
        person: String,
    },
    List,
}

#[derive(Debug, clap::Subcommand)]
enum ReleaseCmd {
    /// Ask for a release of people's records to a court.
    Request {
        /// People to release (repeat, or comma-separated).
        #[arg(long = "person", value_delimiter = ',', required = true)]
        people: Vec<String>,
        /// Field groups to release: custody, identity, medical, risk, intel_notes.
        #[arg(long, value_delimiter = ',', required = true)]
        fields: Vec<String>,
        /// The recipient court.
        #[arg(long)]
        recipient: String,
        /// Case reference.
        #[arg(long = "case")]
        case_ref: String,
        #[arg(long, default_value = "")]
        purpose: String,
        /// The downgraded marking of the released records.
        #[arg(long)]
        marking: String,
    },
    /// Approve a release as its originating agency or as release authority.
    Approve {
        id: String,
        /// originator or release_authority.
        #[arg(long = "capacity")]
        capacity: String,
    },
    /// Show a release (the document once issued); --output writes the document JSON for the court.
    Show {
        id: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    List,
    /// Verify a released document back to the originals (the stored one, or --document FILE).
    Verify {
        id: String,
        #[arg(long)]
        document: Option<PathBuf>,
    },
    /// Withdraw a pending release (its requester).
    Withdraw { id: String },
}

/// The policy directory in force for this invocation.
fn policy_dir(who: &Who, ctx: &Ctx) -> Option<PathBuf> {
    who.policies.clone().or_else(|| {
        let d = ctx.data_dir.join("policies");
        d.join(POLICY_FILE).exists().then_some(d)
    })
}

fn load_policy(who: &Who, ctx: &Ctx) -> anyhow::Result<Authorizer> {
    match policy_dir(who, ctx) {
        Some(dir) => Authorizer::load(&dir).with_context(|| format!("policy in {} refused", dir.display())),
        None => Authorizer::builtin().context("built-in policy refused"),
    }
}

async fn service(who: &Who, ctx: &Ctx) -> anyhow::Result<Access> {
    let authz = load_policy(who, ctx)?;
    Ok(Access::new(ctx.store().await?, Arc::new(authz)))
}

fn read_password(who: &Who) -> anyhow::Result<String> {
    if who.password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    std::env::var("SALLYPORT_PASSWORD")
        .map_err(|_| anyhow::anyhow!("--as needs a password: set SALLYPORT_PASSWORD or pass --password-stdin"))
}

async fn caller(access: &Access, who: &Who) -> anyhow::Result<Caller> {
    if let Some(t) = &who.token {
        let c = access.authenticate(t).await?;
        if let Some(u) = &who.as_user
            && u != &c.principal.user {
            bail!("--as {u} does not match the token, which belongs to {}", c.principal.user);
        }
        return Ok(c);
    }
    let Some(user) = &who.as_user else {
        bail!("who is acting? give --as USER (password in SALLYPORT_PASSWORD or --password-stdin), or --token / SALLYPORT_TOKEN")
    };
    Ok(access.check_password(user, &read_password(who)?).await?)
}

fn new_password(generate: bool) -> anyhow::Result<(String, bool)> {
    if generate {
        return Ok((sallyport_access::identity::generate_password(), true));
    }
    std::env::var("SALLYPORT_NEW_PASSWORD")
        .map(|p| (p, false))
        .map_err(|_| anyhow::anyhow!("set SALLYPORT_NEW_PASSWORD to the new password, or pass --generate-password"))
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn describe(c: &Caller) -> String {
    let p = &c.principal;
    format!(
        "{} of {} ({}, {}); roles {}; clearance {}{}; via {}{}",
        p.user,
        p.agency,
        p.country,
        p.agency_kind,
        p.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
        p.clearance,
        if p.compartments.is_empty() { String::new() } else { format!(" + {}", p.compartments.iter().cloned().collect::<Vec<_>>().join("/")) },
        c.via,
        c.scopes.as_ref().map(|s| format!("; scopes {}", s.iter().cloned().collect::<Vec<_>>().join(", "))).unwrap_or_default()
    )
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let who = &args.who;
    match args.cmd {
        AccessCmd::Policy(cmd) => return policy(cmd, who, ctx),
        AccessCmd::User(UserCmd::Add { username, agency, roles, clearance, compartments, name, generate_password, no_password }) => {
            let access = service(who, ctx).await?;
            let bootstrap = who.as_user.is_none() && who.token.is_none() && !access.has_users().await?;
            let c = if bootstrap { None } else { Some(caller(&access, who).await?) };
            let (password, shown) = if no_password { (None, false) } else {
                let (p, g) = new_password(generate_password)?;
                (Some(p), g)
            };
            let new = NewUser {
                username,
                display_name: name,
                agency,
                roles: parse_roles(&roles)?,
                clearance: Level::parse(&clearance).map_err(|e| anyhow::anyhow!("invalid clearance: {}", e.reason))?,
                compartments: parse_compartments(&compartments)?,
                password: password.clone(),
            };
            let u = access.add_user(c.as_ref(), &new).await?;
            if ctx.json {
                return print_json(&u);
            }
            println!(
                "added {} ({}), roles {}, clearance {}{}{}",
                u.username,
                u.agency,
                u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", "),
                u.clearance,
                if u.compartments.is_empty() { String::new() } else { format!(" + {}", u.compartments.iter().cloned().collect::<Vec<_>>().join("/")) },
                if bootstrap { " — first administrator (bootstrap)" } else { "" }
            );
            if shown {
                println!("password (shown once): {}", password.unwrap_or_default());
            }
        }
        AccessCmd::User(cmd) => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            match cmd {
                UserCmd::List => {
                    let users = access.list_users(&c).await?;
                    if ctx.json {
                        return print_json(&users);
                    }
                    println!("{:<24} {:<12} {:<14} {:<40} status", "user", "agency", "clearance", "roles");
                    for u in users {
                        let mut clr = u.clearance.portion().to_string();
                        if !u.compartments.is_empty() {
                            clr = format!("{clr}+{}", u.compartments.iter().cloned().collect::<Vec<_>>().join("/"));
                        }
                        let status = if u.disabled { "disabled" } else if !u.has_password { "tokens only" } else { "active" };
                        println!(
                            "{:<24} {:<12} {:<14} {:<40} {}",
                            u.username,
                            u.agency,
                            clr,
                            u.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(","),
                            status
                        );
                    }
                }
                UserCmd::Disable { username } => {
                    access.set_disabled(&c, &username, true).await?;
                    println!("disabled {username}: sessions ended, tokens refused");
                }
                UserCmd::Enable { username } => {
                    access.set_disabled(&c, &username, false).await?;
                    println!("enabled {username}");
                }
                UserCmd::Password { username, generate_password } => {
                    let (p, shown) = new_password(generate_password)?;
                    access.set_password(&c, &username, &p).await?;
                    println!("password of {username} set");
                    if shown {
                        println!("password (shown once): {p}");
                    }
                }
                UserCmd::Add { .. } => unreachable!("handled above"),
            }
        }
        AccessCmd::Token(cmd) => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            match cmd {
                TokenCmd::Issue { user, label, scope, days } => {
                    let scopes = parse_scopes(&scope)?;
                    let t = access.issue_token(&c, &user, &label, &scopes, days.saturating_mul(86_400_000)).await?;
                    if ctx.json {
                        return print_json(&t);
                    }
                    println!("token {} for {} ({}), scopes {}, expires {}", t.token.id, t.token.username, t.token.label, scope, fmt_ms(t.token.expires_ms));
                    println!("secret (shown once, store it on the device): {}", t.secret);
                }
                TokenCmd::Revoke { id } => {
                    let t = access.revoke_token(&c, &id).await?;
                    println!("revoked token {} of {} ({})", t.id, t.username, t.label);
                }
                TokenCmd::List { user } => {
                    let ts = access.list_tokens(&c, user.as_deref()).await?;
                    if ctx.json {
                        return print_json(&ts);
                    }
                    let now = access.now();
                    println!("{:<18} {:<22} {:<24} {:<22} {:<20} status", "id", "user", "label", "scopes", "expires");
                    for t in ts {
                        let status = if t.revoked_ms.is_some() { "revoked" } else if t.expires_ms <= now { "expired" } else { "active" };
                        println!(
                            "{:<18} {:<22} {:<24} {:<22} {:<20} {}",
                            t.id,
                            t.username,
                            t.label,
                            t.scopes.iter().cloned().collect::<Vec<_>>().join(","),
                            fmt_ms(t.expires_ms),
                            status
                        );
                    }
                }
            }
        }
        AccessCmd::Login(LoginCmd::Check) => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            if ctx.json {
                return print_json(&c);
            }
            println!("authenticated: {}", describe(&c));
        }
        AccessCmd::Login(LoginCmd::Session) => {
            let access = service(who, ctx).await?;
            let Some(user) = &who.as_user else { bail!("give --as USER (and the password) to open a session") };
            let s = access.login(user, &read_password(who)?).await?;
            if ctx.json {
                return print_json(&s);
            }
            println!("session for {} until {}", s.caller.principal.user, fmt_ms(s.expires_ms));
            println!("{}", s.secret);
        }
        AccessCmd::View { person } => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            let Some(r) = access.view_person(&c, &person).await? else {
                bail!("no person {person} visible to {}", c.principal.user)
            };
            if ctx.json {
                return print_json(&r);
            }
            print!("{}", render::person_text(&r));
        }
        AccessCmd::People { site, limit } => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            let people = access.list_people(&c, site.as_deref()).await?;
            if ctx.json {
                let limit = limit.unwrap_or(usize::MAX);
                return print_json(&people.iter().take(limit).collect::<Vec<_>>());
            }
            let limit = limit.unwrap_or(50);
            println!("{} people visible to {}", people.len(), c.principal.user);
            println!("{:<10} {:<10} {:<10} {:<12} {:<16} {:<6}", "id", "custodian", "site", "category", "legal_status", "risk");
            for p in people.iter().take(limit) {
                println!("{}", render::person_line(p));
            }
            if people.len() > limit {
                println!("… {} more (use --limit or --json)", people.len() - limit);
            }
        }
        AccessCmd::Mark { person, field, marking, originator } => {
            let m = Marking::parse(&marking).context("--marking")?;
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            access.set_marking(&c, &person, &field, &m, originator.as_deref()).await?;
            println!("{person} {field} marked {}", m.banner());
        }
        AccessCmd::Note(NoteCmd::Add { person, marking, text }) => {
            let m = Marking::parse(&marking).context("--marking")?;
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            let n = access.add_note(&c, &person, &m, &text).await?;
            println!("note added to {} by {} under {}", n.person_id, n.originator, n.marking.portion());
        }
        AccessCmd::Note(NoteCmd::Synth) => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            let n = access.synthesise_notes(&c).await?;
            println!("{n} synthetic intelligence note(s) written by {}", c.principal.agency);
        }
        AccessCmd::Hold(cmd) => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            match cmd {
                HoldCmd::Place { person, reason } => {
                    access.place_hold(&c, &person, &reason).await?;
                    println!("{person} is under legal hold: its record cannot be changed");
                }
                HoldCmd::Lift { person } => {
                    access.lift_hold(&c, &person).await?;
                    println!("legal hold on {person} lifted");
                }
                HoldCmd::List => {
                    // Only holds on people the caller may see.
                    let visible: BTreeSet<String> = access.list_people(&c, None).await?.into_iter().map(|r| r.id).collect();
                    for h in access.holds().await?.into_iter().filter(|h| visible.contains(&h.person)) {
                        println!("{:<10} since {} by {}: {}", h.person, fmt_ms(h.placed_ms), h.placed_by, h.reason);
                    }
                }
            }
        }
        AccessCmd::Release(cmd) => release(cmd, who, ctx).await?,
    }
    Ok(())
}

fn policy(cmd: PolicyCmd, who: &Who, ctx: &Ctx) -> anyhow::Result<()> {
    match cmd {
        PolicyCmd::Validate { dir } => {
            let dir = dir.or_else(|| policy_dir(who, ctx));
            let (a, what) = match &dir {
                Some(d) => (Authorizer::load(d)?, d.display().to_string()),
                None => (Authorizer::builtin()?, "built-in policy".to_string()),
            };
            if ctx.json {
                return print_json(&serde_json::json!({"valid": true, "policies": a.policy_ids(), "sha256": a.policy_sha256()}));
            }
            println!("{what}: valid (strict validation against the schema)");
            println!("{} rules: {}", a.policy_ids().len(), a.policy_ids().join(", "));
            println!("policy sha256 {}", a.policy_sha256());
        }
        PolicyCmd::Show => {
            let a = load_policy(who, ctx)?;
            print!("{}", a.policy_source());
        }
        PolicyCmd::Init { force } => {
            let dir = ctx.data_dir.join("policies");
            if dir.join(POLICY_FILE).exists() && !force {
                bail!("{} exists; use --force to overwrite it with the built-in policy", dir.join(POLICY_FILE).display());
            }
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            write(&dir.join(SCHEMA_FILE), BUILTIN_SCHEMA)?;
            write(&dir.join(POLICY_FILE), BUILTIN_POLICIES)?;
            println!("policy written to {} (edit it, then `sallyport access policy validate`)", dir.display());
        }
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

async fn release(cmd: ReleaseCmd, who: &Who, ctx: &Ctx) -> anyhow::Result<()> {
    let access = service(who, ctx).await?;
    let c = caller(&access, who).await?;
    match cmd {
        ReleaseCmd::Request { people, fields, recipient, case_ref, purpose, marking } => {
            let req = ReleaseRequest {
                people: people.into_iter().map(|p| p.trim().to_string()).collect(),
                fields: fields.into_iter().map(|f| f.trim().to_string()).collect(),
                recipient,
                case_ref,
                purpose,
                marking: Marking::parse(&marking).context("--marking")?,
            };
            let r = access.request_release(&c, &req).await?;
            if ctx.json {
                return print_json(&r);
            }
            println!("release {} requested: {} people to {} under {}", r.id, r.people.len(), r.recipient, r.marking);
            println!("waiting for {}", r.missing_approvals().join(", "));
        }
        ReleaseCmd::Approve { id, capacity } => {
            let cap = Capacity::parse(&capacity).map_err(|e| anyhow::anyhow!("--capacity: {e}"))?;
            let r = access.approve_release(&c, &id, cap).await?;
            if ctx.json {
                return print_json(&r);
            }
            println!("release {id} approved by {} as {}", c.principal.user, cap.as_str());
            match r.status {
                sallyport_access::ReleaseStatus::Issued => {
                    println!("all approvals given: issued, document sha256 {}", r.document_sha256.unwrap_or_default())
                }
                _ => println!("waiting for {}", r.missing_approvals().join(", ")),
            }
        }
        ReleaseCmd::Show { id, output } => {
            let v = access.show_release(&c, &id).await?;
            if let Some(path) = output {
                let Some(doc) = &v.document else {
                    bail!(
                        "release {id} has no document to export: it is {} (waiting for {})",
                        v.release.status.as_str(),
                        v.missing_approvals.join(", ")
                    )
                };
                write(&path, &doc.to_json())?;
                println!("release document {} written to {} (sha256 {})", doc.release, path.display(), doc.sha256);
                return Ok(());
            }
            if ctx.json {
                return print_json(&v);
            }
            print!("{}", render::release_text(&v));
        }
        ReleaseCmd::List => {
            let rs = access.list_releases(&c).await?;
            if ctx.json {
                return print_json(&rs);
            }
            for r in rs {
                println!("{:<11} {:<9} {:>4} people  {:<40} {}", r.id, r.status.as_str(), r.people.len(), r.recipient, r.marking);
            }
        }
        ReleaseCmd::Verify { id, document } => {
            let text = match &document {
                Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?),
                None => None,
            };
            let v = access.verify_release(&c, &id, text.as_deref()).await?;
            if ctx.json {
                print_json(&v)?;
            } else {
                for ch in &v.checks {
                    println!("{} {:<16} {}", if ch.ok { "ok  " } else { "FAIL" }, ch.what, ch.detail);
                }
            }
            if !v.ok {
                bail!("release {id} does NOT verify");
            }
            if !ctx.json {
                println!("release {id} verifies back to its originals");
            }
        }
        ReleaseCmd::Withdraw { id } => {
            access.withdraw_release(&c, &id).await?;
            println!("release {id} withdrawn");
        }
    }
    Ok(())
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(flatten)]
    who: Who,
    /// Every read and write of this person's data.
    #[arg(long)]
    person: Option<String>,
    #[command(subcommand)]
    cmd: Option<AuditCmd>,
}

#[derive(Debug, clap::Subcommand)]
enum AuditCmd {
    /// Recompute the hash chain; with --checkpoint, also check a head published earlier.
    Verify {
        /// SIZE:SHA256 as printed by `sallyport audit checkpoint` (or in a release document).
        #[arg(long)]
        checkpoint: Option<String>,
    },
    /// Print the current head (publish it: later tampering becomes evident).
    Checkpoint,
}

fn print_entries(entries: &[AuditEntry]) {
    println!("{:<6} {:<20} {:<22} {:<10} {:<16} {:<7} {:<34} detail", "seq", "when", "who", "agency", "action", "allowed", "policies");
    for e in entries {
        let r = &e.record;
        println!(
            "{:<6} {:<20} {:<22} {:<10} {:<16} {:<7} {:<34} {}{}",
            e.seq,
            fmt_ms(r.at_ms),
            format!("{} ({})", r.actor, r.via.split(':').next().unwrap_or("")),
            r.agency,
            r.action,
            if r.allowed { "yes" } else { "NO" },
            if r.policies.is_empty() { "-".to_string() } else { r.policies.join(",") },
            if r.kind == "person" { String::new() } else { format!("{} {} ", r.kind, r.record) },
            r.detail
        );
    }
}

pub async fn run_audit(args: AuditArgs, ctx: &Ctx) -> anyhow::Result<()> {
    let who = &args.who;
    match (args.cmd, args.person) {
        (Some(AuditCmd::Verify { checkpoint }), _) => {
            let access = service(who, ctx).await?;
            let v = access.audit_log().verify().await?;
            if let Some(cp) = checkpoint {
                let cp: AuditHead = cp.parse()?;
                access.audit_log().verify_checkpoint(&cp).await?;
                println!("checkpoint {cp} is a prefix of the log");
            }
            if ctx.json {
                return print_json(&v);
            }
            println!("audit log verified: {} entries, head {}", v.entries, v.head);
        }
        (Some(AuditCmd::Checkpoint), _) => {
            let access = service(who, ctx).await?;
            let h = access.audit_log().verify().await?.head;
            if ctx.json {
                return print_json(&h);
            }
            println!("{h}");
        }
        (None, Some(person)) => {
            let access = service(who, ctx).await?;
            let c = caller(&access, who).await?;
            let entries = access.person_audit(&c, &person).await?;
            if ctx.json {
                return print_json(&entries);
            }
            println!("{} audit entries for {person} (the last is this query)", entries.len());
            print_entries(&entries);
        }
        (None, None) => bail!("give --person ID, or `sallyport audit verify` / `sallyport audit checkpoint`"),
    }
    Ok(())
}
