//! (d) The decode path of an OCPP 2.0.1 station's CALL on raw text: frame, the 2.0.1 schema, typed
//! payload.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        csms_fuzz::check_call_201(text);
    }
});
