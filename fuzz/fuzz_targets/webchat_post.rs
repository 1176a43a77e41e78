//! Web chat visitor messages (`webchat::parse_post`).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = webchat::fuzzing::post(&mut Unstructured::new(data));
});
