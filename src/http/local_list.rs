//! A charger's Local Authorization List over HTTP (rules in `crate::domain::local_list`).

use actix_web::web;
use serde::Deserialize;
use utoipa::ToSchema;

use super::identity::OperatorId;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// Send the whole list (default: only what changed)
    full: Option<bool>,
}

super::charger_reads! {
    local_list at "/api/admin/chargers/{device_id}/local-list" (description = "chargeBoxIdentity"),
        given auto = |state: &AppState| state.settings.local_list_auto_sync
        => LocalListAnswer from |c, device| crate::domain::local_list::state_of(c, device, auto),
        "The charger's Local Authorization List: version, entries, whether it is in step";
}

super::operation! {
    post "/api/admin/chargers/{device_id}/local-list", "operator", "bearer" (
        request_body = SyncBody,
        params(("device_id" = String, Path, description = "chargeBoxIdentity")),
        responses((status = 200, description = "Sent (or already in step: updateType None); status is the charger's answer", body = SyncAnswer), (status = 404, description = "Charger not found"), (status = 409, description = "Charger is offline, or an update is already in progress"), (status = 502, description = "The charger answered with an error"), (status = 504, description = "Charger did not respond")),
    )
    pub async fn sync_local_list(state, _op: OperatorId, path: web::Path<String>, body: super::Body<SyncBody>) {
        let device = path.into_inner();
        let mode = match body.0.full {
            Some(true) => crate::domain::local_list::Mode::Full,
            _ => crate::domain::local_list::Mode::Auto,
        };
        let d = device.clone();
        state
            .db
            .run(move |c| crate::domain::local_list::state_of(c, &d, true))
            .await?; // 404 before "offline"
        let report = crate::domain::local_list::sync(&state.local_lists, &device, mode)
            .await
            .map_err(super::offline_is_conflict)?;
        super::ok(SyncAnswer::new(report))
    }
}

super::answers! {
    #[serde(rename_all = "camelCase")]
    pub struct LocalListAnswer { local_list: crate::domain::local_list::ListState }
    pub struct SyncAnswer { result: crate::domain::local_list::SyncReport }
}
