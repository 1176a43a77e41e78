//! Twilio Messaging webhook parameters (`sms::events`).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = sms::fuzzing::webhook(&mut Unstructured::new(data));
});
