//! Shared code of the fuzz targets: the csms sources under test (compiled here by path, see
//! Cargo.toml), the decode path a charger's CALL goes through, and a generator of mostly-valid
//! payloads driven by the official OCPP 1.6 schemas.

#![allow(dead_code)] // the included sources carry items the targets do not use

/// Stand-in for `csms::error`: frame.rs only needs `AppError` to be displayable.
pub mod error {
    #[derive(Debug)]
    pub struct AppError;

    impl std::fmt::Display for AppError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("application error")
        }
    }
}

// The csms sources under test, compiled here by path; the modules below give them the paths they
// name each other by in csms (`crate::protocol::frame`, `crate::infra::timestamps`, ...).
#[path = "../../src/domain/charging/evidence.rs"]
pub mod evidence;
#[path = "../../src/protocol/frame.rs"]
pub mod frame;
#[path = "../../src/protocol/ocpp16/messages.rs"]
pub mod messages;
#[path = "../../src/protocol/payloads.rs"]
pub mod payloads;
#[path = "../../src/protocol/ocpp16/schemas.rs"]
pub mod schemas;
#[path = "../../src/protocol/ocpp201/messages.rs"]
pub mod messages201;
#[path = "../../src/protocol/ocpp201/schemas.rs"]
pub mod schemas201;
#[path = "../../src/protocol/schemas.rs"]
pub mod schema_set;
#[path = "../../src/infra/timestamps.rs"]
pub mod timestamps;

pub mod domain {
    pub mod charging {
        pub use crate::evidence;
    }
}
pub mod infra {
    pub use crate::timestamps;
}
pub mod protocol {
    pub(crate) use crate::payloads::payloads;
    pub use crate::frame;
    pub use crate::schema_set as schemas;
    pub mod ocpp16 {
        pub use crate::{messages, schemas};
    }
    pub mod ocpp201 {
        pub use crate::messages201 as messages;
        pub use crate::schemas201 as schemas;
    }
}

use arbitrary::{Result, Unstructured};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value, json};

use frame::Frame;
use messages::MeterValue;
use schemas::{Kind, schemas};

/// The CALLs a charge point sends.
pub use schemas::CP_TO_CS as CP_ACTIONS;

/// Target (a): `Frame::parse` never panics, and whatever parses re-serializes and parses back to
/// the same frame.
pub fn check_frame(text: &str) {
    match Frame::parse(text) {
        Ok(frame) => {
            let again = frame.to_text();
            match Frame::parse(&again) {
                Ok(back) => assert_eq!(
                    back, frame,
                    "round trip changed the frame\n  in:  {text}\n  out: {again}"
                ),
                Err(e) => panic!(
                    "re-serialized frame does not parse: {e:?}\n  in:  {text}\n  out: {again}"
                ),
            }
        }
        Err(bad) => {
            // The server answers with a CALLERROR carrying this id: it must be one we accept.
            if let Some(id) = &bad.id {
                assert!(!id.is_empty() && id.len() <= 36, "bad frame id {id:?}");
            }
            let answer = Frame::error(bad.id.unwrap_or_else(|| "-1".into()), &bad.error);
            assert!(Frame::parse(&answer.to_text()).is_ok());
        }
    }
}

/// Target (b): what the server does with a text frame from a charger, up to the handler's typed
/// payload. A panic, or a schema-valid payload of a charge-point action that does not deserialize
/// into its type, is a bug.
pub fn check_call(text: &str) {
    check_call_with(text, schemas(), CP_ACTIONS, decode_typed);
}

/// The decode path of (b) and (d): frame, `s`'s request schema, then `decode` for the actions a
/// station sends (`station_actions`).
fn check_call_with(
    text: &str,
    s: &schema_set::SchemaSet,
    station_actions: &[&str],
    decode: fn(&str, &Value),
) {
    let Ok(Frame::Call {
        id,
        action,
        payload,
    }) = Frame::parse(text)
    else {
        return;
    };
    // The server validates only the station's actions; validating the others as well costs
    // nothing and covers the rest of the schemas.
    if !s.knows(&action) {
        return;
    }
    match s.validate(&action, Kind::Request, &payload) {
        Err(e) => {
            // The CALLERROR the server answers with must be a frame we can parse back.
            let answer = Frame::error(id, &e).to_text();
            assert!(Frame::parse(&answer).is_ok(), "{answer}");
        }
        Ok(()) if station_actions.contains(&action.as_str()) => decode(&action, &payload),
        Ok(()) => {}
    }
}

/// The typed payload, or `None` when the payload holds an integer that its field's Rust type cannot
/// hold: the schemas bound no integer, the server's types (and database columns) do, and the
/// handler answers such a CALL with a CALLERROR. That is the only failure allowed: the same payload
/// with every number outside the `i32` range replaced by 0 must deserialize. Anything else (or a
/// panic) is a bug.
fn typed<T: DeserializeOwned>(action: &str, payload: &Value) -> Option<T> {
    match serde_json::from_value(payload.clone()) {
        Ok(v) => Some(v),
        Err(e) => {
            let mut small = payload.clone();
            zero_big_numbers(&mut small);
            if let Err(e2) = serde_json::from_value::<T>(small) {
                panic!(
                    "schema-valid {action} payload does not deserialize into messages::{action}: {e} ({e2} with big numbers zeroed)\n  payload: {payload}"
                );
            }
            None
        }
    }
}

fn zero_big_numbers(v: &mut Value) {
    match v {
        Value::Number(n) if n.as_i64().and_then(|i| i32::try_from(i).ok()).is_none() => {
            *v = json!(0)
        }
        Value::Array(items) => items.iter_mut().for_each(zero_big_numbers),
        Value::Object(map) => map.values_mut().for_each(zero_big_numbers),
        _ => {}
    }
}

/// Deserializes a schema-valid payload into the type its handler parses it into.
pub fn decode_typed(action: &str, payload: &Value) {
    match action {
        "BootNotification" => {
            let _: Option<messages::BootNotification> = typed(action, payload);
        }
        "StatusNotification" => {
            let _: Option<messages::StatusNotification> = typed(action, payload);
        }
        "Authorize" => {
            let _: Option<messages::Authorize> = typed(action, payload);
        }
        "StartTransaction" => {
            if let Some(req) = typed::<messages::StartTransaction>(action, payload) {
                check_timestamp(&req.timestamp);
            }
        }
        "StopTransaction" => {
            if let Some(req) = typed::<messages::StopTransaction>(action, payload) {
                check_timestamp(&req.timestamp);
                for mv in &req.transaction_data {
                    check_timestamp(&mv.timestamp);
                    check_energy(mv);
                }
            }
        }
        "MeterValues" => {
            if let Some(req) = typed::<messages::MeterValues>(action, payload) {
                for mv in &req.meter_value {
                    check_timestamp(&mv.timestamp);
                    check_energy(mv);
                }
            }
        }
        "DataTransfer" => {
            let _: Option<messages::DataTransfer> = typed(action, payload);
        }
        _ => {}
    }
}

/// A timestamp the schema accepted as a date-time must parse: the handlers would otherwise use the
/// time of arrival instead, without a word.
fn check_timestamp(text: &str) {
    assert!(
        messages::parse_timestamp(text).is_some(),
        "schema-valid date-time {text:?} does not parse with messages::parse_timestamp"
    );
}

/// Target (c): `MeterValue::energy_wh` never panics and is `None` or a non-negative Wh count, and
/// not past three phases of a petawatt-hour (messages.rs drops readings above 1e15 Wh as garbage),
/// so that the sums and differences made of it downstream stay far from i64 overflow.
pub fn check_energy(mv: &MeterValue) {
    let _ = messages::parse_timestamp(&mv.timestamp);
    if let Some(wh) = mv.energy_wh() {
        assert!(
            wh >= 0,
            "negative energy {wh} Wh from {:?}",
            mv.sampled_value
        );
        assert!(
            wh <= 3_000_000_000_000_000,
            "implausible energy {wh} Wh from {:?}",
            mv.sampled_value
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Structured generation: a payload for an action, walking its official schema. Mostly valid (so
// that the fuzzer reaches the typed decoding), with boundary values where the schema has limits
// and, now and then, a value that breaks it.

/// True once in `n` draws; false when the input is used up (the valid choice).
pub fn rare(u: &mut Unstructured, n: u32) -> Result<bool> {
    Ok(u.int_in_range(0..=n - 1)? == n - 1)
}

macro_rules! cp_schemas {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../ocpp-schemas/", $name, ".json")))),*]
    };
}

/// The request schemas of the charge-point actions, as (action, schema text).
const CP_SCHEMA_FILES: &[(&str, &str)] = cp_schemas!(
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
);

/// The parsed request schemas of the charge-point actions, (action, schema).
pub fn cp_schemas() -> &'static [(&'static str, Value)] {
    static SCHEMAS: std::sync::OnceLock<Vec<(&'static str, Value)>> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| {
        CP_SCHEMA_FILES
            .iter()
            .map(|(a, text)| (*a, serde_json::from_str(text).expect("schema is JSON")))
            .collect()
    })
}

/// A CALL frame text `[2, id, action, payload]` for a charge-point action, the payload generated
/// from the action's schema.
pub fn gen_call(u: &mut Unstructured) -> Result<String> {
    let (action, schema) = u.choose(cp_schemas())?;
    let payload = gen_value(u, schema, schema, 0)?;
    let id = if rare(u, 32)? {
        u.arbitrary::<String>()?
    } else {
        u.int_in_range(1u32..=999_999)?.to_string()
    };
    Ok(json!([2, id, action, payload]).to_string())
}

const DEPTH: u32 = 8;

/// A value for `schema` (a sub-schema of `root`, which holds the `definitions`).
pub fn gen_value(u: &mut Unstructured, schema: &Value, root: &Value, depth: u32) -> Result<Value> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let target = r
            .strip_prefix("#/")
            .map(|p| p.split('/').fold(root, |v, k| &v[k]))
            .unwrap_or(&Value::Null);
        return gen_value(u, target, root, depth + 1);
    }
    if depth > DEPTH || rare(u, 128)? {
        return wild_value(u, 2);
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.is_empty() && !rare(u, 32)? {
            return Ok(u.choose(options)?.clone());
        }
        return gen_string(u, None);
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("object") => gen_object(u, schema, root, depth),
        Some("array") => {
            let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let len = if rare(u, 16)? {
                min.saturating_sub(1)
            } else {
                min + u.int_in_range(0..=3)?
            };
            let items = schema.get("items").unwrap_or(&Value::Null);
            let mut out = Vec::with_capacity(len);
            for _ in 0..len {
                out.push(gen_value(u, items, root, depth + 1)?);
            }
            Ok(Value::Array(out))
        }
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => Ok(Value::String(gen_date_time(u)?)),
            Some("uri") if !rare(u, 8)? => Ok(Value::String(format!(
                "{}://{}/{}",
                u.choose(&["ftp", "http", "https", "sftp"])?,
                u.choose(&["example.com", "10.0.0.1", "[::1]:8080", "user:pw@host"])?,
                ascii(u, 20)?
            ))),
            _ => gen_string(u, schema.get("maxLength").and_then(Value::as_u64)),
        },
        Some("integer") => gen_integer(u),
        Some("number") => gen_number(u),
        Some("boolean") => Ok(Value::Bool(u.arbitrary()?)),
        _ => wild_value(u, 2),
    }
}

fn gen_object(u: &mut Unstructured, schema: &Value, root: &Value, depth: u32) -> Result<Value> {
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    for (name, sub) in props {
        let include = if required.contains(&name.as_str()) {
            !rare(u, 32)?
        } else {
            u.arbitrary::<bool>()?
        };
        if include {
            out.insert(name.clone(), gen_value(u, sub, root, depth + 1)?);
        }
    }
    if rare(u, 32)? {
        out.insert(ascii(u, 12)?, wild_value(u, 1)?);
    }
    Ok(Value::Object(out))
}

/// A string of about `max_len` characters (at, just under or just over the limit), or any length
/// without one; ASCII mostly, sometimes multi-byte characters (the schemas count characters).
fn gen_string(u: &mut Unstructured, max_len: Option<u64>) -> Result<Value> {
    let len = match max_len {
        Some(max) => {
            let max = max as usize;
            match u.int_in_range(0..=7)? {
                0 => max,
                1 => max + 1,
                2 => 0,
                _ => u.int_in_range(1..=max.min(40))?,
            }
        }
        None => u.int_in_range(0..=40)?,
    };
    let wide = rare(u, 4)?;
    let mut s = String::with_capacity(len);
    for _ in 0..len {
        let c = if wide {
            *u.choose(&['é', '€', '😀', '\u{0}', '"', '\\', 'a', '\u{ffff}'])?
        } else {
            char::from(u.int_in_range(0x20u8..=0x7e)?)
        };
        s.push(c);
    }
    Ok(Value::String(s))
}

fn ascii(u: &mut Unstructured, max: usize) -> Result<String> {
    let len = u.int_in_range(1..=max)?;
    (0..len)
        .map(|_| Ok(char::from(u.int_in_range(b'a'..=b'z')?)))
        .collect()
}

/// An integer as a charger might write it: small or at the edges of i32/i64/u64, sometimes in
/// a float spelling (`5.0`, `1e3`) that JSON Schema still counts as an integer.
fn gen_integer(u: &mut Unstructured) -> Result<Value> {
    const EDGES: &[i128] = &[
        0,
        1,
        -1,
        i32::MAX as i128,
        i32::MAX as i128 + 1,
        i32::MIN as i128,
        i32::MIN as i128 - 1,
        u32::MAX as i128 + 1,
        1 << 53,
        (1 << 53) + 1,
        i64::MAX as i128,
        i64::MAX as i128 + 1,
        i64::MIN as i128,
        u64::MAX as i128,
    ];
    let n: i128 = match u.int_in_range(0..=5)? {
        0 => *u.choose(EDGES)?,
        1 => u.arbitrary::<i64>()? as i128,
        _ => u.int_in_range(0..=100_000)?,
    };
    Ok(match u.int_in_range(0..=31)? {
        // Float spellings (5.0, 5e0, -0.0: not integers to the draft-04 schemas, integers to the
        // draft-06 ones), integral values beyond u64, and a fraction.
        0 => Number::from_f64(n as f64).map_or(Value::Null, Value::Number),
        1 => serde_json::from_str(&format!("{n}.0")).unwrap_or(Value::Null),
        2 => serde_json::from_str(&format!("{}e{}", n, u.int_in_range(0..=25)?))
            .unwrap_or(Value::Null),
        3 => json!(-0.0),
        4 => json!(n as f64 + 0.5),
        _ => {
            if let Ok(v) = u64::try_from(n) {
                json!(v)
            } else if let Ok(v) = i64::try_from(n) {
                json!(v)
            } else {
                Number::from_f64(n as f64).map_or(Value::Null, Value::Number)
            }
        }
    })
}

fn gen_number(u: &mut Unstructured) -> Result<Value> {
    Ok(match u.int_in_range(0..=3)? {
        0 => gen_integer(u)?,
        1 => Number::from_f64(u.arbitrary::<f64>()?).map_or(json!(0.1), Value::Number),
        _ => json!(u.int_in_range(0..=10_000)? as f64 / 10.0),
    })
}

/// An RFC 3339 date-time, mostly well formed, with the corners of the grammar: lower-case `t`/`z`,
/// fractions of any length, offsets, leap seconds, and now and then an impossible field.
pub fn gen_date_time(u: &mut Unstructured) -> Result<String> {
    if rare(u, 16)? {
        return u.arbitrary::<String>();
    }
    let off = rare(u, 8)?;
    let year = if off {
        u.int_in_range(0..=9999)?
    } else {
        u.int_in_range(1970..=2100)?
    };
    let month = if off {
        u.int_in_range(0..=13)?
    } else {
        u.int_in_range(1..=12)?
    };
    let day = if off {
        u.int_in_range(0..=32)?
    } else {
        u.int_in_range(1..=28)?
    };
    let hour = if off {
        u.int_in_range(0..=24)?
    } else {
        u.int_in_range(0..=23)?
    };
    let minute = if off {
        u.int_in_range(0..=60)?
    } else {
        u.int_in_range(0..=59)?
    };
    let second = if off {
        u.int_in_range(0..=61)?
    } else {
        u.int_in_range(0..=59)?
    };
    let sep = if rare(u, 8)? {
        *u.choose(&["t", " ", "_"])?
    } else {
        "T"
    };
    let mut s = format!("{year:04}-{month:02}-{day:02}{sep}{hour:02}:{minute:02}:{second:02}");
    if u.arbitrary::<bool>()? {
        let digits = u.int_in_range(1..=12)?;
        s.push('.');
        for _ in 0..digits {
            s.push(char::from(u.int_in_range(b'0'..=b'9')?));
        }
    }
    match u.int_in_range(0..=5)? {
        0 => s.push('z'),
        1 | 2 => {
            let sign = if u.arbitrary()? { '+' } else { '-' };
            let oh = if off {
                u.int_in_range(0..=99)?
            } else {
                u.int_in_range(0..=14)?
            };
            let om = if off {
                u.int_in_range(0..=99)?
            } else {
                *u.choose(&[0, 30, 45])?
            };
            s.push_str(&format!("{sign}{oh:02}:{om:02}"));
        }
        3 if off => {}
        _ => s.push('Z'),
    }
    Ok(s)
}

/// Any JSON value, nested at most `depth` deep.
pub fn wild_value(u: &mut Unstructured, depth: u32) -> Result<Value> {
    Ok(match u.int_in_range(0..=7)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => gen_integer(u)?,
        3 => gen_number(u)?,
        4 | 5 => Value::String(u.arbitrary()?),
        6 if depth > 0 => {
            let len = u.int_in_range(0..=3)?;
            Value::Array(
                (0..len)
                    .map(|_| wild_value(u, depth - 1))
                    .collect::<Result<_>>()?,
            )
        }
        _ if depth > 0 => {
            let len = u.int_in_range(0..=3)?;
            let mut m = Map::new();
            for _ in 0..len {
                m.insert(u.arbitrary()?, wild_value(u, depth - 1)?);
            }
            Value::Object(m)
        }
        _ => Value::Null,
    })
}

/// Target (d): the decode path of an OCPP 2.0.1 station's CALL, as (b) for 1.6: frame, the 2.0.1
/// schema, the typed payload of the station's actions (`ocpp201/messages.rs`). A panic, or a
/// schema-valid payload that does not deserialize into its type, is a bug.
pub fn check_call_201(text: &str) {
    check_call_with(
        text,
        schemas201::schemas(),
        schemas201::STATION_TO_CSMS,
        decode_typed_201,
    );
}

/// Deserializes a schema-valid 2.0.1 payload into the type its handler parses it into.
fn decode_typed_201(action: &str, payload: &Value) {
    use messages201 as m;
    match action {
        "BootNotification" => {
            let _: Option<m::BootNotification> = typed(action, payload);
        }
        "StatusNotification" => {
            let _: Option<m::StatusNotification> = typed(action, payload);
        }
        "SecurityEventNotification" => {
            let _: Option<m::SecurityEventNotification> = typed(action, payload);
        }
        "NotifyReport" => {
            let _: Option<m::NotifyReport> = typed(action, payload);
        }
        "Authorize" => {
            let _: Option<m::Authorize> = typed(action, payload);
        }
        "GetCertificateStatus" => {
            let _: Option<m::GetCertificateStatus> = typed(action, payload);
        }
        "TransactionEvent" => {
            if let Some(e) = typed::<m::TransactionEvent>(action, payload) {
                check_timestamp(&e.timestamp);
                for mv in &e.meter_value {
                    check_timestamp(&mv.timestamp);
                }
            }
        }
        "MeterValues" => {
            if let Some(req) = typed::<m::MeterValues>(action, payload) {
                for mv in &req.meter_value {
                    check_timestamp(&mv.timestamp);
                }
            }
        }
        "DataTransfer" => {
            let _: Option<m::DataTransfer> = typed(action, payload);
        }
        "NotifyDisplayMessages" => {
            let _: Option<m::NotifyDisplayMessages> = typed(action, payload);
        }
        "NotifyCustomerInformation" => {
            if let Some(n) = typed::<m::NotifyCustomerInformation>(action, payload) {
                check_timestamp(&n.generated_at);
            }
        }
        _ => {}
    }
}
