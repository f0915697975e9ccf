//! `Aggregate` on arbitrary JSON chunks, one per line (lines that are not JSON are skipped).

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sy_providers::{Aggregate, ChunkFacts};

fuzz_target!(|data: &[u8]| {
    let mut agg = Aggregate::default();
    for line in data.split(|b| *b == b'\n') {
        let Ok(chunk) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let _ = ChunkFacts::of(&chunk);
        let _ = sy_providers::delta_text(&chunk);
        agg.push(&chunk);
    }
    switchyard_fuzz::check_choices(agg);
});
