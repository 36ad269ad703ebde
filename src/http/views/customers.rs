//! Customers as the API shows them.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::money::Major;
use crate::infra::db::models::Customer;

/// A customer as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    pub id: i64,
    pub name: String,
    pub email: String,
    /// The customer's own idTag (what csms sends to chargers for app starts)
    pub id_tag: String,
    /// Major units
    #[schema(value_type = f64)]
    pub wallet_balance: Major,
}

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        CustomerView {
            id: c.id,
            name: c.name,
            email: c.email,
            id_tag: c.id_tag,
            wallet_balance: Major(c.balance),
        }
    }
}
