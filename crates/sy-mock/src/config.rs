//! The mock's TOML configuration: where to listen and which providers exist.
//!
//! ```toml
//! listen = "127.0.0.1:9100"      # optional; `--listen` overrides it
//!
//! [[providers]]
//! name = "fast"                  # [A-Za-z0-9_.-]+, unique
//! ttft_ms = 80                   # behaviour keys, flattened ...
//! tokens_per_s = 120
//!
//! [[providers]]
//! name = "broken"
//! [providers.behaviour]          # ... or in their own table (not both)
//! status = 503
//! retry_after = 2
//! ```

use serde::Deserialize;

use crate::behaviour::Behaviour;

/// The whole mock configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {
    /// Address to listen on, e.g. `127.0.0.1:9100`.
    #[serde(default)]
    pub listen: Option<String>,
    /// The providers known at start; others are created on first use.
    #[serde(default)]
    pub providers: Vec<MockProvider>,
}

/// One simulated provider, served under `/p/{name}/v1`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(try_from = "RawProvider")]
pub struct MockProvider {
    /// Path segment and display name.
    pub name: String,
    /// What it does.
    pub behaviour: Behaviour,
}

/// A provider as written: behaviour keys either beside `name` or under
/// `behaviour`. (`flatten` and `deny_unknown_fields` do not mix in serde, so
/// the flattened keys are collected and checked by `Behaviour` itself.)
#[derive(Deserialize)]
struct RawProvider {
    name: String,
    #[serde(default)]
    behaviour: Option<Behaviour>,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

impl TryFrom<RawProvider> for MockProvider {
    type Error = String;

    fn try_from(raw: RawProvider) -> Result<Self, String> {
        let behaviour = match (raw.behaviour, raw.rest.is_empty()) {
            (Some(b), true) => b,
            (None, _) => serde_json::from_value(serde_json::Value::Object(raw.rest))
                .map_err(|e| format!("provider {:?}: {e}", raw.name))?,
            (Some(_), false) => {
                return Err(format!(
                    "provider {:?}: behaviour keys go either beside `name` or in \
                     [providers.behaviour], not both",
                    raw.name
                ))
            }
        };
        Ok(Self {
            name: raw.name,
            behaviour,
        })
    }
}

/// Whether `name` can be a provider name (one URL path segment).
#[must_use]
pub fn valid_provider_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl MockConfig {
    /// Parses and validates a TOML configuration.
    ///
    /// # Errors
    /// A TOML syntax or type error (with its line), or every validation
    /// problem, one per line.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let config: Self = toml_edit::de::from_str(text).map_err(|e| e.to_string())?;
        config.validate()?;
        Ok(config)
    }

    /// Checks names, the listen address and every behaviour.
    ///
    /// # Errors
    /// Every problem found, one per line.
    pub fn validate(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        if let Some(listen) = &self.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                errors.push(format!(
                    "listen: {listen:?} is not an address like 127.0.0.1:9100"
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            if !valid_provider_name(&p.name) {
                errors.push(format!(
                    "providers[{i}].name: {:?} must be 1-64 characters of A-Z a-z 0-9 _ . -",
                    p.name
                ));
            }
            if !seen.insert(p.name.as_str()) {
                errors.push(format!(
                    "providers[{i}].name: {:?} is defined twice",
                    p.name
                ));
            }
            if let Err(problems) = p.behaviour.validate() {
                errors.extend(
                    problems
                        .into_iter()
                        .map(|e| format!("providers[{i}] ({}): {e}", p.name)),
                );
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattened_and_table_forms_parse_alike() {
        let config = MockConfig::from_toml(
            r#"
            listen = "127.0.0.1:0"
            [[providers]]
            name = "fast"
            ttft_ms = 80
            tokens_per_s = 120

            [[providers]]
            name = "broken"
            [providers.behaviour]
            status = 503
            fail_rate = 0.5
            "#,
        )
        .unwrap();
        assert_eq!(config.listen.as_deref(), Some("127.0.0.1:0"));
        assert_eq!(config.providers[0].behaviour.ttft_ms, 80);
        assert!((config.providers[0].behaviour.tokens_per_s - 120.0).abs() < f64::EPSILON);
        assert_eq!(config.providers[1].behaviour.status, Some(503));
        assert_eq!(config.providers[1].behaviour.fail_rate, Some(0.5));
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            (
                "[[providers]]\nname = \"a\"\nttft = 3\n",
                "unknown field `ttft`",
            ),
            ("[[providers]]\nname = \"a b\"\n", "must be 1-64 characters"),
            (
                "[[providers]]\nname = \"a\"\n[[providers]]\nname = \"a\"\n",
                "defined twice",
            ),
            (
                "[[providers]]\nname = \"a\"\nfail_rate = 2.0\n",
                "fail_rate",
            ),
            ("port = 3\n", "unknown field `port`"),
            ("listen = \"nowhere\"\n", "listen"),
            (
                "[[providers]]\nname = \"a\"\nttft_ms = 1\n[providers.behaviour]\necho = true\n",
                "not both",
            ),
        ];
        for (text, expected) in cases {
            let err = MockConfig::from_toml(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_demo_config_is_valid() {
        let config = MockConfig::from_toml(crate::DEMO_MOCK_TOML).unwrap();
        let names: Vec<_> = config.providers.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "swiftcloud",
                "budgetgpu",
                "steadyai",
                "flakyhost",
                "anthropic",
                "bedrock",
                "vertex"
            ]
        );
        assert!(config.providers.iter().all(|p| p.behaviour.text.is_some()));
    }
}
