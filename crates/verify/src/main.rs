//! `sallyport-verify BUNDLE [--policy POLICY.json] [--json]`: verify a Sallyport
//! evidence bundle fully offline and print the custody timeline.
//!
//! Exit status: 0 verified, 1 verification failed (the message names what
//! failed), 2 usage or I/O error. No database, no network.

use std::process::ExitCode;

use sallyport_ledger::WitnessPolicy;
use sallyport_ledger::bundle::Bundle;

const USAGE: &str = "usage: sallyport-verify BUNDLE [--policy POLICY.json] [--json]\n\
  Verifies an evidence bundle offline: signatures, commitments, inclusion proofs,\n\
  the checkpoint and its witness cosignatures. --policy pins the trusted log and\n\
  witness keys (otherwise the policy carried in the bundle is used and shown).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut bundle_path = None;
    let mut policy_path = None;
    let mut json = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--policy" => match it.next() {
                Some(p) => policy_path = Some(p.clone()),
                None => return usage("--policy needs a file"),
            },
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with('-') => return usage(&format!("unknown option {s}")),
            s => {
                if bundle_path.replace(s.to_string()).is_some() {
                    return usage("only one bundle at a time");
                }
            }
        }
    }
    let Some(path) = bundle_path else {
        return usage("missing BUNDLE");
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let policy: Option<WitnessPolicy> = match &policy_path {
        None => None,
        Some(p) => match std::fs::read_to_string(p)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(pol) => Some(pol),
            Err(e) => {
                eprintln!("error: cannot read policy {p}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let result = Bundle::decode(&bytes).and_then(|b| {
        let v = b.verify(policy.as_ref())?;
        Ok((b, v))
    });
    match result {
        Ok((b, v)) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                print!("{}", v.render());
                if policy.is_none() {
                    println!(
                        "\nNote: verified against the policy carried in the bundle (log key {}, {} witness(es), threshold {}).",
                        b.policy.log,
                        b.policy.witnesses.len(),
                        b.policy.threshold
                    );
                    println!("      Pin the keys you trust with --policy POLICY.json.");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("VERIFICATION FAILED: {e}");
            ExitCode::from(1)
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("error: {msg}\n{USAGE}");
    ExitCode::from(2)
}
