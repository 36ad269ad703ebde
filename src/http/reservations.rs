//! Reservations over HTTP: a customer's (`/api/user/reservations`) and the operator's
//! (`/api/admin/reservations`). Rules in `crate::domain::reservations`.

use actix_web::web;
use serde::Deserialize;
use utoipa::ToSchema;

use super::identity::{CustomerId, OperatorId};
use crate::domain::reservations::{self, Filter, Request, Reservation};

/// `POST /api/user/reservations`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerReservationInput {
    #[schema(min_length = 1)]
    pub device_id: String,
    /// 1 or more: a customer reserves one connector (only the operator reserves a whole charger, 0)
    #[schema(minimum = 1)]
    pub connector_id: i32,
    /// 1 to 120 (default 15)
    #[schema(minimum = 1, maximum = 120)]
    pub minutes: Option<i64>,
    pub charging_point_id: Option<String>,
}

/// `POST /api/admin/reservations`: reserve for a token (its idTag, or a group by parentIdTag).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorReservationInput {
    #[schema(min_length = 1)]
    pub device_id: String,
    /// 0 reserves the whole charger
    #[schema(minimum = 0)]
    pub connector_id: i32,
    /// The idTag the connector is held for
    #[schema(pattern = r"^[!-~]{1,20}$")]
    pub id_tag: String,
    #[schema(pattern = r"^[!-~]{1,20}$")]
    pub parent_id_tag: Option<String>,
    /// How long it holds (default 15; a week at most)
    #[schema(minimum = 1, maximum = 10080)]
    pub minutes: Option<i64>,
}

super::answers! {
    pub struct ReservationAnswer { reservation: Reservation }
    pub struct ReservationList { reservations: Vec<Reservation> }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    device_id: Option<String>,
    status: Option<String>,
    customer_id: Option<i64>,
    limit: Option<i64>,
}

super::operation! {
    post "/api/user/reservations", "customer", "bearer" (
        request_body = CustomerReservationInput,
        responses((status = 201, description = "Reserved: the charger accepted", body = ReservationAnswer),
            (status = 400, description = "Invalid minutes or connector (connector 0, the whole charger, is for the operator only); the connector is in use or reserved by another customer; the charger refused (Faulted, Occupied, Unavailable, Rejected)"),
            (status = 404, description = "Charger or connector not found"),
            (status = 409, description = "You already have a reservation (one at a time) / Charger is offline"),
            (status = 429, description = "The customer let too many reservations expire unused: refused until the time the message gives (Retry-After: seconds)"),
            (status = 502, description = "The charger answered with an error"),
            (status = 504, description = "Charger did not respond")),
    )
    pub async fn reserve(state, who: CustomerId, body: super::Body<CustomerReservationInput>) {
        let b = body.0;
        let request = Request::for_customer(b.device_id, b.connector_id, who.0, b.minutes)?;
        let reservation = reservations::reserve(&state.reservations, request)
            .await
            .map_err(super::offline_is_conflict)?;
        super::created(ReservationAnswer::new(reservation))
    }

    get "/api/user/reservations", "customer", "bearer" (
        responses((status = 200, description = "The customer's reservations, newest first", body = ReservationList)),
    )
    pub async fn mine(state, who: CustomerId) {
        let filter = Filter {
            customer_id: Some(who.0),
            limit: Some(50),
            ..Default::default()
        };
        let reservations = state.db.run(move |c| reservations::list(c, filter)).await?;
        super::ok(ReservationList::new(reservations))
    }

    delete "/api/user/reservations/{id}", "customer", "bearer" (
        params(("id" = i64, Path, description = "reservationId")),
        responses((status = 200, description = "Cancelled", body = ReservationAnswer),
            (status = 404, description = "Reservation not found"),
            (status = 409, description = "The reservation has already ended")),
    )
    pub async fn cancel_mine(state, who: CustomerId, path: web::Path<i64>) {
        let reservation =
            reservations::cancel(&state.reservations, path.into_inner(), Some(who.0)).await?;
        super::ok(ReservationAnswer::new(reservation))
    }

    post "/api/admin/reservations", "operator", "bearer" (
        request_body = OperatorReservationInput,
        responses((status = 201, description = "Reserved: the charger accepted", body = ReservationAnswer),
            (status = 400, description = "Invalid input; the connector is in use or reserved; the charger refused"),
            (status = 404, description = "Charger or connector not found"),
            (status = 409, description = "Charger is offline"),
            (status = 502, description = "The charger answered with an error"),
            (status = 504, description = "Charger did not respond")),
    )
    pub async fn operator_reserve(state, _op: OperatorId, body: super::Body<OperatorReservationInput>) {
        let b = body.0;
        let request = Request::for_token(
            b.device_id,
            b.connector_id,
            &b.id_tag,
            b.parent_id_tag.as_deref(),
            b.minutes,
        )?;
        let reservation = reservations::reserve(&state.reservations, request)
            .await
            .map_err(super::offline_is_conflict)?;
        super::created(ReservationAnswer::new(reservation))
    }

    get "/api/admin/reservations", "operator", "bearer" (
        params(("deviceId" = Option<String>, Query), ("status" = Option<String>, Query), ("customerId" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
        responses((status = 200, description = "Reservations, newest first", body = ReservationList)),
    )
    pub async fn list(state, _op: OperatorId, q: web::Query<ListQuery>) {
        let q = q.into_inner();
        let filter = Filter {
            customer_id: q.customer_id,
            device_id: q.device_id,
            status: q.status,
            limit: q.limit,
        };
        let reservations = state.db.run(move |c| reservations::list(c, filter)).await?;
        super::ok(ReservationList::new(reservations))
    }

    delete "/api/admin/reservations/{id}", "operator", "bearer" (
        params(("id" = i64, Path, description = "reservationId")),
        responses((status = 200, description = "Cancelled (CancelReservation sent)", body = ReservationAnswer),
            (status = 404, description = "Reservation not found"),
            (status = 409, description = "The reservation has already ended")),
    )
    pub async fn operator_cancel(state, _op: OperatorId, path: web::Path<i64>) {
        let reservation = reservations::cancel(&state.reservations, path.into_inner(), None).await?;
        super::ok(ReservationAnswer::new(reservation))
    }
}
