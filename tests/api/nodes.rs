//! Several csms nodes (processes) on one database: recovery leaves a live node's starts alone and
//! resolves a dead node's; every node's subscribers get every event; the race is still decided by
//! the database. (`tests/process.rs` does the same with real processes and kill -9.)

use std::time::Duration;

use csms::domain::charging::recovery::{Cutoffs, run_once};
use csms::infra::db::schema::{charging_sessions, nodes};
use diesel::prelude::*;

use crate::dual;
use crate::helpers::TestApp;

/// A pending start of a live node is its own to finish, however many passes of another node's
/// recovery run; once the node is gone (no heartbeat within its lease) it is failed and refunded.
async fn recovery_leaves_live_nodes_alone(app: TestApp) {
    let sim = app.charger("OWN1", 1).await;
    sim.set_remote_start_delay_ms(Some(2_500)); // answers within the 6 s start timeout
    let c = app.customer("a@example.com", 100.0).await;
    // A second node boots while the start is in flight and runs recovery every second.
    let boot_other = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.another_node(|s| {
            s.recovery_interval_secs = 1;
            s.node_heartbeat_secs = 1;
        })
        .await
    };
    let ((s, body), other) = tokio::join!(app.start(&c.token, "OWN1", 1, 40.0), boot_other);
    assert_ne!(other.state.node_id, app.state.node_id);
    assert_eq!(s, 200, "the other node's recovery left it alone: {body}");
    assert_eq!(body["session"]["status"], "active");
    assert_eq!(app.balance(&c.token).await, 60.0);

    // A pending start whose node is gone: failed and refunded by a survivor's recovery. (Its
    // StartTransaction first, so that it cannot link the row while the test rewinds it.)
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    let uid = body["session"]["sessionId"].as_str().unwrap().to_string();
    let policy = app.state.derived.policy;
    let resolved = app
        .db(move |c| {
            // Both rows at once: the other node's recovery runs every second meanwhile.
            csms::infra::db::write_tx(c, |c| {
                diesel::insert_into(nodes::table)
                    .values((
                        nodes::node_id.eq("crashed-node"),
                        nodes::started_at.eq(csms::infra::db::now()),
                        nodes::heartbeat_at.eq(csms::infra::db::now()),
                    ))
                    .execute(c)?;
                diesel::update(
                    charging_sessions::table.filter(charging_sessions::session_uid.eq(&uid)),
                )
                .set((
                    charging_sessions::status.eq("pending"),
                    charging_sessions::transaction_id.eq(None::<i64>),
                    charging_sessions::owner_node.eq("crashed-node"),
                ))
                .execute(c)
            })
            .unwrap();
            let t = csms::infra::db::now();
            let cut = |live: Vec<String>| Cutoffs {
                pending_before: t - chrono::Duration::seconds(3600),
                live_nodes: live,
                active_before: t - chrono::Duration::seconds(3600),
                orphan_grace: chrono::Duration::seconds(3600),
            };
            let alive = csms::infra::node::live(c, Duration::from_secs(20)).unwrap();
            assert!(alive.contains(&"crashed-node".to_string()));
            let while_alive = run_once(c, &cut(alive), &policy).unwrap();
            diesel::update(nodes::table.find("crashed-node"))
                .set(nodes::heartbeat_at.eq(t - chrono::Duration::seconds(60)))
                .execute(c)
                .unwrap();
            // This pass or the other node's resolves it, exactly once.
            let alive = csms::infra::node::live(c, Duration::from_secs(20)).unwrap();
            run_once(c, &cut(alive), &policy).unwrap();
            let status: String = charging_sessions::table
                .filter(charging_sessions::owner_node.eq("crashed-node"))
                .select(charging_sessions::status)
                .first(c)
                .unwrap();
            (while_alive, status)
        })
        .await;
    assert_eq!(resolved, (0, "failed".to_string()));
    assert_eq!(app.balance(&c.token).await, 100.0, "refunded");
    app.assert_money_conserved().await;
    drop(other);
}
dual!(recovery_leaves_live_nodes_alone, |s| s
    .remote_start_timeout_secs =
    6);

/// Every node's subscribers get the events of a charger connected to another node; one node at a
/// time holds the relay lease and marks rows published.
async fn every_node_relays_every_event(app: TestApp) {
    let other = app.another_node(|_| {}).await;
    let mut here = app.state.events.subscribe();
    let mut there = other.state.events.subscribe();
    let sim = app.charger("REL1", 1).await;
    let c = app.customer("a@example.com", 100.0).await;
    let (s, body) = app.start(&c.token, "REL1", 1, 10.0).await;
    assert_eq!(s, 200, "{body}");
    for rx in [&mut here, &mut there] {
        let mut names = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !names.iter().any(|n| n == "charging.started") {
            let ev = tokio::time::timeout_at(deadline, rx.recv())
                .await
                .expect("charging.started reaches every node")
                .unwrap();
            names.push(ev.name.clone());
        }
        assert!(names.iter().any(|n| n == "wallet.debited"), "{names:?}");
    }
    let leases = app
        .db(|c| {
            use csms::infra::db::schema::leases;
            leases::table
                .select(leases::holder)
                .load::<String>(c)
                .unwrap()
        })
        .await;
    assert_eq!(leases.len(), 1, "one relay leader: {leases:?}");
    // The start race across nodes: the database decides.
    let d = app.customer("d@example.com", 100.0).await;
    let (s, body) = other.start(&d.token, "REL1", 1, 10.0).await;
    assert_eq!(
        (s, body["error"].as_str()),
        (400, Some("Charger is offline")),
        "{body}"
    );
    let _ = sim;
    drop(other);
}
dual!(every_node_relays_every_event);

/// The customer's start answers from the session's final state: a start that another node's
/// recovery failed while the charger was still answering gets an error, never 200 on a `failed`
/// session.
async fn start_answers_from_the_final_state(app: TestApp) {
    let sim = app.charger("FIN1", 1).await;
    sim.set_remote_start_delay_ms(Some(1_500));
    let c = app.customer("a@example.com", 100.0).await;
    let start = {
        let token = c.token.clone();
        let app = &app;
        async move { app.start(&token, "FIN1", 1, 40.0).await }
    };
    let fail = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        app.db(|c| {
            let id: i64 = charging_sessions::table
                .filter(charging_sessions::status.eq("pending"))
                .select(charging_sessions::id)
                .first(c)
                .unwrap();
            csms::infra::db::write_tx(c, |c| {
                csms::domain::charging::fail(
                    c,
                    id,
                    csms::domain::charging::Failure::Interrupted,
                    &[csms::domain::charging::SessionStatus::Pending],
                )
            })
            .unwrap()
        })
        .await
    };
    let ((s, body), failed) = tokio::join!(start, fail);
    assert!(failed);
    assert_eq!(
        (s, body["error"].as_str()),
        (504, Some("Charger did not respond")),
        "{body}"
    );
    // The charger had accepted and starts: a late start, billed with a new hold.
    app.wait_until(|| sim.open_transactions().len() == 1).await;
    assert_eq!(sim.start_answers()[0].1, "Accepted");
    assert_eq!(app.balance(&c.token).await, 60.0);
    app.assert_money_conserved().await;
}
dual!(start_answers_from_the_final_state);
