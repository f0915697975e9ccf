//! An embeddings request (SPEC §4.8) as the gateway carries it: the routing fields, the inputs
//! and the output format; the body as sent for same-family upstreams.

use serde_json::{Map, Value};

use crate::Routing;

/// One input: a text, or tokens already encoded.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbedInput {
    Text(String),
    Tokens(Vec<u64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Float,
    Base64,
}

/// A validated embeddings request.
#[derive(Debug, Clone)]
pub struct EmbedRequest {
    pub routing: Routing,
    pub inputs: Vec<EmbedInput>,
    pub encoding: Encoding,
    pub dimensions: Option<u64>,
    pub user: Option<String>,
    /// The body without the routing fields, for same-family upstreams.
    pub body: Map<String, Value>,
}

impl EmbedRequest {
    /// The inputs' text, for token estimates (token arrays count as their length).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for i in &self.inputs {
            if let EmbedInput::Text(t) = i {
                out.push_str(t);
                out.push('\n');
            }
        }
        out
    }

    /// Tokens already given as token arrays.
    pub fn given_tokens(&self) -> u64 {
        self.inputs
            .iter()
            .map(|i| match i {
                EmbedInput::Tokens(t) => t.len() as u64,
                EmbedInput::Text(_) => 0,
            })
            .sum()
    }
}
