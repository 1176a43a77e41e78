//! The SDK's request helpers and form/JSON body parsers.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = switchboard_sdk::fuzzing::webhook_parsers(&mut Unstructured::new(data));
});
