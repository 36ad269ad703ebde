//! The OCPP 2.0.1 adapter (being built, issue 22): so far its schemas. Nothing negotiates 2.0.1
//! yet: the endpoint still speaks `ocpp1.6` only.

pub mod schemas;
