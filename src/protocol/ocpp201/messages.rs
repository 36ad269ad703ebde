//! Typed payloads of the OCPP 2.0.1 CALLs csms handles so far (each already valid against its
//! official schema when it is read here).

crate::protocol::payloads! {
    pub struct BootNotification {
        pub charging_station: ChargingStation,
        /// PowerUp, Triggered, RemoteReset, FirmwareUpdate, …
        pub reason: String,
    }

    pub struct ChargingStation {
        pub vendor_name: String,
        pub model: String,
        pub serial_number: Option<String>,
        pub firmware_version: Option<String>,
        pub modem: Option<Modem>,
    }

    pub struct Modem {
        pub iccid: Option<String>,
        pub imsi: Option<String>,
    }

    pub struct StatusNotification {
        pub timestamp: String,
        /// Available, Occupied, Reserved, Unavailable, Faulted
        pub connector_status: String,
        pub evse_id: i32,
        pub connector_id: i32,
    }

    pub struct SecurityEventNotification {
        #[serde(rename = "type")]
        pub kind: String,
        pub timestamp: String,
        pub tech_info: Option<String>,
    }

    pub struct NotifyReport {
        pub request_id: i64,
        pub seq_no: i64,
        #[serde(default)]
        pub tbc: bool,
        #[serde(default)]
        pub report_data: Vec<ReportData>,
    }

    pub struct ReportData {
        pub component: Component,
        pub variable: Variable,
        pub variable_attribute: Vec<VariableAttribute>,
        pub variable_characteristics: Option<VariableCharacteristics>,
    }

    pub struct Component {
        pub name: String,
        pub instance: Option<String>,
        pub evse: Option<Evse>,
    }

    pub struct Evse {
        pub id: i32,
        pub connector_id: Option<i32>,
    }

    pub struct Variable {
        pub name: String,
        pub instance: Option<String>,
    }

    pub struct VariableAttribute {
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub value: Option<String>,
        pub mutability: Option<String>,
    }

    pub struct VariableCharacteristics {
        pub unit: Option<String>,
        pub data_type: String,
    }
}

/// Whether a SetVariables item sets the station's Basic auth password
/// (`SecurityCtrlr.BasicAuthPassword`, names in any case).
pub fn is_basic_auth_password(item: &serde_json::Value) -> bool {
    let named = |v: &serde_json::Value, name: &str| {
        v["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    };
    named(&item["component"], "SecurityCtrlr") && named(&item["variable"], "BasicAuthPassword")
}

crate::protocol::payloads! {
    /// An identifier as 2.0.1 carries it: the token and its type (Central, ISO14443, eMAID, …).
    pub struct IdToken {
        pub id_token: String,
        #[serde(rename = "type")]
        pub kind: String,
    }
}

impl IdToken {
    /// The identifier the core knows it by (`None`: the station needed none).
    pub fn tag(self) -> Option<String> {
        (self.kind != "NoAuthorization" && !self.id_token.is_empty()).then_some(self.id_token)
    }
}

crate::protocol::payloads! {
    pub struct Authorize {
        pub id_token: IdToken,
        /// The EV's contract certificate (PEM), ISO 15118
        pub certificate: Option<String>,
        /// The contract certificate's chain named for OCSP, ISO 15118
        pub iso15118_certificate_hash_data: Option<Vec<OcspRequestData>>,
    }

    pub struct OcspRequestData {
        pub hash_algorithm: String,
        pub issuer_name_hash: String,
        pub issuer_key_hash: String,
        pub serial_number: String,
        #[serde(rename = "responderURL")]
        pub responder_url: String,
    }

    pub struct GetCertificateStatus {
        pub ocsp_request_data: OcspRequestData,
    }

    pub struct TransactionEvent {
        /// Started, Updated, Ended
        pub event_type: String,
        pub timestamp: String,
        pub trigger_reason: String,
        pub seq_no: i64,
        #[serde(default)]
        pub offline: bool,
        pub reservation_id: Option<i32>,
        pub transaction_info: TransactionInfo,
        pub id_token: Option<IdToken>,
        pub evse: Option<Evse>,
        #[serde(default)]
        pub meter_value: Vec<MeterValue>,
    }

    pub struct TransactionInfo {
        pub transaction_id: String,
        pub stopped_reason: Option<String>,
        pub remote_start_id: Option<i64>,
    }

    pub struct MeterValues {
        pub evse_id: i32,
        pub meter_value: Vec<MeterValue>,
    }

    pub struct MeterValue {
        pub timestamp: String,
        pub sampled_value: Vec<SampledValue>,
    }

    pub struct SampledValue {
        pub value: f64,
        pub context: Option<String>,
        pub measurand: Option<String>,
        pub phase: Option<String>,
        pub location: Option<String>,
        pub unit_of_measure: Option<UnitOfMeasure>,
    }

    pub struct UnitOfMeasure {
        pub unit: Option<String>,
        pub multiplier: Option<i32>,
    }
}

crate::protocol::payloads! {
    /// P01: a vendor's message; `data` is any JSON (a string in 1.6).
    pub struct DataTransfer {
        pub vendor_id: String,
        pub message_id: Option<String>,
        pub data: Option<serde_json::Value>,
    }

    /// O: the display messages a station holds, answering GetDisplayMessages `requestId`.
    pub struct NotifyDisplayMessages {
        pub request_id: i64,
        #[serde(default)]
        pub tbc: bool,
        #[serde(default)]
        pub message_info: Vec<MessageInfo>,
    }

    pub struct MessageInfo {
        pub id: i64,
        /// AlwaysFront, InFront, NormalCycle
        pub priority: String,
        pub state: Option<String>,
        pub transaction_id: Option<String>,
    }

    /// N09/N10: (part of) what a station holds on a customer, answering CustomerInformation
    /// `requestId`.
    pub struct NotifyCustomerInformation {
        pub data: String,
        pub seq_no: i64,
        pub generated_at: String,
        pub request_id: i64,
        #[serde(default)]
        pub tbc: bool,
    }
}
