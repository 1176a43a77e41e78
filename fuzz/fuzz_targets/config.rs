//! The configuration file, `SWITCHBOARD_*` variables and `--set` flags
//! (`Config::from_text`).

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = switchboard::fuzzing::config(&mut Unstructured::new(data));
});
