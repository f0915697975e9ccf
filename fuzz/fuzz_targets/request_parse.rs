//! Request parsing and validation on arbitrary bytes, in every dialect; a request that passes
//! is encoded for every wire protocol (fresh and resuming) and its prompt estimated, as the
//! request path does.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sy_dialects::Dialect;
use sy_providers::Continue;

fuzz_target!(|data: &[u8]| {
    let dialects: [&dyn Dialect; 3] = [
        &sy_dialects::Chat,
        &sy_dialects::Messages,
        &sy_dialects::Responses,
    ];
    for dialect in dialects {
        match dialect.parse(data, &[]) {
            Err(e) => {
                assert!(
                    (400..500).contains(&e.status),
                    "a parse error that is not a 4xx: {e:?}"
                );
                assert!(!e.message.is_empty());
                let body: Value =
                    serde_json::from_slice(&dialect.error_body(&e)).expect("error body is JSON");
                assert!(body.is_object());
            }
            Ok(req) => {
                assert!(
                    !req.routing.model_ids().is_empty(),
                    "a request without a model passed"
                );
                let _ = sy_providers::estimate_prompt_tokens(&req.conv);
                for api in switchyard_fuzz::APIS {
                    let prov = switchyard_fuzz::provider(api);
                    let target = switchyard_fuzz::target(&prov);
                    let protocol = sy_providers::protocol(api);
                    for cont in [
                        Continue::Fresh,
                        Continue::Prefill("Partial answer "),
                        Continue::Regenerate,
                    ] {
                        if let Ok(call) = protocol.encode(&req, &target, cont) {
                            let v: Value =
                                serde_json::from_slice(&call.body).expect("encoded body is JSON");
                            assert!(v.is_object());
                        }
                    }
                }
            }
        }
    }
});
