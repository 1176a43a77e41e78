//! Email header values: message ids (`References`, `In-Reply-To`),
//! mailboxes, dates.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = email::fuzzing::headers(&mut Unstructured::new(data));
});
