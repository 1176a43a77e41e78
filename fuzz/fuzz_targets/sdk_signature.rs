//! The SDK's webhook signature checks (Meta, Twilio, Mailgun).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = switchboard_sdk::fuzzing::signatures(&mut Unstructured::new(data));
});
