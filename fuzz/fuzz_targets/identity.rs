//! Identity normalization (`Normalizer`: email, phone, handle, parse).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = switchboard::fuzzing::identity(&mut Unstructured::new(data));
});
