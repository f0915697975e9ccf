//! The config loader on arbitrary text, with a fixed environment (`${KEY}` and `${URL}` are set,
//! everything else is unset). Every error must name a place; a config that loads must load again
//! identically from the same text.

#![no_main]

use libfuzzer_sys::fuzz_target;

fn env(name: &str) -> Option<String> {
    match name {
        "KEY" => Some("sk-fuzz".to_owned()),
        "URL" => Some("http://127.0.0.1:9".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match sy_config::load(text, "fuzz.toml", &env) {
        Ok(config) => {
            let again = sy_config::load(text, "fuzz.toml", &env).expect("loads twice");
            assert_eq!(format!("{config:?}"), format!("{again:?}"));
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "an error without errors");
            assert!(!errors.to_string().is_empty());
        }
    }
});
