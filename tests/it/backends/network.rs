//! Network faults between litestream and an S3 server (rclone), through the fault-injecting
//! [`Proxy`]: a 5 s stall, five connection resets, a 30 s partition. The application writes
//! throughout (SQLite's defaults); after each fault the time until a `sync -wait` succeeds
//! again is measured (RELIABILITY.md), and at the end every committed row is restored.

use std::time::{Duration, Instant};

use super::proxy::Proxy;
use super::servers::{self, SECRET_KEY};
use super::workload::{Writer, assert_prefix, restore, seed};

use crate::support::Project;

/// The time from the end of a fault until a `sync -wait` succeeds: from then on the replica
/// holds every commit made before that call. Bounded: 120 s.
fn catch_up(project: &Project, committed: impl Fn() -> i64, fault: &str) -> (Duration, i64) {
    let healed = Instant::now();
    loop {
        let before = committed();
        let run = project.run(["sync", "-wait", "-timeout", "10", "default"]);
        if run.code == Some(0) {
            return (healed.elapsed(), before);
        }
        assert!(healed.elapsed() < Duration::from_secs(120), "{fault}: replication never caught up\n{run}");
    }
}

#[test]
fn stalls_resets_and_a_partition_lose_nothing_and_catch_up() {
    let backend = servers::rclone_s3();
    let proxy = Proxy::start(&backend.server.addr());
    let project =
        backend.project_with(&servers::s3_replica(&proxy.endpoint(), SECRET_KEY), &[("default", "app.db")]);
    seed(&project, "app.db", 0);
    let mut daemon = project.replicate::<_, &str>([]);
    let writer = Writer::start(&project, "app.db", 1, 10_000_000);
    writer.wait_for(200);
    catch_up(&project, || writer.committed(), "start");

    let mut figures = Vec::new();
    // A stall: bytes stop, connections stay open (the fault itself lasts 5 s).
    proxy.hold();
    std::thread::sleep(Duration::from_secs(5));
    proxy.release();
    figures.push(("stall 5 s", catch_up(&project, || writer.committed(), "stall")));

    // Resets: every open connection dropped with a RST, five times, 300 ms apart.
    for _ in 0..5 {
        proxy.reset();
        std::thread::sleep(Duration::from_millis(300));
    }
    figures.push(("5 resets", catch_up(&project, || writer.committed(), "resets")));

    // A partition: nothing crosses for 30 s; then the connections it broke are reset.
    proxy.hold();
    std::thread::sleep(Duration::from_secs(30));
    proxy.reset();
    proxy.release();
    figures.push(("partition 30 s", catch_up(&project, || writer.committed(), "partition")));

    let last = writer.finish();
    catch_up(&project, || last, "end");
    assert_eq!(daemon.stop(), Some(0), "{}", daemon.log());
    let restored = restore(&project, "default", "restored.db");
    assert_prefix(&restored, last, "after the network faults");
    assert_eq!(restored.len() as i64, last, "every committed row");
    for (fault, (took, confirmed)) in &figures {
        println!(
            "network: {fault}: caught up {:.2} s after it ended ({confirmed} rows confirmed then)",
            took.as_secs_f64()
        );
    }
    println!("network: {last} rows committed during the faults, {last} restored, integrity ok, 0 lost");
}
