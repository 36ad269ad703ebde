//! The charger's authorization cache, and why csms turns it off.
//!
//! A charger with `AuthorizationCacheEnabled` remembers the idTags it saw accepted and, offline
//! (`LocalAuthorizeOffline`), starts them on its own. A wallet-paid idTag (a customer's card, an app
//! start's one-time tag) must not start offline: its hold is taken by csms at StartTransaction
//! (invariant 1). So csms (1) answers every wallet-paid `Accepted` with an `expiryDate` a minute
//! ahead (`charging::tags::wallet_accepted`), and (2) the first time it accepts a wallet-paid idTag
//! on a charger whose cache it knows nothing about, it asks for `AuthorizationCacheEnabled` and,
//! only when it is on, sets it to `false`. Until a wallet-paid tag was accepted there, the cache
//! holds none, and csms sends nothing of its own (a compliance run with fleet cards sees no extra
//! call). Offline, such a charger authorizes from its Local Authorization List alone, which holds
//! fleet cards and refused cards but never a customer's accepted card (see `local_list`).
//!
//! What csms learned is stored per charger (`chargers.auth_cache`), so it asks once in the
//! charger's life, again only after the charger boots with another firmware version (an update may
//! reset its configuration). An operator's own ChangeConfiguration of the key is recorded and never
//! undone. `CSMS_DISABLE_AUTH_CACHE=false` turns the question off (the expiry dates stay).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;

use crate::domain::station_commands::{Command, Reply, StationCommands};
use crate::error::AppError;
use crate::infra::db::schema::chargers;
use crate::infra::db::{Db, DbConnection, write_tx};

pub const KEY: &str = "AuthorizationCacheEnabled";

/// `chargers.auth_cache` values.
pub const OFF: &str = "off";
pub const OPERATOR: &str = "operator";
pub const UNSUPPORTED: &str = "unsupported";

/// An operator's ChangeConfiguration was accepted: when it is about the cache, it is theirs now.
pub fn operator_changed(
    c: &mut DbConnection,
    device_id: &str,
    key: &str,
    value: &str,
) -> Result<(), AppError> {
    if !key.eq_ignore_ascii_case(KEY) {
        return Ok(());
    }
    let state = if value.trim().eq_ignore_ascii_case("false") {
        OFF
    } else {
        OPERATOR
    };
    write_tx(c, |c| {
        diesel::update(chargers::table.filter(chargers::device_id.eq(device_id)))
            .set(chargers::auth_cache.eq(state))
            .execute(c)
    })?;
    Ok(())
}

/// What the GetConfiguration answer says about the cache: `Some(true)` on, `Some(false)` off,
/// `None` unknown key or a value that is not a boolean.
fn reported(answer: &Reply) -> Option<(bool, bool)> {
    answer
        .configuration
        .iter()
        .find(|(key, _, _)| key.eq_ignore_ascii_case(KEY))
        .and_then(|(_, value, readonly)| {
            let on = match value.as_deref()?.trim() {
                v if v.eq_ignore_ascii_case("true") => true,
                v if v.eq_ignore_ascii_case("false") => false,
                _ => return None,
            };
            Some((on, *readonly))
        })
}

/// Chargers this process asked (or is asking) about their cache.
pub struct AuthCache {
    asked: Mutex<HashSet<i64>>,
    /// `CSMS_DISABLE_AUTH_CACHE`: whether to turn chargers' caches off at all.
    enabled: bool,
    db: Db,
    stations: Arc<dyn StationCommands>,
    call_timeout: Duration,
}

impl AuthCache {
    pub fn new(
        db: Db,
        stations: Arc<dyn StationCommands>,
        enabled: bool,
        call_timeout: Duration,
    ) -> Self {
        AuthCache {
            asked: Default::default(),
            enabled,
            db,
            stations,
            call_timeout,
        }
    }

    /// The charger's cache must be asked about again (it booted with another firmware).
    pub fn forget(&self, charger_id: i64) {
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&charger_id);
    }

    /// A wallet-paid idTag was just answered `Accepted` on this charger: if nobody knows whether
    /// it caches it, ask (in the background, after the answer went out) and turn the cache off.
    /// A charger that does not answer is asked again the next time.
    pub fn wallet_tag_accepted(self: &Arc<Self>, device_id: &str, charger_id: i64) {
        if !self.enabled
            || !self
                .asked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(charger_id)
        {
            return;
        }
        let (this, device) = (self.clone(), device_id.to_string());
        tokio::spawn(async move {
            let known = this
                .db
                .run(move |c| {
                    Ok(chargers::table
                        .find(charger_id)
                        .select(chargers::auth_cache)
                        .first::<Option<String>>(c)?)
                })
                .await;
            let result = match known {
                Ok(Some(_)) => Ok(()),
                Ok(None) => this.configure(&device, charger_id).await,
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                log::info!("{device}: {KEY} not configured ({e}); asked again later");
                this.forget(charger_id);
            }
        });
    }

    async fn configure(&self, device: &str, charger_id: i64) -> Result<(), AppError> {
        let timeout = self.call_timeout;
        let answer = self
            .stations
            .send(
                device,
                Command::GetConfiguration {
                    keys: vec![KEY.to_string()],
                },
                timeout,
            )
            .await
            .map_err(AppError::from)?;
        let outcome = match reported(&answer) {
            None => UNSUPPORTED,
            Some((false, _)) => OFF,
            Some((true, true)) => UNSUPPORTED,
            Some((true, false)) => {
                let changed = self
                    .stations
                    .send(
                        device,
                        Command::ChangeConfiguration {
                            key: KEY.to_string(),
                            value: "false".to_string(),
                        },
                        timeout,
                    )
                    .await
                    .map_err(AppError::from)?;
                log::info!(
                    "{device}: ChangeConfiguration {KEY}=false: {:?}",
                    changed.status
                );
                match changed.status.as_deref() {
                    Some("Accepted" | "RebootRequired") => OFF,
                    _ => UNSUPPORTED,
                }
            }
        };
        if outcome == UNSUPPORTED {
            log::warn!(
                "{device}: its authorization cache cannot be turned off: wallet-paid idTags are answered with an expiryDate a minute ahead, so a cached one cannot start offline for long"
            );
        }
        self.db
            .run(move |c| {
                // An operator's decision that landed meanwhile wins.
                write_tx(c, |c| {
                    diesel::update(
                        chargers::table
                            .find(charger_id)
                            .filter(chargers::auth_cache.is_null()),
                    )
                    .set(chargers::auth_cache.eq(outcome))
                    .execute(c)
                })?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_key_in_any_case() {
        let answer = |key: &str, value: &str, readonly: bool| Reply {
            configuration: vec![(key.to_string(), Some(value.to_string()), readonly)],
            ..Reply::default()
        };
        let a = answer("authorizationcacheenabled", "TRUE", false);
        assert_eq!(reported(&a), Some((true, false)));
        let a = answer(KEY, "false", true);
        assert_eq!(reported(&a), Some((false, true)));
        assert_eq!(reported(&Reply::default()), None);
        let a = answer(KEY, "maybe", false);
        assert_eq!(reported(&a), None);
    }
}
