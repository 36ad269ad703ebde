//! Every case in id order against ONE server and ONE charge point identity (`ctx::SHARED_DEVICE`),
//! nothing reset in between, as a compliance tool runs them (issue 20). One server settings set
//! serves every case: the TLS listener with client certificates (`helpers::tls`) for the security
//! cases, the tests' short call timeouts for the rest. Between cases the previous case's charge
//! point disconnects and the next connects with what the identity needs by then (see `ctx`).
//!
//! Each case runs to its end or first failure (a panic, caught) within [`CASE_TIMEOUT`]; the test
//! fails afterwards with every failing case and its message, so that one failure hides no other.
//! The per-case results are printed either way.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::ctx::{Ctx, Identity};
use crate::helpers::TestApp;
use crate::{CASES, dual};

/// The longest one case may take (the slowest ones need a few seconds alone).
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "panicked".into()
    }
}

async fn all_cases_in_id_order(app: TestApp) {
    let app = Arc::new(app);
    let admin = app.admin().await;
    let identity = Identity::provision(&app).await;
    let mut failed: Vec<(&str, String)> = Vec::new();
    let mut report = String::new();
    for (id, case) in CASES {
        let ctx = Ctx::shared(app.clone(), admin.clone(), identity.clone(), id).await;
        let began = Instant::now();
        let outcome = tokio::time::timeout(
            CASE_TIMEOUT,
            AssertUnwindSafe(case(ctx.clone())).catch_unwind(),
        )
        .await;
        let result = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(p)) => Some(panic_message(p)),
            Err(_) => Some(format!("did not finish within {CASE_TIMEOUT:?}")),
        };
        ctx.finish().await;
        let took = began.elapsed().as_secs_f64();
        match result {
            None => report.push_str(&format!("{id:<9} pass  {took:5.1} s\n")),
            Some(why) => {
                let line = why.lines().next().unwrap_or_default().to_string();
                report.push_str(&format!("{id:<9} FAIL  {took:5.1} s  {line}\n"));
                failed.push((id, why));
            }
        }
    }
    eprintln!(
        "back-to-back run: {} of {} cases passed\n{report}",
        CASES.len() - failed.len(),
        CASES.len()
    );
    assert!(
        failed.is_empty(),
        "{} of {} cases failed back to back:\n{}",
        failed.len(),
        CASES.len(),
        failed
            .iter()
            .map(|(id, why)| format!("- {id}: {why}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
dual!(all_cases_in_id_order, crate::helpers::tls);

/// The table holds every case of the document once.
#[test]
fn every_case_once() {
    let ids: std::collections::HashSet<&str> = CASES.iter().map(|(id, _)| *id).collect();
    assert_eq!(CASES.len(), 77);
    assert_eq!(ids.len(), 77);
}
