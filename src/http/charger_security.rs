//! The OCPP 1.6 security extension over HTTP (rules in `crate::domain::certificates`,
//! `crate::domain::security_events` and `crate::domain::security_jobs`): a charger's certificates and security
//! events, GetLog and SignedUpdateFirmware for operators, and the log upload address for chargers.

use serde::Deserialize;
use utoipa::ToSchema;

use super::firmware::time;
use super::identity::OperatorId;
use crate::domain::certificates::{self, ChargerCertificates};
use crate::domain::customer_information::{self, CustomerInformation, Sent};
use crate::domain::security_events::{self, SecurityEvent};
use crate::domain::security_jobs::{self, LogRequest, SecurityJob, SignedFirmwareRequest};
use crate::domain::station_commands::Customer;
use crate::domain::station_events::{self, StationEvent};
use crate::domain::station_variables::{self, StationVariable};
use crate::error::AppError;

super::answers! {
    pub struct CertificatesAnswer { certificates: ChargerCertificates }
    pub struct SecurityEventList { events: Vec<SecurityEvent> }
    pub struct SecurityJobAnswer { job: SecurityJob }
    pub struct SecurityJobList { jobs: Vec<SecurityJob> }
    pub struct VariableList { variables: Vec<StationVariable> }
    pub struct StationEventList { events: Vec<StationEvent> }
    pub struct CustomerInformationList { requests: Vec<CustomerInformation> }
    pub struct CustomerInformationSent { requests: Vec<Sent> }
}

/// `POST /api/admin/chargers/{deviceId}/logs`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetLogBody {
    /// SecurityLog or DiagnosticsLog
    #[schema(pattern = "^(SecurityLog|DiagnosticsLog)$")]
    log_type: String,
    #[schema(format = DateTime)]
    oldest_timestamp: Option<String>,
    #[schema(format = DateTime)]
    latest_timestamp: Option<String>,
    #[schema(minimum = 0)]
    retries: Option<i64>,
    #[schema(minimum = 0)]
    retry_interval: Option<i64>,
}

impl GetLogBody {
    fn request(self) -> Result<LogRequest, AppError> {
        Ok(LogRequest {
            log_type: self.log_type,
            oldest: time("oldestTimestamp", self.oldest_timestamp)?,
            latest: time("latestTimestamp", self.latest_timestamp)?,
            retries: self.retries,
            retry_interval: self.retry_interval,
        })
    }
}

/// `POST /api/admin/chargers/{deviceId}/signed-firmware`
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedFirmwareBody {
    /// A hosted image (`POST /api/admin/firmware`)
    image_id: i64,
    /// PEM certificate of the key that signed the image (at most 5500 characters)
    #[schema(
        min_length = 1,
        max_length = 5500,
        pattern = "-----BEGIN CERTIFICATE-----"
    )]
    signing_certificate: String,
    /// Base64 signature of the image (at most 800 characters)
    #[schema(
        min_length = 1,
        max_length = 800,
        pattern = r"^\s*[A-Za-z0-9+/]+={0,2}\s*$"
    )]
    signature: String,
    /// RFC 3339; default now
    #[schema(format = DateTime)]
    retrieve_date_time: Option<String>,
    #[schema(format = DateTime)]
    install_date_time: Option<String>,
    #[schema(minimum = 0)]
    retries: Option<i64>,
    #[schema(minimum = 0)]
    retry_interval: Option<i64>,
}

impl SignedFirmwareBody {
    fn request(self) -> Result<SignedFirmwareRequest, AppError> {
        Ok(SignedFirmwareRequest {
            image_id: self.image_id,
            signing_certificate: self.signing_certificate,
            signature: self.signature,
            retrieve_date: time("retrieveDateTime", self.retrieve_date_time)?,
            install_date: time("installDateTime", self.install_date_time)?,
            retries: self.retries,
            retry_interval: self.retry_interval,
        })
    }
}

super::charger_reads! {
    certificates at "/api/admin/chargers/{device_id}/certificates" => CertificatesAnswer from certificates::list,
        "Certificates csms issued to the charger (with expiry and the charger's CertificateSigned answer) and those it reported installed";
}

super::charger_reads! {
    events at "/api/admin/chargers/{device_id}/security-events",
        query q: super::LimitQuery [("limit" = Option<i64>, Query, description = "1 to 1000 (default 100)")]
        => SecurityEventList from |c, device| security_events::list(c, device, q.limit.unwrap_or(100)),
        "Security events, newest first (critical ones flagged)";
}

super::file_jobs! {
    get_log at "/api/admin/chargers/{device_id}/logs", GetLogBody => SecurityJobAnswer,
        "GetLog sent; the charger uploads the log to csms", "Invalid input", "Charger not found",
        |jobs, device, base, body| security_jobs::get_log(jobs, device, base, body.request()?);
    signed_firmware at "/api/admin/chargers/{device_id}/signed-firmware", SignedFirmwareBody => SecurityJobAnswer,
        "SignedUpdateFirmware sent; the job follows the charger's SignedFirmwareStatusNotifications",
        "Invalid input (e.g. not a PEM certificate, not a base64 signature)", "Charger or image not found",
        |jobs, device, base, body| security_jobs::signed_update_firmware(jobs, device, base, body.request()?);
}

super::charger_reads! {
    variables at "/api/admin/chargers/{device_id}/variables" => VariableList from station_variables::list,
        "The station's device model as its OCPP 2.0.1 reports (NotifyReport) told it: every component's variables, per attribute type";
}

super::charger_reads! {
    station_events at "/api/admin/chargers/{device_id}/station-events",
        query q: super::LimitQuery [("limit" = Option<i64>, Query, description = "1 to 1000 (default 100)")]
        => StationEventList from |c, device| station_events::list(c, device, q.limit.unwrap_or(100)),
        "The station's OCPP 2.0.1 NotifyEvent events (monitor alerts, periodic and delta events), newest first";
}

super::charger_reads! {
    customer_information at "/api/admin/chargers/{device_id}/customer-information"
        => CustomerInformationList from customer_information::list,
        "The station's OCPP 2.0.1 CustomerInformation requests, newest first: whom each is about, report and/or clear, the station's answer, and the report it sent (NotifyCustomerInformation parts joined in seqNo order)";
}

/// `POST /api/admin/customer-information`: one customer, by token or by identifier (one of them),
/// and what to ask of each station.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CustomerInformationBody {
    ByToken(CustomerByToken),
    ByIdentifier(CustomerByIdentifier),
}

/// The customer by token.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerByToken {
    #[schema(min_length = 1, max_length = 36)]
    id_token: String,
    /// The token's OCPP 2.0.1 IdTokenEnumType (default Central)
    #[schema(
        pattern = "^(Central|eMAID|ISO14443|ISO15693|KeyCode|Local|MacAddress|NoAuthorization)$"
    )]
    id_token_type: Option<String>,
    ask: Ask,
}

/// The customer by the identifier the stations hold.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomerByIdentifier {
    #[schema(min_length = 1, max_length = 64)]
    customer_identifier: String,
    ask: Ask,
}

/// What each station is asked: what it holds (NotifyCustomerInformation), to delete it, or both.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "camelCase")]
pub enum Ask {
    Report,
    Clear,
    ReportAndClear,
}

impl CustomerInformationBody {
    /// The core's customer, and (report, clear).
    fn request(self) -> Result<(Customer, bool, bool), AppError> {
        let (customer, ask) = match self {
            CustomerInformationBody::ByToken(t) => (
                customer_information::customer(Some(t.id_token), t.id_token_type, None)?,
                t.ask,
            ),
            CustomerInformationBody::ByIdentifier(i) => (
                customer_information::customer(None, None, Some(i.customer_identifier))?,
                i.ask,
            ),
        };
        let (report, clear) = match ask {
            Ask::Report => (true, false),
            Ask::Clear => (false, true),
            Ask::ReportAndClear => (true, true),
        };
        Ok((customer, report, clear))
    }
}

super::operation! {
    /// Asks every connected OCPP 2.0.1 station for what it holds on a customer, and/or to clear
    /// it; each request and the station's answer are kept (`GET /api/admin/chargers/{deviceId}/customer-information`).
    post "/api/admin/customer-information", "operator", "bearer" (
        request_body = CustomerInformationBody,
        responses((status = 200, description = "Sent to every connected 2.0.1 station: each station's requestId and answer", body = CustomerInformationSent),
            (status = 400, description = "No customer, both kinds, or an unknown ask")),
    )
    pub async fn ask_customer_information(state, _op: OperatorId, body: super::Body<CustomerInformationBody>) {
        let (customer, report, clear) = body.0.request()?;
        let sent = customer_information::ask_every_station(
            &state.db,
            state.registry.as_ref(),
            state.settings.call_timeout(),
            customer,
            report,
            clear,
        )
        .await?;
        super::ok(CustomerInformationSent::new(sent))
    }
}

super::charger_reads! {
    jobs at "/api/admin/chargers/{device_id}/security-jobs" => SecurityJobList from security_jobs::jobs,
        "GetLog and SignedUpdateFirmware requests with every reported status, newest first";
}

super::job_files! {
    file at "/api/admin/security-jobs/{id}/file" => security_jobs::received_file,
        "The log the charger uploaded";
}
