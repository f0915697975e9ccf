//! The simulated Vertex AI's service account: a fixed RSA key pair made for the simulation
//! (a test value, public by design: it signs nothing outside this mock). The gateway and the
//! SDK tests sign their JWT assertions with the private key of the JSON [`service_account_json`]
//! writes; the mock's token endpoint verifies them with the public key.

/// The service account's email (`client_email`, the assertion's `iss`).
pub const MOCK_SA_EMAIL: &str = "switchyard-mock@mock-project.iam.gserviceaccount.com";

/// The private key's id (`private_key_id`, the assertion's `kid`).
pub const MOCK_SA_KEY_ID: &str = "mock-key-1";

pub(crate) const PRIVATE_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCwGlHWdiDjosUR\nV+YWCXybG/S4kFopF73vZJ8z6TzBNBlfZTFQbtkCjavNeyWbSwT+3PgVZjbempN7\n970rnwM9apRIdwpCK05DF6Yn3noJdYt64cQzD99fzxcjPWQB3WRMkamnmtBf1aqS\njLFIJwBzzwKRLr5KnWb9zXyf29UeLNAdfsQFc57/OXmf3tPfg19B0UWr3WmoLLtN\nDE6gy271buaYaBlcmYTZR4rwBbHkttcpCm7h4XimRL5MO8E6JOwIQqkMSiuizT/3\nFHTsSshrTUm/mhO5kffuyXt0VLyNAeQbawsCLJLDNM714hbOXbBe6H9uLCTwdlod\nujCoaxcLAgMBAAECggEAF6p8fl0YWmnQy13hVpYmdWndChiheo2YQYhnj2sJdnrG\nliKxQo/tq1bX/yCiPdZnxiByrogyri5ed6B5fwKQRZFXJXiUm66E2/tc9wACV9cW\nIYjJpzBmN9KgLLo0AGl88H/61BgNZ3OoHVMPAr/1uEUvoSHZAjSuV0QQOs4o5oms\naJ5RmrHe/VpPXNctPLBSfo8D68kQeexrPASPrB8LaqEXyPsC+snFW/nJDW3mLX2e\n/DYgQJMXNmSjPups/U0VXMIHskI+h8/LLe0bTVoMriRe+/DyX/qxAp2x1u45U+9d\nFwg1d3XJuXoFXW+iB5R9gLih2a3CCyAqVOgFe0oYsQKBgQDuTGDAjEdejK6j0mKx\n77kCFGK2jQeyp9jVf+KilLcuz97JXTTH6vlWxN8iAG5Dsp8YnQ+/NbVz9yIcW9iN\nIRL+9lBYVTPrg83SuXPNun4vvM0MKdCPmg1fz8UoU6FQIbYrm9NoBj4IOu7lbBaC\nfRk/s/Mi0QFQdM3OLQ4c926LvwKBgQC9LzHUoItd+3x0lvCrGLqsHcnzPdlyeNnX\nkL+vPnqx7FhLSkXJTSKHtZkJo64w/7xYRpMPSBXbNhYp7QtxuizDrwpjgNSxHIIL\nAOOlKnlPStliacg/Uw0e6fCknNBT4dkwAlXVpbPycCLBgAngB6y9GOxpeMSP5hM8\ntkHbINP3tQKBgAWIvI58M4QcnEmtryEWwiMsOganS9B4WW7L44WHEqIBrdjbU0h5\nSoUbWVs+y1DDKzK1IxJ7utUQnjguYd8VL43ARqlmgSgtDXChYfEbLacKKXDo37EW\nEM1y089V8d8ciVCF8+jsjDBAvh+R3Qv2v8lc8n6SgAdQTx9EqJk/nc+dAoGARurF\nHDaeZ7mZGr9mMk0P1OtJw9PgimfBCWyqXk/mgIHfS0HpTR+MHSE24AUqjBWhjdnO\n0MCt6MGqp0bDrnsiwqwAEfK+SDIukV9g9o4ocU/Wk2yh8xL37Sm22o4qDfewia2m\nbXMzNGNStASCLyfRWgVYweTSkjql5XFQ2IrCyq0CgYAG9rnrGSxRWRkJMjPQwJqM\n8oOHS0l62kA/sOXzdfXhlSOqbs2d7tVk/FuDQ60L7VvVlG3aZlGMLcz79CJCfVV2\n6REmDbDAd1hqMmO1XK59uaphG60cBkTw6pkgSildTFdyOR9br+bGjf25/TngtAcR\nOaav7yMH14NDEW/lak6Fxw==\n-----END PRIVATE KEY-----\n";

pub(crate) const PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsBpR1nYg46LFEVfmFgl8\nmxv0uJBaKRe972SfM+k8wTQZX2UxUG7ZAo2rzXslm0sE/tz4FWY23pqTe/e9K58D\nPWqUSHcKQitOQxemJ956CXWLeuHEMw/fX88XIz1kAd1kTJGpp5rQX9WqkoyxSCcA\nc88CkS6+Sp1m/c18n9vVHizQHX7EBXOe/zl5n97T34NfQdFFq91pqCy7TQxOoMtu\n9W7mmGgZXJmE2UeK8AWx5LbXKQpu4eF4pkS+TDvBOiTsCEKpDEoros0/9xR07ErI\na01Jv5oTuZH37sl7dFS8jQHkG2sLAiySwzTO9eIWzl2wXuh/biwk8HZaHbowqGsX\nCwIDAQAB\n-----END PUBLIC KEY-----\n";

/// A service-account JSON file's content whose `token_uri` is the simulation's token endpoint
/// (`{mock}/token`), as Google's console writes them.
#[must_use]
pub fn service_account_json(token_uri: &str) -> String {
    serde_json::json!({
        "type": "service_account",
        "project_id": "mock-project",
        "private_key_id": MOCK_SA_KEY_ID,
        "private_key": PRIVATE_KEY_PEM,
        "client_email": MOCK_SA_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
    })
    .to_string()
}
