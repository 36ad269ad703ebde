//! What several scenarios set up or read alike: chargers registered straight into the database,
//! sums read from the server's Prometheus text, and how many chargers a server holds.

use diesel::prelude::*;
use serde_json::Value;

use crate::error::AppError;
use crate::infra::db::schema::stations;
use crate::infra::db::{Db, now, write_tx};

/// Registers `n` chargers named `{prefix}{i}` in one station, with multi-row INSERTs.
pub(super) async fn register_chargers(
    db: &Db,
    prefix: &str,
    n: usize,
) -> Result<Vec<String>, AppError> {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    let list = ids.clone();
    db.run(move |c| {
        write_tx(c, |c| {
            let station: i64 = diesel::insert_into(stations::table)
                .values((stations::name.eq("Bench"), stations::created_at.eq(now())))
                .returning(stations::id)
                .get_result(c)?;
            let ts = now().format("%Y-%m-%d %H:%M:%S").to_string();
            for chunk in list.chunks(1000) {
                // Security profile 0 (no password): these scenarios measure other things; the
                // reconnect storm measures authenticated handshakes.
                let values: Vec<String> = chunk.iter().map(|id| format!("('{id}', 'CP-{id}', {station}, '{ts}', 0)")).collect();
                diesel::sql_query(format!(
                    "INSERT INTO chargers (device_id, charging_point_id, station_id, created_at, security_profile) VALUES {}",
                    values.join(",")
                ))
                .execute(c)?;
            }
            Ok::<_, AppError>(())
        })
    })
    .await?;
    Ok(ids)
}

/// The chargers online at the server `base` (its `/healthz`); none when it does not answer.
pub(super) async fn chargers_online(http: &reqwest::Client, base: &str) -> Option<u64> {
    let answer = http.get(format!("{base}/healthz")).send().await.ok()?;
    answer.json::<Value>().await.ok()?["chargersOnline"].as_u64()
}

/// The sum of every series of the metric `name` in Prometheus text.
pub(super) fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}
