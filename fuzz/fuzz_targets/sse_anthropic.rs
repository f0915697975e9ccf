//! An Anthropic-protocol upstream's stream, as any bytes: decoded, then rendered by every dialect.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    switchyard_fuzz::decode(sy_config::Api::Anthropic, data, false);
});
