//! Durability: a real child process appends batches and acknowledges each
//! after commit; we SIGKILL it at random moments, many rounds, and check after
//! every restart that each acknowledged event is present and the tree verifies.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use sallyport_ledger::NamedKey;
use sallyport_ledger::store::CentralLog;
use sallyport_store::sqlx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_heavy_appends_loses_no_acknowledged_event() {
    let rounds: usize = std::env::var("LEDGER_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("central.db").display());
    sallyport_store::Store::open(&url)
        .await
        .unwrap()
        .close()
        .await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(6000);
    let mut total_acked = 0u64;
    let mut killed_mid = 0;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-append-child"))
            .args([&url, &format!("dur-{round}"), "250"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Wait for the first ack, then kill at a random moment.
        let first = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child acknowledged nothing within 60 s");
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..400)));
        child.kill().expect("SIGKILL");
        let status = child.wait().unwrap();
        assert!(!status.success());
        reader.join().unwrap();
        let acks: Vec<String> = std::iter::once(first).chain(rx.try_iter()).collect();

        let store = sallyport_store::Store::open(&url).await.unwrap();
        let log = CentralLog::new(
            store.clone(),
            NamedKey::from_seed("durability.test/log", b"seed"),
        );
        let size = log
            .verify_tree()
            .await
            .expect("tree verifies after restart");
        let mut acked_end = 0u64;
        for a in &acks {
            let f: Vec<&str> = a.split_whitespace().collect();
            assert_eq!(f[0], "ack");
            let (first, count): (u64, u64) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            let last_idx = first + count - 1;
            let leaf: Vec<u8> = sqlx::query_scalar("SELECT leaf FROM ledger_leaves WHERE idx = $1")
                .bind(last_idx as i64)
                .fetch_one(store.pool())
                .await
                .unwrap_or_else(|e| {
                    panic!("round {round}: acknowledged leaf {last_idx} missing: {e}")
                });
            assert_eq!(
                hex::encode(sallyport_ledger::leaf_hash(&leaf)),
                f[4],
                "round {round}: leaf {last_idx} differs"
            );
            let n: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ledger_leaves WHERE device = $1 AND seq <= $2")
                .bind(format!("dur-{round}"))
                .bind(f[3].parse::<i64>().unwrap() + count as i64 - 1)
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(
                n as u64,
                f[3].parse::<u64>().unwrap() + count - 1,
                "round {round}: acknowledged batch incomplete"
            );
            acked_end = acked_end.max(first + count);
            total_acked += count;
        }
        assert!(size >= acked_end);
        if size > acked_end {
            killed_mid += 1; // committed but not yet acknowledged: allowed
        }
        store.close().await;
    }
    assert!(total_acked > 0);
    eprintln!(
        "durability: {rounds} SIGKILL rounds, {total_acked} acknowledged events all present; {killed_mid} rounds had committed-but-unacknowledged batches"
    );
}
