//! Mailgun inbound posts: form and multipart (MIME) bodies, the message
//! built from them, and the threading headers of a reply to it.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Running out of input is not a finding.
    let _ = email::fuzzing::post(&mut Unstructured::new(data));
});
