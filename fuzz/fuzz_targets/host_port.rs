//! Outbound HTTP entries and endpoint URLs (`parse_host_port`,
//! `url_host_port`).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = switchboard::fuzzing::host_port(&mut Unstructured::new(data));
});
