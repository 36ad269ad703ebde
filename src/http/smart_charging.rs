//! Smart Charging over HTTP (rules in `crate::domain::smart_charging`): the operator's charging profiles,
//! composite schedules, and stations' power limits.

use actix_web::web;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::identity::OperatorId;
use crate::domain::smart_charging::{self, ChargingProfile, ClearInput, ProfileInput, StationLoad};

super::answers! {
    pub struct ProfileAnswer { profile: ChargingProfile }
    pub struct ProfileList { profiles: Vec<ChargingProfile> }
    pub struct ChargerReply {
        /// The charger's answer
        #[schema(value_type = Object)]
        response: Value,
    }
    pub struct LoadAnswer { load: StationLoad }
}

#[derive(Deserialize)]
pub struct ListQuery {
    current: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompositeQuery {
    connector_id: Option<i32>,
    duration: Option<i64>,
    charging_rate_unit: Option<String>,
}

/// `PUT /api/admin/stations/{id}/power-limit`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitBody {
    /// W; null removes the limit (and the load profiles)
    #[schema(minimum = 1, maximum = 100000000)]
    max_power_w: Option<i64>,
}

super::operation! {
    post "/api/admin/chargers/{device_id}/charging-profiles", "operator", "bearer" (
        request_body = ProfileInput,
        params(("device_id" = String, Path)),
        responses((status = 201, description = "Sent; status installed (Accepted) or rejected", body = ProfileAnswer), (status = 400, description = "Invalid profile (checked against the SetChargingProfile schema)"), (status = 409, description = "Charger is offline"), (status = 404, description = "Charger not found"), (status = 502, description = "The charger answered with an error"), (status = 504, description = "Charger did not respond")),
    )
    pub async fn set(state, _op: OperatorId, path: web::Path<String>, body: super::Body<ProfileInput>) {
        let device = path.into_inner();
        let profile = smart_charging::set(&state.load, &device, body.0)
            .await
            .map_err(super::offline_is_conflict)?;
        super::created(ProfileAnswer::new(profile))
    }
}

super::charger_reads! {
    list at "/api/admin/chargers/{device_id}/charging-profiles",
        query q: ListQuery [("current" = Option<bool>, Query, description = "only pending and installed ones")]
        => ProfileList from |c, device| smart_charging::list(c, device, q.current.unwrap_or(false)),
        "Profiles, newest first";
}

super::operation! {
    post "/api/admin/chargers/{device_id}/charging-profiles/clear", "operator", "bearer" (
        request_body = ClearInput,
        params(("device_id" = String, Path)),
        responses((status = 200, description = "The charger's answer (Accepted or Unknown)", body = ChargerReply), (status = 400, description = "Invalid criteria"), (status = 409, description = "Charger is offline"), (status = 404, description = "Charger not found"), (status = 504, description = "Charger did not respond")),
    )
    pub async fn clear(state, _op: OperatorId, path: web::Path<String>, body: super::Body<ClearInput>) {
        let (device, input) = (path.into_inner(), body.0);
        let status = smart_charging::clear(&state.load, &device, input)
            .await
            .map_err(super::offline_is_conflict)?;
        super::ok(ChargerReply::new(serde_json::json!({ "status": status })))
    }

    get "/api/admin/chargers/{device_id}/composite-schedule", "operator", "bearer" (
        params(("device_id" = String, Path), ("connectorId" = Option<i32>, Query, minimum = 0), ("duration" = Option<i64>, Query, description = "seconds (default 3600)", minimum = 0), ("chargingRateUnit" = Option<String>, Query, description = "A or W (empty: the charger's choice)", pattern = "^(A|W)?$")),
        responses((status = 200, description = "The charger's GetCompositeSchedule answer", body = ChargerReply), (status = 400, description = "Invalid request"), (status = 409, description = "Charger is offline"), (status = 404, description = "Charger not found"), (status = 504, description = "Charger did not respond")),
    )
    pub async fn composite(state, _op: OperatorId, path: web::Path<String>, q: web::Query<CompositeQuery>) {
        let (device, q) = (path.into_inner(), q.into_inner());
        let response = smart_charging::composite(
            &state.load,
            &device,
            q.connector_id.unwrap_or(0),
            q.duration.unwrap_or(3600),
            q.charging_rate_unit.filter(|u| !u.is_empty()),
        )
        .await
        .map_err(super::offline_is_conflict)?;
        super::ok(ChargerReply::new(response))
    }

    put "/api/admin/stations/{id}/power-limit", "operator", "bearer" (
        request_body = LimitBody,
        params(("id" = i64, Path)),
        responses((status = 200, description = "Set; the station's transactions are rebalanced", body = LoadAnswer), (status = 400, description = "Invalid limit"), (status = 404, description = "Station not found")),
    )
    pub async fn set_limit(state, _op: OperatorId, path: web::Path<i64>, body: super::Body<LimitBody>) {
        let (id, limit) = (path.into_inner(), body.0.max_power_w);
        state
            .db
            .run(move |c| smart_charging::set_limit(c, id, limit))
            .await?;
        let state = state.into_inner();
        smart_charging::rebalance(&state.load, id).await?;
        let load = state
            .db
            .run(move |c| smart_charging::station_load(c, id))
            .await?;
        super::ok(LoadAnswer::new(load))
    }

    get "/api/admin/stations/{id}/load", "operator", "bearer" (
        params(("id" = i64, Path)),
        responses((status = 200, description = "The station's limit and how it is shared", body = LoadAnswer), (status = 404, description = "Station not found")),
    )
    pub async fn load(state, _op: OperatorId, path: web::Path<i64>) {
        let id = path.into_inner();
        let load = state
            .db
            .run(move |c| smart_charging::station_load(c, id))
            .await?;
        super::ok(LoadAnswer::new(load))
    }
}
