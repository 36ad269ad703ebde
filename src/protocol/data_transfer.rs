//! DataTransfer from chargers, for either OCPP version: a small registry of vendor handlers. A
//! vendorId with no handler is answered `UnknownVendorId`; a known vendor with a messageId it does
//! not handle, `UnknownMessageId`. The data is JSON: 1.6 carries a string, 2.0.1 any value.
//!
//! To add a vendor, add an entry to [`VENDORS`]: its vendorId and a function from (messageId, data)
//! to the answer.

use serde_json::{Value, json};

/// A vendor's handler: (messageId, data) → the DataTransfer answer.
pub type Handler = fn(Option<&str>, Option<&Value>) -> Value;

/// The vendors csms understands.
pub const VENDORS: &[(&str, Handler)] = &[("org.csms", csms_vendor)];

/// csms's own vendor extension: `Echo` returns the data it was given (for testing a charger's
/// DataTransfer path end to end; none given: an empty string).
fn csms_vendor(message_id: Option<&str>, data: Option<&Value>) -> Value {
    match message_id {
        Some("Echo") => json!({"status": "Accepted", "data": data.cloned().unwrap_or(json!(""))}),
        _ => json!({ "status": "UnknownMessageId" }),
    }
}

/// The answer to a charger's DataTransfer.
pub fn answer(vendor_id: &str, message_id: Option<&str>, data: Option<&Value>) -> Value {
    match VENDORS.iter().find(|(v, _)| *v == vendor_id) {
        Some((_, handler)) => handler(message_id, data),
        None => json!({ "status": "UnknownVendorId" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendors_and_messages() {
        assert_eq!(
            answer("com.unknown", None, None)["status"],
            "UnknownVendorId"
        );
        assert_eq!(
            answer("org.csms", Some("Nope"), None)["status"],
            "UnknownMessageId"
        );
        assert_eq!(
            answer("org.csms", Some("Echo"), Some(&json!("hi"))),
            json!({"status": "Accepted", "data": "hi"})
        );
        assert_eq!(
            answer("org.csms", Some("Echo"), Some(&json!({"n": 1}))),
            json!({"status": "Accepted", "data": {"n": 1}})
        );
        assert_eq!(
            answer("org.csms", Some("Echo"), None),
            json!({"status": "Accepted", "data": ""})
        );
    }
}
