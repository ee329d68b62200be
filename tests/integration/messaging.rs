//! One-way messages: the sender does not wait, the receiver handles or rejects each one, and
//! the run waits for them before it reports.

use std::time::Duration;

use microsim::{Capacity, Distribution, Simulation, Workload};

use crate::support::{Notifier, Worker, ms, us};

#[test]
fn one_way_messages_are_handled_or_rejected_and_never_lost() {
    let mut sim = Simulation::builder()
        .duration(Duration::from_secs(1))
        .build()
        .unwrap();
    // The audit service takes 5 ms per message but receives one every 1 ms.
    let audit = sim
        .add_service(
            "audit",
            Worker::constant(ms(5)),
            Capacity::workers(1).with_queue(2),
        )
        .unwrap();
    let notifier = sim
        .add_service("notifier", Notifier { to: audit }, Capacity::workers(1))
        .unwrap();
    sim.add_link("notifier", "audit", Distribution::constant(us(100)))
        .unwrap();
    sim.add_workload("load", &notifier, Workload::constant_rate(1000.0), |_| ())
        .unwrap();
    let report = sim.run().unwrap();
    let load = &report.workloads["load"];
    let audit = &report.services["audit"];
    assert_eq!(load.counts.sent, 1000);
    assert_eq!(load.counts.completed, 1000);
    // The sender never waits for the message, not even for its link.
    assert_eq!(load.latency_ms.max, 0.0);
    // Every message was handled or rejected.
    assert_eq!(audit.counts.handled + audit.counts.rejected, 1000);
    assert!(audit.counts.rejected > 700, "{audit:?}");
    // A 5 ms server over 1 s handles about 200, and the run drained the queue.
    assert!((200..=203).contains(&audit.counts.handled), "{audit:?}");
    assert!(report.drained_seconds > 1.0, "{}", report.drained_seconds);
}
