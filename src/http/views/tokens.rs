//! Authorization tokens as the API shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::tokens;
use crate::http::timestamp;

/// A token as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub id_tag: String,
    /// What the operator set
    pub status: String,
    /// What a charger is told now: `Expired` once the expiry date has passed
    pub effective_status: String,
    pub expiry_date: Option<String>,
    pub parent_id_tag: Option<String>,
    pub customer_id: Option<i64>,
    pub note: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

impl From<tokens::Token> for Token {
    fn from(t: tokens::Token) -> Self {
        Token {
            id_tag: t.id_tag,
            status: t.status,
            effective_status: t.effective_status,
            expiry_date: t.expiry_date.map(timestamp),
            parent_id_tag: t.parent_id_tag,
            customer_id: t.customer_id,
            note: t.note,
            created_at: timestamp(t.created_at),
            updated_at: t.updated_at.map(timestamp),
        }
    }
}
