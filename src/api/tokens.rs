//! `/api/admin/id-tags`: the operator's authorization tokens (HTTP only; rules in `crate::tokens`).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Done;
use crate::auth::OperatorId;
use crate::error::AppError;
use crate::state::AppState;
use crate::tokens::{self, Token, TokenInput};

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenAnswer {
    success: bool,
    id_tag: Token,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenList {
    success: bool,
    id_tags: Vec<Token>,
}

/// `POST /api/admin/id-tags` as documented (read as [`TokenInput`]).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewTokenBody {
    /// 1–20 printable ASCII characters (CiString20; compared case-insensitively)
    #[schema(pattern = r"^[!-~]{1,20}$")]
    id_tag: String,
    /// Accepted (default), Blocked, Expired or Invalid
    #[schema(pattern = "^(Accepted|Blocked|Expired|Invalid)$")]
    status: Option<String>,
    /// RFC 3339; after it the token answers Expired
    #[schema(format = DateTime)]
    expiry_date: Option<String>,
    /// The group (another idTag) the token belongs to
    #[schema(pattern = r"^[!-~]{1,20}$")]
    parent_id_tag: Option<String>,
    /// The customer whose wallet pays; none: a fleet card billed by the operator
    customer_id: Option<i64>,
    #[schema(max_length = 500)]
    note: Option<String>,
}

/// `PUT /api/admin/id-tags/{idTag}` as documented (read as [`TokenInput`]): what is given changes,
/// null clears expiryDate, parentIdTag, customerId or note. The idTag itself cannot change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub struct TokenChanges {
    #[schema(pattern = "^(Accepted|Blocked|Expired|Invalid)$")]
    status: Option<String>,
    #[schema(format = DateTime)]
    expiry_date: Option<String>,
    #[schema(pattern = r"^[!-~]{1,20}$")]
    parent_id_tag: Option<String>,
    customer_id: Option<i64>,
    #[schema(max_length = 500)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenQuery {
    customer_id: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(post, path = "/api/admin/id-tags", tag = "operator",
    request_body = NewTokenBody,
    responses((status = 201, description = "Registered", body = TokenAnswer), (status = 400, description = "Invalid idTag, status, expiryDate, parentIdTag or note"), (status = 404, description = "Customer not found"), (status = 409, description = "The idTag (in any case) is already a token or a customer's")),
    security(("bearer" = [])),
)]
pub async fn create(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: super::Body<TokenInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.0;
    let id_tag = state.db.run(move |c| tokens::create(c, input)).await?;
    state.local_lists.wake();
    Ok(HttpResponse::Created().json(TokenAnswer {
        success: true,
        id_tag,
    }))
}

#[utoipa::path(get, path = "/api/admin/id-tags", tag = "operator",
    params(("customerId" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, description = "Tokens, newest first", body = TokenList)),
    security(("bearer" = [])),
)]
pub async fn list(
    state: web::Data<AppState>,
    _op: OperatorId,
    q: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let id_tags = state
        .db
        .run(move |c| tokens::list(c, q.customer_id, q.limit.unwrap_or(500)))
        .await?;
    Ok(HttpResponse::Ok().json(TokenList {
        success: true,
        id_tags,
    }))
}

#[utoipa::path(get, path = "/api/admin/id-tags/{id_tag}", tag = "operator",
    params(("id_tag" = String, Path, description = "idTag, any case", pattern = r"^[!-~]{1,20}$")),
    responses((status = 200, description = "The token", body = TokenAnswer), (status = 404, description = "Token not found")),
    security(("bearer" = [])),
)]
pub async fn get(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let tag = path.into_inner();
    let id_tag = state.db.run(move |c| tokens::get(c, &tag)).await?;
    Ok(HttpResponse::Ok().json(TokenAnswer {
        success: true,
        id_tag,
    }))
}

#[utoipa::path(put, path = "/api/admin/id-tags/{id_tag}", tag = "operator",
    request_body = TokenChanges,
    params(("id_tag" = String, Path, description = "idTag, any case", pattern = r"^[!-~]{1,20}$")),
    responses((status = 200, description = "Changed", body = TokenAnswer), (status = 400, description = "Invalid field, or an attempt to change the idTag"), (status = 404, description = "Token or customer not found")),
    security(("bearer" = [])),
)]
pub async fn update(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: super::Body<TokenInput>,
) -> Result<HttpResponse, AppError> {
    let (tag, input) = (path.into_inner(), body.0);
    let id_tag = state
        .db
        .run(move |c| tokens::update(c, &tag, input))
        .await?;
    Ok(HttpResponse::Ok().json(TokenAnswer {
        success: true,
        id_tag,
    }))
}

#[utoipa::path(delete, path = "/api/admin/id-tags/{id_tag}", tag = "operator",
    params(("id_tag" = String, Path, description = "idTag, any case", pattern = r"^[!-~]{1,20}$")),
    responses((status = 200, description = "Removed", body = Done), (status = 404, description = "Token not found")),
    security(("bearer" = [])),
)]
pub async fn delete(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let tag = path.into_inner();
    state.db.run(move |c| tokens::delete(c, &tag)).await?;
    state.local_lists.wake();
    Ok(HttpResponse::Ok().json(Done { success: true }))
}
