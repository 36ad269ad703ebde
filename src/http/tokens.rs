//! `/api/admin/id-tags`: the operator's authorization tokens (HTTP only; rules in `crate::domain::tokens`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::Done;
use super::identity::OperatorId;
use crate::domain::tokens::{self, Token, TokenInput};
use crate::error::AppError;
use crate::infra::db::{Db, DbConnection};

super::answers! {
    #[serde(rename_all = "camelCase")]
    pub struct TokenAnswer { id_tag: Token }
    #[serde(rename_all = "camelCase")]
    pub struct TokenList { id_tags: Vec<Token> }
}

/// `POST /api/admin/id-tags`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTokenBody {
    /// 1–20 printable ASCII characters (CiString20; compared case-insensitively)
    #[schema(value_type = String, required = true, pattern = r"^[!-~]{1,20}$")]
    id_tag: Option<String>,
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
    /// OCPP 2.0.1 IdTokenEnumType: the token then matches a 2.0.1 idToken of that type only
    /// (none: any type, and 1.6 idTags)
    #[schema(
        pattern = "^(Central|eMAID|ISO14443|ISO15693|KeyCode|Local|MacAddress|NoAuthorization)$"
    )]
    id_token_type: Option<String>,
}

impl From<NewTokenBody> for TokenInput {
    /// A missing idTag is the domain's "idTag is required"; null is as left out.
    fn from(b: NewTokenBody) -> Self {
        TokenInput {
            id_tag: b.id_tag,
            status: b.status,
            expiry_date: Some(b.expiry_date),
            parent_id_tag: Some(b.parent_id_tag),
            customer_id: Some(b.customer_id),
            note: Some(b.note),
            id_token_type: Some(b.id_token_type),
        }
    }
}

/// `PUT /api/admin/id-tags/{idTag}`: what is given changes, null clears expiryDate, parentIdTag,
/// customerId or note. The idTag itself cannot change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenChanges {
    // Read only to refuse a change of the idTag with a clear message (or accept its own).
    #[schema(ignore)]
    id_tag: Option<String>,
    #[schema(pattern = "^(Accepted|Blocked|Expired|Invalid)$")]
    status: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expiry_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = r"^[!-~]{1,20}$")]
    parent_id_tag: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    customer_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    note: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "^(Central|eMAID|ISO14443|ISO15693|KeyCode|Local|MacAddress|NoAuthorization)$")]
    id_token_type: Option<Option<String>>,
}

impl From<TokenChanges> for TokenInput {
    fn from(b: TokenChanges) -> Self {
        TokenInput {
            id_tag: b.id_tag,
            status: b.status,
            expiry_date: b.expiry_date,
            parent_id_tag: b.parent_id_tag,
            customer_id: b.customer_id,
            note: b.note,
            id_token_type: b.id_token_type,
        }
    }
}

/// A field that can be left out (`None`), `null` (`Some(None)`) or a value.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `200` with the token `f` reads or writes.
async fn answer(
    db: &Db,
    f: impl FnOnce(&mut DbConnection) -> Result<Token, AppError> + Send + 'static,
) -> Result<HttpResponse, AppError> {
    super::ok(TokenAnswer::new(db.run(f).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenQuery {
    customer_id: Option<i64>,
    limit: Option<i64>,
}

super::operation! {
    post "/api/admin/id-tags", "operator", "bearer" (
        request_body = NewTokenBody,
        responses((status = 201, description = "Registered", body = TokenAnswer), (status = 400, description = "Invalid idTag, status, expiryDate, parentIdTag, note or idTokenType"), (status = 404, description = "Customer not found"), (status = 409, description = "The idTag (in any case) is already a token or a customer's")),
    )
    pub async fn create(state, _op: OperatorId, body: super::Body<NewTokenBody>) {
        let input = TokenInput::from(body.0);
        let id_tag = state.db.run(move |c| tokens::create(c, input)).await?;
        state.local_lists.wake();
        super::created(TokenAnswer::new(id_tag))
    }

    get "/api/admin/id-tags", "operator", "bearer" (
        params(("customerId" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
        responses((status = 200, description = "Tokens, newest first", body = TokenList)),
    )
    pub async fn list(state, _op: OperatorId, q: web::Query<TokenQuery>) {
        let q = q.into_inner();
        let id_tags = state
            .db
            .run(move |c| tokens::list(c, q.customer_id, q.limit.unwrap_or(500)))
            .await?;
        super::ok(TokenList::new(id_tags))
    }

    get "/api/admin/id-tags/{id_tag}", "operator", "bearer" (
        params(("id_tag" = String, Path, description = "idTag, any case", pattern = r"^[!-~]{1,20}$")),
        responses((status = 200, description = "The token", body = TokenAnswer), (status = 404, description = "Token not found")),
    )
    pub async fn get(state, _op: OperatorId, path: web::Path<String>) {
        let tag = path.into_inner();
        answer(&state.db, move |c| tokens::get(c, &tag)).await
    }

    put "/api/admin/id-tags/{id_tag}", "operator", "bearer" (
        request_body = TokenChanges,
        params(("id_tag" = String, Path, description = "idTag, any case", pattern = r"^[!-~]{1,20}$")),
        responses((status = 200, description = "Changed", body = TokenAnswer), (status = 400, description = "Invalid field, or an attempt to change the idTag"), (status = 404, description = "Token or customer not found")),
    )
    pub async fn update(state, _op: OperatorId, path: web::Path<String>, body: super::Body<TokenChanges>) {
        let (tag, input) = (path.into_inner(), TokenInput::from(body.0));
        answer(&state.db, move |c| tokens::update(c, &tag, input)).await
    }

    delete "/api/admin/id-tags/{id_tag}", "operator", "bearer" (
        params(("id_tag" = String, Path, description = "idTag, any case", pattern = r"^[!-~]{1,20}$")),
        responses((status = 200, description = "Removed", body = Done), (status = 404, description = "Token not found")),
    )
    pub async fn delete(state, _op: OperatorId, path: web::Path<String>) {
        let tag = path.into_inner();
        state.db.run(move |c| tokens::delete(c, &tag)).await?;
        state.local_lists.wake();
        super::done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_tell_absent_from_null() {
        let b: TokenChanges =
            serde_json::from_value(serde_json::json!({"expiryDate": null, "note": "x"})).unwrap();
        let i = TokenInput::from(b);
        assert_eq!(i.expiry_date, Some(None));
        assert_eq!(i.parent_id_tag, None);
        assert_eq!(i.note, Some(Some("x".into())));
        assert!(serde_json::from_value::<TokenChanges>(serde_json::json!({"bogus": 1})).is_err());
    }
}
