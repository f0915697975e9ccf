//! The Anthropic stream translator on arbitrary SSE events (`event:`/`data:` blocks), optionally
//! resuming after a prefill, then the aggregate.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::decode_stream(sy_config::Api::Anthropic, data);
});
