//! Any protocol's answer, as one body or as a stream (the first byte picks the protocol and
//! which): decoded, then rendered and collected by every dialect.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let api = switchyard_fuzz::APIS[usize::from(pick) % switchyard_fuzz::APIS.len()];
    switchyard_fuzz::decode(api, rest, pick & 0x80 != 0);
});
