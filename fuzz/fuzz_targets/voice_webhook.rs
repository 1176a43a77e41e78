//! Twilio Voice webhook parameters (`voice::parse_call`).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = voice::fuzzing::webhook(&mut Unstructured::new(data));
});
