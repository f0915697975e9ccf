//! Upstream messages may echo the gateway's own credentials ("Incorrect API key provided:
//! sk-..."): they are scrubbed before they reach a log, a metric or a client (SPEC §4.5).

/// Replaces every occurrence of `secrets` and anything shaped like an API key (`sk-…`, `sk_…`,
/// `key-…` with 8+ more characters) with `[REDACTED]`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if s.len() >= 6 && out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "[REDACTED]");
        }
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            .unwrap_or(rest.len());
        result.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest
            .find(|c: char| {
                !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '*' || c == '.')
            })
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let lower = word.to_ascii_lowercase();
        let keyish = ["sk-", "sk_", "key-", "rk-", "pk-"]
            .iter()
            .any(|p| lower.starts_with(p) && word.len() >= p.len() + 8);
        result.push_str(if keyish { "[REDACTED]" } else { word });
        rest = &rest[end..];
    }
    result
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn scrubs_keys() {
        let secrets = vec!["my-very-secret".to_owned()];
        assert_eq!(
            redact(
                "Incorrect API key provided: sk-alpha-TOPSECRET-91827364.",
                &[]
            ),
            "Incorrect API key provided: [REDACTED]"
        );
        assert_eq!(
            redact("bad key my-very-secret here", &secrets),
            "bad key [REDACTED] here"
        );
        assert_eq!(redact("sk-proj-****abcd", &[]), "[REDACTED]");
        assert_eq!(
            redact("the sky is blue, skip it", &[]),
            "the sky is blue, skip it"
        );
    }
}
