//! OCPP-J framing: `[2, id, action, payload]`, `[3, id, payload]`, `[4, id, code, description, details]`.

use serde_json::Value;

pub const CALL: u8 = 2;
pub const CALL_RESULT: u8 = 3;
pub const CALL_ERROR: u8 = 4;

/// CALLERROR codes: OCPP-J 1.6's (section 4.2.3 of the OCPP-J specification, including its spelling
/// of "Occurence"), and the four OCPP-J 2.0.1 names or adds (section 4.3 of OCPP 2.0.1 part 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    NotImplemented,
    NotSupported,
    InternalError,
    ProtocolError,
    SecurityError,
    FormationViolation,
    PropertyConstraintViolation,
    OccurenceConstraintViolation,
    TypeConstraintViolation,
    GenericError,
    /// 2.0.1: the payload is syntactically incorrect (1.6: FormationViolation).
    FormatViolation,
    /// 2.0.1: a field occurs too few or too many times (1.6: OccurenceConstraintViolation).
    OccurrenceConstraintViolation,
    /// 2.0.1: a message type number the receiver does not know.
    MessageTypeNotSupported,
    /// 2.0.1: a frame that is not a valid RPC at all.
    RpcFrameworkError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::NotImplemented => "NotImplemented",
            ErrorCode::NotSupported => "NotSupported",
            ErrorCode::InternalError => "InternalError",
            ErrorCode::ProtocolError => "ProtocolError",
            ErrorCode::SecurityError => "SecurityError",
            ErrorCode::FormationViolation => "FormationViolation",
            ErrorCode::PropertyConstraintViolation => "PropertyConstraintViolation",
            ErrorCode::OccurenceConstraintViolation => "OccurenceConstraintViolation",
            ErrorCode::TypeConstraintViolation => "TypeConstraintViolation",
            ErrorCode::GenericError => "GenericError",
            ErrorCode::FormatViolation => "FormatViolation",
            ErrorCode::OccurrenceConstraintViolation => "OccurrenceConstraintViolation",
            ErrorCode::MessageTypeNotSupported => "MessageTypeNotSupported",
            ErrorCode::RpcFrameworkError => "RpcFrameworkError",
        }
    }
}

/// An error to be answered with a CALLERROR.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct OcppError {
    pub code: ErrorCode,
    pub description: String,
}

/// The typed payload of a CALL that passed schema validation. What can still fail is a value the
/// schema allows but the field cannot hold (an integer beyond i32/i64): a property constraint.
pub fn typed<T: serde::de::DeserializeOwned>(payload: serde_json::Value) -> Result<T, OcppError> {
    serde_json::from_value(payload)
        .map_err(|e| OcppError::new(ErrorCode::PropertyConstraintViolation, e.to_string()))
}

impl OcppError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        OcppError {
            code,
            description: description.into(),
        }
    }
}

impl From<crate::error::AppError> for OcppError {
    fn from(e: crate::error::AppError) -> Self {
        log::error!("OCPP handler failed: {e}");
        OcppError::new(
            ErrorCode::InternalError,
            "The central system could not process the request",
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Call {
        id: String,
        action: String,
        payload: Value,
    },
    CallResult {
        id: String,
        payload: Value,
    },
    CallError {
        id: String,
        code: String,
        description: String,
        details: Value,
    },
}

/// A frame that could not be parsed; `id` is known when the frame got far enough to carry one, and
/// `message_type` when its first element was a number.
#[derive(Debug, PartialEq)]
pub struct BadFrame {
    pub id: Option<String>,
    pub message_type: Option<u64>,
    pub error: OcppError,
}

impl BadFrame {
    /// A broken CALLRESULT or CALLERROR: OCPP-J forbids answering it with a CALLERROR.
    pub fn is_answer(&self) -> bool {
        matches!(self.message_type, Some(3 | 4))
    }
}

impl Frame {
    pub fn parse(text: &str) -> Result<Frame, BadFrame> {
        let bad = |id: Option<String>, message_type, code, msg: &str| BadFrame {
            id,
            message_type,
            error: OcppError::new(code, msg),
        };
        let value: Value = serde_json::from_str(text).map_err(|_| {
            bad(
                None,
                None,
                ErrorCode::FormationViolation,
                "Frame is not valid JSON",
            )
        })?;
        let Value::Array(mut items) = value else {
            return Err(bad(
                None,
                None,
                ErrorCode::FormationViolation,
                "Frame is not a JSON array",
            ));
        };
        let message_type = items.first().and_then(Value::as_u64);
        let id = match items.get(1) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 36 => s.clone(),
            _ => {
                return Err(bad(
                    None,
                    message_type,
                    ErrorCode::FormationViolation,
                    "Frame has no valid message id",
                ));
            }
        };
        match (message_type, items.len()) {
            (Some(2), 4) => {
                let payload = items.pop().unwrap_or(Value::Null);
                let action = match items.pop() {
                    Some(Value::String(a)) if !a.is_empty() => a,
                    _ => {
                        return Err(bad(
                            Some(id),
                            message_type,
                            ErrorCode::FormationViolation,
                            "Action must be a string",
                        ));
                    }
                };
                if !payload.is_object() {
                    return Err(bad(
                        Some(id),
                        message_type,
                        ErrorCode::FormationViolation,
                        "Payload must be a JSON object",
                    ));
                }
                Ok(Frame::Call {
                    id,
                    action,
                    payload,
                })
            }
            (Some(3), 3) => {
                let payload = items.pop().unwrap_or(Value::Null);
                Ok(Frame::CallResult { id, payload })
            }
            (Some(4), 5) => {
                let details = items.pop().unwrap_or(Value::Null);
                let description = items
                    .pop()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let code = items
                    .pop()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(Frame::CallError {
                    id,
                    code,
                    description,
                    details,
                })
            }
            (Some(2..=4), _) => Err(bad(
                Some(id),
                message_type,
                ErrorCode::FormationViolation,
                "Wrong number of elements for the message type",
            )),
            _ => Err(bad(
                Some(id),
                message_type,
                ErrorCode::ProtocolError,
                "Unknown message type",
            )),
        }
    }

    pub fn call(id: impl Into<String>, action: impl Into<String>, payload: Value) -> Frame {
        Frame::Call {
            id: id.into(),
            action: action.into(),
            payload,
        }
    }

    pub fn error(id: impl Into<String>, e: &OcppError) -> Frame {
        Frame::CallError {
            id: id.into(),
            code: e.code.as_str().to_string(),
            description: e.description.clone(),
            details: Value::Object(Default::default()),
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Frame::Call { id, .. } | Frame::CallResult { id, .. } | Frame::CallError { id, .. } => {
                id
            }
        }
    }

    pub fn message_type(&self) -> u8 {
        match self {
            Frame::Call { .. } => CALL,
            Frame::CallResult { .. } => CALL_RESULT,
            Frame::CallError { .. } => CALL_ERROR,
        }
    }

    pub fn to_text(&self) -> String {
        let value = match self {
            Frame::Call {
                id,
                action,
                payload,
            } => serde_json::json!([CALL, id, action, payload]),
            Frame::CallResult { id, payload } => serde_json::json!([CALL_RESULT, id, payload]),
            Frame::CallError {
                id,
                code,
                description,
                details,
            } => {
                serde_json::json!([CALL_ERROR, id, code, description, details])
            }
        };
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_and_rejects() {
        let f = Frame::parse(r#"[2,"1","Heartbeat",{}]"#).unwrap();
        assert_eq!(f, Frame::call("1", "Heartbeat", json!({})));
        assert_eq!(Frame::parse(&f.to_text()).unwrap(), f);
        assert_eq!(
            Frame::parse(r#"[3,"1",{"a":1}]"#).unwrap(),
            Frame::CallResult {
                id: "1".into(),
                payload: json!({"a":1})
            }
        );
        assert!(matches!(
            Frame::parse(r#"[4,"1","NotImplemented","x",{}]"#).unwrap(),
            Frame::CallError { .. }
        ));
        assert_eq!(
            Frame::parse("nope").unwrap_err().error.code,
            ErrorCode::FormationViolation
        );
        assert_eq!(
            Frame::parse(r#"[2,"7","Heartbeat"]"#)
                .unwrap_err()
                .id
                .as_deref(),
            Some("7")
        );
        assert_eq!(
            Frame::parse(r#"[9,"7",{}]"#).unwrap_err().error.code,
            ErrorCode::ProtocolError
        );
        assert_eq!(
            Frame::parse(r#"[2,"7","Heartbeat",[]]"#)
                .unwrap_err()
                .error
                .code,
            ErrorCode::FormationViolation
        );
    }
}
