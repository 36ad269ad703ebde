//! Block I, tariff and cost. The compliance tool charges with TAG-001, an operator's fleet card:
//! no wallet pays for it, but its session is priced by the station's tariff as its bill is
//! (`charging::price_for`: the charger's tariff, else its station's, else the default price), so
//! the station's display shows the running cost (CostUpdated at most every
//! `CSMS_COST_UPDATE_SECS`, counted from the start; 2 s in these settings) and the Ended answer
//! carries the total.

use super::*;

/// The price per kWh (minor units) of the session of the tool's transaction `tx`.
async fn price(c: &C201<'_>, tx: &str) -> i64 {
    session_of(c, tx).await.1
}

/// The cost of `wh` at `price`, as a 2.0.1 station is told it (the currency's units).
fn cost(wh: i64, price: i64) -> Value {
    csms::domain::money::to_major(csms::domain::money::energy_cost(wh, price))
}

/// During charging, after each of two Updated MeterValuePeriodic events (1000 and 2000 Wh, more
/// than the interval apart): CostUpdated with the transactionId and the running cost. The
/// answers themselves carry no totalCost (only the end's does).
pub async fn tc_i_01(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = charging_from(&mut st, 0.0).await;
    let price = price(c, &tx).await;
    assert!(
        price > 0,
        "the station's tariff prices the fleet card's session"
    );
    let every = std::time::Duration::from_secs(c.app.settings.cost_update_secs);
    for (seq, wh) in [(2, 1000), (3, 2000)] {
        tokio::time::sleep(every + std::time::Duration::from_millis(100)).await;
        let e = event(
            "Updated",
            &tx,
            seq,
            "MeterValuePeriodic",
            json!({"meterValue": meter("Sample.Periodic", wh as f64, 1)}),
        );
        let a = send_event(&mut st, e).await;
        assert!(a.get("totalCost").is_none(), "{a}");
        let (action, shown) = st.answer_next_call(json!({})).await;
        assert_eq!(action, "CostUpdated", "{shown}");
        assert_eq!(
            shown,
            json!({"totalCost": cost(wh, price), "transactionId": tx})
        );
    }
    let a = send_event(
        &mut st,
        event(
            "Ended",
            &tx,
            4,
            "StopAuthorized",
            json!({"idToken": token("TAG-001", "ISO14443"),
            "meterValue": meter("Transaction.End", 2000.0, 1),
            "transactionInfo": {"transactionId": tx, "stoppedReason": "Local"}}),
        ),
    )
    .await;
    assert_eq!(a["totalCost"], cost(2000, price), "{a}");
}

/// Metered from 1000 Wh (Transaction.Begin) to 6000 Wh (Transaction.End): the Ended answer's
/// totalCost is the 5 kWh at the station's energy price.
pub async fn tc_i_02(c: &C201<'_>) {
    tokens(c).await;
    let mut st = c.booted().await;
    let tx = charging_from(&mut st, 1000.0).await;
    let price = price(c, &tx).await;
    let a = send_event(
        &mut st,
        event(
            "Ended",
            &tx,
            2,
            "StopAuthorized",
            json!({"idToken": token("TAG-001", "ISO14443"),
            "meterValue": meter("Transaction.End", 6000.0, 1),
            "transactionInfo": {"transactionId": tx, "stoppedReason": "Local"}}),
        ),
    )
    .await;
    status_in(&a, &["Accepted"]);
    assert_eq!(a["totalCost"], cost(5000, price), "{a}");
    assert!(a["totalCost"].as_f64().unwrap() > 0.0, "{a}");
}
