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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenQuery {
    customer_id: Option<i64>,
    limit: Option<i64>,
}

#[utoipa::path(post, path = "/api/admin/id-tags", tag = "operator",
    request_body = TokenInput,
    responses((status = 201, description = "Registered", body = TokenAnswer), (status = 400, description = "Invalid idTag, status, expiryDate, parentIdTag or note"), (status = 404, description = "Customer not found"), (status = 409, description = "The idTag (in any case) is already a token or a customer's")),
    security(("bearer" = [])),
)]
pub async fn create(
    state: web::Data<AppState>,
    _op: OperatorId,
    body: web::Json<TokenInput>,
) -> Result<HttpResponse, AppError> {
    let input = body.into_inner();
    let id_tag = state.db.run(move |c| tokens::create(c, input)).await?;
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
    params(("id_tag" = String, Path, description = "idTag, any case")),
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
    request_body = TokenInput,
    params(("id_tag" = String, Path, description = "idTag, any case")),
    responses((status = 200, description = "Changed", body = TokenAnswer), (status = 400, description = "Invalid field, or an attempt to change the idTag"), (status = 404, description = "Token or customer not found")),
    security(("bearer" = [])),
)]
pub async fn update(
    state: web::Data<AppState>,
    _op: OperatorId,
    path: web::Path<String>,
    body: web::Json<TokenInput>,
) -> Result<HttpResponse, AppError> {
    let (tag, input) = (path.into_inner(), body.into_inner());
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
    params(("id_tag" = String, Path, description = "idTag, any case")),
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
    Ok(HttpResponse::Ok().json(Done { success: true }))
}
