// Migrations are embedded with `sqlx::migrate!`; rebuild when any changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
