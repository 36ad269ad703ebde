//! JSON-schema validation of OCPP payloads, for any protocol version: a version's adapter embeds
//! its official schema files and compiles them once into a [`SchemaSet`] with its own mapping of
//! each [`Violation`] to a CALLERROR code (1.6 and 2.0.1 name them differently).

use std::collections::HashMap;

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::protocol::frame::{ErrorCode, OcppError};

/// A version's action lists, one per direction, and `schemas()`, the version's [`SchemaSet`] with
/// `$code` as its error codes, compiled on first use from the request and response schemas of
/// every action the lists name. They are embedded from `$dir` (relative to the file that invokes
/// the macro), where an action's files are `{action}{$request}.json` and `{action}Response.json`.
macro_rules! ocpp_actions {
    (
        $dir:literal, $request:literal, $code:ident;
        $($(#[$doc:meta])* pub const $list:ident = [$($name:literal),* $(,)?];)+
    ) => {
        $($(#[$doc])* pub const $list: &[&str] = &[$($name),*];)+

        /// (action, request schema, response schema) of each action (one sent both ways twice).
        const FILES: &[(&str, &str, &str)] = &[$($(
            ($name,
             include_str!(concat!($dir, $name, $request, ".json")),
             include_str!(concat!($dir, $name, "Response.json"))),
        )*)+];

        /// The version's compiled schemas, built on first use and shared by every connection.
        pub fn schemas() -> &'static $crate::protocol::schemas::SchemaSet {
            static SCHEMAS: std::sync::OnceLock<$crate::protocol::schemas::SchemaSet> =
                std::sync::OnceLock::new();
            SCHEMAS.get_or_init(|| $crate::protocol::schemas::SchemaSet::compile(FILES, $code))
        }
    };
}

pub(crate) use ocpp_actions;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Request,
    Response,
}

/// What is wrong with a payload, in the terms both versions' error codes are chosen from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    /// The version defines no such action.
    UnknownAction,
    /// A required field is missing.
    Required,
    /// A field of the wrong JSON type.
    Type,
    /// A field the message does not define.
    Additional,
    /// Too few or too many items in a list.
    Occurrence,
    /// Any other constraint: a length, an enumeration, a format, a range.
    Property,
}

/// The compiled schemas of one protocol version, with its error codes.
pub struct SchemaSet {
    validators: HashMap<&'static str, (Validator, Validator)>,
    code: fn(Violation) -> ErrorCode,
}

fn compile(action: &str, text: &str) -> Validator {
    // The files are part of the binary and checked by tests: failing here is a build defect.
    let schema: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("embedded OCPP schema for {action} is not JSON: {e}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("embedded OCPP schema for {action} does not compile: {e}"))
}

impl SchemaSet {
    /// Compiles (action, request schema, response schema) triples; `code` names a violation in
    /// the version's CALLERROR codes.
    pub fn compile(
        files: &[(&'static str, &str, &str)],
        code: fn(Violation) -> ErrorCode,
    ) -> SchemaSet {
        let mut validators = HashMap::new();
        for (action, req, resp) in files {
            // An action both sides send is listed once for each.
            validators
                .entry(*action)
                .or_insert_with(|| (compile(action, req), compile(action, resp)));
        }
        SchemaSet { validators, code }
    }

    /// Validates a payload; the first violation becomes the version's error code that fits it.
    pub fn validate(&self, action: &str, kind: Kind, payload: &Value) -> Result<(), OcppError> {
        self.check(action, kind, payload)
            .map_err(|(v, why)| OcppError::new((self.code)(v), why))
    }

    /// True when the version defines `action`.
    pub fn knows(&self, action: &str) -> bool {
        self.validators.contains_key(action)
    }

    pub fn actions(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.validators.keys().copied()
    }

    /// Checks a payload; the first violation, with a description naming the action and the path.
    pub fn check(
        &self,
        action: &str,
        kind: Kind,
        payload: &Value,
    ) -> Result<(), (Violation, String)> {
        let Some((req, resp)) = self.validators.get(action) else {
            return Err((Violation::UnknownAction, format!("Unknown action {action}")));
        };
        let validator = if kind == Kind::Request { req } else { resp };
        let Some(err) = validator.iter_errors(payload).next() else {
            return Ok(());
        };
        let violation = match err.kind() {
            ValidationErrorKind::Required { .. } => Violation::Required,
            ValidationErrorKind::Type { .. } => Violation::Type,
            ValidationErrorKind::AdditionalProperties { .. } => Violation::Additional,
            ValidationErrorKind::MinItems { .. } | ValidationErrorKind::MaxItems { .. } => {
                Violation::Occurrence
            }
            _ => Violation::Property,
        };
        let path = err.instance_path().to_string();
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at {path}")
        };
        Err((violation, format!("{action}{at}: {err}")))
    }
}

/// The checks every version's schemas pass: `actions` actions, each in one of `lists` (the
/// directions) and only those; a valid BootNotification request passes and each of `broken`
/// fails with its code; an unknown action is NotImplemented.
#[cfg(test)]
pub(crate) fn check_version(
    set: &SchemaSet,
    actions: usize,
    lists: &[&[&str]],
    boot: Value,
    broken: &[(Value, ErrorCode)],
) {
    assert_eq!(set.actions().count(), actions);
    let mut listed: Vec<&str> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    listed.sort_unstable();
    listed.dedup();
    let mut all: Vec<&str> = set.actions().collect();
    all.sort_unstable();
    assert_eq!(listed, all, "every action has a direction");
    assert!(
        set.validate("BootNotification", Kind::Request, &boot)
            .is_ok()
    );
    for (payload, code) in broken {
        let err = set
            .validate("BootNotification", Kind::Request, payload)
            .unwrap_err();
        assert_eq!(err.code, *code, "{payload}");
    }
    assert_eq!(
        set.validate("Nope", Kind::Request, &serde_json::json!({}))
            .unwrap_err()
            .code,
        ErrorCode::NotImplemented
    );
}
