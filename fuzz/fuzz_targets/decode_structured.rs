//! (b) The same decode path, fed with CALLs whose payloads are generated from the action's schema:
//! mostly valid, with boundary values and the odd violation, so the typed decoding is reached often.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    if let Ok(text) = csms_fuzz::gen_call(&mut u) {
        csms_fuzz::check_frame(&text);
        csms_fuzz::check_call(&text);
    }
});
