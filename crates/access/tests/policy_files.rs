//! Policies an administrator edits: refused at load with file:line:column
//! and the validator's reason; the policy in force never changes on a bad one.

use std::path::Path;

use sallyport_access::authz::{BUILTIN_POLICIES, BUILTIN_SCHEMA, POLICY_FILE, SCHEMA_FILE};
use sallyport_access::{Authorizer, PolicyError};

fn dir_with(schema: &str, policy: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(SCHEMA_FILE), schema).unwrap();
    std::fs::write(d.path().join(POLICY_FILE), policy).unwrap();
    d
}

fn load_err(schema: &str, policy: &str) -> (PolicyError, String) {
    let d = dir_with(schema, policy);
    let e = Authorizer::load(d.path()).unwrap_err();
    let s = e.to_string();
    (e, s)
}

#[test]
fn the_shipped_policy_loads_from_a_directory() {
    let d = dir_with(BUILTIN_SCHEMA, BUILTIN_POLICIES);
    let a = Authorizer::load(d.path()).unwrap();
    assert!(a.policy_ids().contains(&"token-scope".to_string()));
    assert_eq!(a.policy_sha256(), Authorizer::builtin().unwrap().policy_sha256());
    // The repository's own files are the shipped ones.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    Authorizer::load(&repo).unwrap();
}

#[test]
fn type_errors_name_file_line_and_column() {
    let bad = BUILTIN_POLICIES.replace("principal.clearance >= context.level", "principal.clearence >= context.level");
    let (e, s) = load_err(BUILTIN_SCHEMA, &bad);
    assert!(matches!(e, PolicyError::Validation { .. }), "{s}");
    let line = bad.lines().position(|l| l.contains("clearence")).unwrap() + 1;
    assert!(s.contains(&format!("sallyport.cedar:{line}:")), "{s}");
    assert!(s.contains("clearence"), "{s}");
    // A string compared with a number is refused in strict mode.
    let bad = BUILTIN_POLICIES.replace("principal.clearance >= context.level", "principal.clearance >= context.kind");
    let (e, s) = load_err(BUILTIN_SCHEMA, &bad);
    assert!(matches!(e, PolicyError::Validation { .. }), "{s}");
}

#[test]
fn syntax_errors_name_the_position() {
    let bad = format!("{BUILTIN_POLICIES}\n@id(\"broken\")\npermit (principal, action, resource) when {{ principal.roles.contains( }};\n");
    let (e, s) = load_err(BUILTIN_SCHEMA, &bad);
    assert!(matches!(e, PolicyError::Parse { .. }), "{s}");
    let line = bad.lines().count();
    assert!(s.contains(&format!("sallyport.cedar:{line}:")), "{s}");
}

#[test]
fn ids_are_required_and_unique() {
    let bad = format!("{BUILTIN_POLICIES}\npermit (principal, action == Sallyport::Action::\"read\", resource);\n");
    let (e, s) = load_err(BUILTIN_SCHEMA, &bad);
    assert!(matches!(e, PolicyError::MissingId(_)), "{s}");
    assert!(s.contains(&format!("sallyport.cedar:{}:", bad.lines().count())), "{s}");
    let bad = format!("{BUILTIN_POLICIES}\n@id(\"legal-hold\")\nforbid (principal, action == Sallyport::Action::\"read\", resource) when {{ context.legal_hold }};\n");
    let (e, s) = load_err(BUILTIN_SCHEMA, &bad);
    assert!(matches!(e, PolicyError::DuplicateId(_)), "{s}");
    assert!(s.contains("legal-hold"), "{s}");
}

#[test]
fn schema_and_file_errors() {
    let bad_schema = BUILTIN_SCHEMA.replace("clearance: Long,", "clearance: Lnog,");
    let (e, s) = load_err(&bad_schema, BUILTIN_POLICIES);
    assert!(matches!(e, PolicyError::Schema { .. }), "{s}");
    assert!(s.contains("sallyport.cedarschema") && s.contains("Lnog"), "{s}");
    let d = tempfile::tempdir().unwrap();
    let e = Authorizer::load(d.path()).unwrap_err().to_string();
    assert!(e.contains("cannot read") && e.contains(SCHEMA_FILE), "{e}");
}

#[test]
fn a_bad_reload_keeps_the_policy_in_force() {
    let d = dir_with(BUILTIN_SCHEMA, BUILTIN_POLICIES);
    let a = Authorizer::load(d.path()).unwrap();
    let before = a.policy_sha256();
    std::fs::write(d.path().join(POLICY_FILE), "permit (principal, action, resource) when { principal.nope };").unwrap();
    assert!(a.reload().is_err());
    assert_eq!(a.policy_sha256(), before);
    assert!(a.policy_ids().contains(&"releasability".to_string()));
}
