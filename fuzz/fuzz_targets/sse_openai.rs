//! The OpenAI stream decoder on arbitrary SSE events (`event:`/`data:` blocks), then the aggregate.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::decode_stream(sy_config::Api::OpenAi, data);
});
