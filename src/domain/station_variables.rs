//! A station's device model as it reports it (OCPP 2.0.1 NotifyReport): each component's
//! variables, per attribute type, with their values and characteristics. A report replaces what
//! was known of the variables it names; the operator reads the whole model.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;
use crate::infra::db::schema::station_variables;
use crate::infra::db::{DbConnection, now, write_tx};

/// One attribute of one variable, as a station reported it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reported {
    pub component: String,
    pub component_instance: Option<String>,
    pub evse_id: Option<i32>,
    pub connector_id: Option<i32>,
    pub variable: String,
    pub variable_instance: Option<String>,
    /// Actual (the default), Target, MinSet or MaxSet
    pub attribute_type: Option<String>,
    pub value: Option<String>,
    pub mutability: Option<String>,
    pub data_type: Option<String>,
    pub unit: Option<String>,
}

/// A variable attribute as the operator API shows it.
#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = station_variables)]
#[serde(rename_all = "camelCase")]
pub struct StationVariable {
    pub component: String,
    /// Empty: none
    pub component_instance: String,
    /// -1: the station as a whole
    pub evse_id: i32,
    /// -1: the EVSE as a whole
    pub connector_id: i32,
    pub variable: String,
    /// Empty: none
    pub variable_instance: String,
    /// Actual, Target, MinSet or MaxSet
    pub attribute_type: String,
    pub value: Option<String>,
    /// ReadOnly, WriteOnly or ReadWrite
    pub mutability: Option<String>,
    pub data_type: Option<String>,
    pub unit: Option<String>,
    #[serde(serialize_with = "crate::infra::timestamps::serialize")]
    #[schema(value_type = String)]
    pub updated_at: NaiveDateTime,
}

/// The stored form of a reported attribute: "none" as an empty instance or -1, the attribute
/// type Actual by default.
#[derive(Insertable)]
#[diesel(table_name = station_variables)]
struct Row<'a> {
    charger_id: i64,
    component: &'a str,
    component_instance: &'a str,
    evse_id: i32,
    connector_id: i32,
    variable: &'a str,
    variable_instance: &'a str,
    attribute_type: &'a str,
    value: Option<&'a str>,
    mutability: Option<&'a str>,
    data_type: Option<&'a str>,
    unit: Option<&'a str>,
    updated_at: NaiveDateTime,
}

impl<'a> Row<'a> {
    fn of(charger_id: i64, r: &'a Reported, updated_at: NaiveDateTime) -> Self {
        Row {
            charger_id,
            component: &r.component,
            component_instance: r.component_instance.as_deref().unwrap_or_default(),
            evse_id: r.evse_id.unwrap_or(-1),
            connector_id: r.connector_id.unwrap_or(-1),
            variable: &r.variable,
            variable_instance: r.variable_instance.as_deref().unwrap_or_default(),
            attribute_type: r.attribute_type.as_deref().unwrap_or("Actual"),
            value: r.value.as_deref(),
            mutability: r.mutability.as_deref(),
            data_type: r.data_type.as_deref(),
            unit: r.unit.as_deref(),
            updated_at,
        }
    }
}

/// The stored attribute a `Row` names (its key, whatever its value).
macro_rules! attribute {
    ($row:expr) => {
        station_variables::table
            .filter(station_variables::charger_id.eq($row.charger_id))
            .filter(station_variables::component.eq($row.component))
            .filter(station_variables::component_instance.eq($row.component_instance))
            .filter(station_variables::evse_id.eq($row.evse_id))
            .filter(station_variables::connector_id.eq($row.connector_id))
            .filter(station_variables::variable.eq($row.variable))
            .filter(station_variables::variable_instance.eq($row.variable_instance))
            .filter(station_variables::attribute_type.eq($row.attribute_type))
    };
}

/// Records what a report says (each attribute replaces the one stored under the same key);
/// returns how many attributes were recorded.
pub fn reported(
    c: &mut DbConnection,
    charger_id: i64,
    items: &[Reported],
) -> Result<usize, AppError> {
    let t = now();
    write_tx(c, |c| {
        for r in items {
            let row = Row::of(charger_id, r, t);
            diesel::delete(attribute!(row)).execute(c)?;
            diesel::insert_into(station_variables::table)
                .values(&row)
                .execute(c)?;
        }
        Ok(items.len())
    })
}

/// Records the values a station answered to GetVariables (`Reported` without characteristics):
/// each replaces the stored value of its attribute and keeps what a report said of it.
pub fn answered(
    c: &mut DbConnection,
    charger_id: i64,
    items: &[Reported],
) -> Result<usize, AppError> {
    let t = now();
    write_tx(c, |c| {
        for r in items {
            let row = Row {
                mutability: None,
                data_type: None,
                unit: None,
                ..Row::of(charger_id, r, t)
            };
            let updated = diesel::update(attribute!(row))
                .set((
                    station_variables::value.eq(row.value),
                    station_variables::updated_at.eq(t),
                ))
                .execute(c)?;
            if updated == 0 {
                diesel::insert_into(station_variables::table)
                    .values(&row)
                    .execute(c)?;
            }
        }
        Ok(items.len())
    })
}

/// A station's device model as reported, by component and variable.
pub fn list(c: &mut DbConnection, device_id: &str) -> Result<Vec<StationVariable>, AppError> {
    let cid = crate::domain::chargers::id_of(c, device_id)?;
    Ok(station_variables::table
        .filter(station_variables::charger_id.eq(cid))
        .order((
            station_variables::component,
            station_variables::component_instance,
            station_variables::evse_id,
            station_variables::connector_id,
            station_variables::variable,
            station_variables::variable_instance,
            station_variables::attribute_type,
        ))
        .select(StationVariable::as_select())
        .load(c)?)
}

/// The requests whose size a station limits (ItemsPerMessage, by instance:
/// DeviceDataCtrlr's, or MonitoringCtrlr's for the monitoring requests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limited {
    GetVariables,
    SetVariables,
    GetReport,
    ClearVariableMonitoring,
}

impl Limited {
    /// The component and ItemsPerMessage instance that name it.
    fn variable(self) -> (&'static str, &'static str) {
        match self {
            Limited::GetVariables => ("DeviceDataCtrlr", "GetVariables"),
            Limited::SetVariables => ("DeviceDataCtrlr", "SetVariables"),
            Limited::GetReport => ("DeviceDataCtrlr", "GetReport"),
            Limited::ClearVariableMonitoring => ("MonitoringCtrlr", "ClearVariableMonitoring"),
        }
    }
}

/// The most items one `request` may carry to the station: the operator's setting (DeviceDataCtrlr
/// limits only), else what the station reported or answered (ItemsPerMessage), else no limit.
pub fn items_per_message(
    c: &mut DbConnection,
    device_id: &str,
    request: Limited,
) -> Result<Option<usize>, AppError> {
    use crate::infra::db::schema::chargers;
    type Limits = (i64, Option<i32>, Option<i32>, Option<i32>);
    let (cid, get_variables, set_variables, get_report): Limits = chargers::table
        .filter(chargers::device_id.eq(device_id))
        .select((
            chargers::id,
            chargers::items_per_message_get_variables,
            chargers::items_per_message_set_variables,
            chargers::items_per_message_get_report,
        ))
        .first(c)
        .optional()?
        .ok_or(AppError::ChargerNotFound)?;
    let set = match request {
        Limited::GetVariables => get_variables,
        Limited::SetVariables => set_variables,
        Limited::GetReport => get_report,
        Limited::ClearVariableMonitoring => None,
    };
    if let Some(n) = set {
        return Ok(usize::try_from(n).ok().filter(|n| *n > 0));
    }
    let reported: Option<Option<String>> = station_variables::table
        .filter(station_variables::charger_id.eq(cid))
        .filter(station_variables::component.eq(request.variable().0))
        .filter(station_variables::variable.eq("ItemsPerMessage"))
        .filter(station_variables::variable_instance.eq(request.variable().1))
        .filter(station_variables::attribute_type.eq("Actual"))
        .select(station_variables::value)
        .first(c)
        .optional()?;
    Ok(reported
        .flatten()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0))
}
