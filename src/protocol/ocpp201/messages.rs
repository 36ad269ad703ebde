//! Typed payloads of the OCPP 2.0.1 CALLs csms handles so far (each already valid against its
//! official schema when it is read here).

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotification {
    pub charging_station: ChargingStation,
    /// PowerUp, Triggered, RemoteReset, FirmwareUpdate, …
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargingStation {
    pub vendor_name: String,
    pub model: String,
    pub serial_number: Option<String>,
    pub firmware_version: Option<String>,
    pub modem: Option<Modem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Modem {
    pub iccid: Option<String>,
    pub imsi: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotification {
    pub timestamp: String,
    /// Available, Occupied, Reserved, Unavailable, Faulted
    pub connector_status: String,
    pub evse_id: i32,
    pub connector_id: i32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEventNotification {
    #[serde(rename = "type")]
    pub kind: String,
    pub timestamp: String,
    pub tech_info: Option<String>,
}
