//! How the API shows the domain's records: `Serialize + ToSchema` views built from the domain's
//! own types, one module per resource (the domain returns its types and knows nothing of JSON).

pub mod customers;
pub mod tariffs;
