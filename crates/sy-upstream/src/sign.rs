//! Per-request authentication that depends on the request itself: AWS Signature Version 4
//! (Bedrock), computed with AWS's own `aws-sigv4` over the final method, URL, headers and body.
//! `aws-sigv4` logs its inputs at trace level, the access key id among them: the binary turns
//! its target off in every log filter (`switchyard::logging`).

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

/// A provider's AWS keys and the scope they sign for.
pub(crate) struct AwsKeys {
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    pub session_token: Option<SecretString>,
    pub region: String,
    pub service: &'static str,
}

impl AwsKeys {
    /// Signs `req` as it will be sent: adds `x-amz-date`, `authorization` and, with a session
    /// token, `x-amz-security-token` (all signed headers are the ones already on `req`).
    pub(crate) fn sign(&self, req: &mut reqwest::Request, now: SystemTime) -> Result<(), String> {
        let identity = Credentials::new(
            self.access_key_id.expose_secret(),
            self.secret_access_key.expose_secret(),
            self.session_token
                .as_ref()
                .map(|t| t.expose_secret().to_owned()),
            None,
            "switchyard-config",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| format!("cannot sign: {e}"))?
            .into();
        let body = req
            .body()
            .and_then(reqwest::Body::as_bytes)
            .unwrap_or_default();
        let headers: Vec<(&str, &str)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            req.url().as_str(),
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("cannot sign: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("cannot sign: {e}"))?
            .into_parts();
        let (headers, _query) = instructions.into_parts();
        for h in headers {
            let mut value = HeaderValue::from_str(h.value())
                .map_err(|_| "cannot sign: a header value that is not text".to_owned())?;
            value.set_sensitive(h.sensitive() || h.name() == "authorization");
            req.headers_mut()
                .insert(HeaderName::from_static(h.name()), value);
        }
        Ok(())
    }
}
