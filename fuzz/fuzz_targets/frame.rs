//! (a) `Frame::parse` on arbitrary text; whatever parses must survive `to_text` and parse again to
//! the same frame.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        csms_fuzz::check_frame(text);
    }
});
