//! (b) The decode path of a charger's CALL on raw text: frame, schema validation, typed payload.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        csms_fuzz::check_call(text);
    }
});
