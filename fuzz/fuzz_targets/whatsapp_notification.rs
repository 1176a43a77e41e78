//! WhatsApp Cloud API notification bodies (`whatsapp::parse_notification`).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = whatsapp::fuzzing::notification(&mut Unstructured::new(data));
});
