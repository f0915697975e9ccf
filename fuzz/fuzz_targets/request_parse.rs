//! Request parsing and validation on arbitrary bytes; a request that passes is encoded for both
//! wire protocols and its prompt estimated, as the request path does.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sy_config::Api;

fuzz_target!(|data: &[u8]| {
    match sy_api::parse_chat_request(data) {
        Err(e) => {
            assert_eq!(e.status, 400, "a parse error that is not a 400: {e:?}");
            assert!(!e.message.is_empty());
            let body: Value = serde_json::from_slice(&e.to_json()).expect("error body is JSON");
            assert_eq!(body["error"]["code"], 400);
        }
        Ok(req) => {
            assert!(
                !req.model_ids().is_empty(),
                "a request without a model passed"
            );
            assert!(
                !req.messages().is_empty(),
                "a request without messages passed"
            );
            let _ = sy_providers::estimate_prompt_tokens(req.messages(), req.body.get("tools"));
            for api in [Api::OpenAi, Api::Anthropic] {
                for prefill in [None, Some("Partial answer ")] {
                    if let Ok(enc) = sy_providers::encode(api, &req, "m", prefill, Some(1024)) {
                        let v: Value =
                            serde_json::from_slice(&enc.body).expect("encoded body is JSON");
                        assert!(v.is_object());
                    }
                }
            }
        }
    }
});
