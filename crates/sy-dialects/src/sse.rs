//! Writing Server-Sent Events, and rewriting a passed-through JSON object's top-level members
//! without decoding the rest of it (the per-chunk cost of pass-through).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::Serialize;
use serde_json::value::RawValue;

/// `data: {json}\n\n`.
pub fn data<T: Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(&mut *out, v).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// `event: name\ndata: {json}\n\n`.
pub fn named<T: Serialize + ?Sized>(name: &str, v: &T, out: &mut Vec<u8>) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    data(v, out);
}

/// An event as an upstream sent it: its name, and its data line by line.
pub fn raw(name: Option<&str>, data: &str, out: &mut Vec<u8>) {
    if let Some(n) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(n.as_bytes());
        out.push(b'\n');
    }
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// `data: [DONE]\n\n`.
pub fn done(out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: [DONE]\n\n");
}

/// A JSON object's top-level members, each value left as its raw text.
pub struct Members<'a>(pub Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Members<'a>, M::Error> {
                let mut out = Vec::with_capacity(m.size_hint().unwrap_or(8));
                while let Some((k, v)) = m.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'a> Members<'a> {
    pub fn parse(json: &'a str) -> Option<Members<'a>> {
        serde_json::from_str(json).ok()
    }

    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// Writes the object with `set` first (replacing members of the same name) and the other
    /// members as they were, minus `drop`.
    pub fn write(&self, set: &[(&str, &dyn Erased)], drop: &[&str], out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        for (k, v) in set {
            if !first {
                out.push(b',');
            }
            first = false;
            key(k, out);
            v.write(out);
        }
        for (k, v) in &self.0 {
            if set.iter().any(|(s, _)| s == k) || drop.contains(&k.as_ref()) {
                continue;
            }
            if !first {
                out.push(b',');
            }
            first = false;
            key(k, out);
            out.extend_from_slice(v.get().as_bytes());
        }
        out.push(b'}');
    }
}

fn key(k: &str, out: &mut Vec<u8>) {
    if serde_json::to_writer(&mut *out, k).is_err() {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b':');
}

/// A value to write into a rewritten object.
pub trait Erased {
    fn write(&self, out: &mut Vec<u8>);
}

impl<T: Serialize> Erased for T {
    fn write(&self, out: &mut Vec<u8>) {
        if serde_json::to_writer(&mut *out, self).is_err() {
            out.extend_from_slice(b"null");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_the_rest_verbatim() {
        let src = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"content":"hé \"q\""}}],"usage":null,"x":{"a":[1,2]}}"#;
        let m = Members::parse(src).unwrap();
        let mut out = Vec::new();
        m.write(
            &[("id", &"gen-1"), ("model", &"a/b"), ("provider", &"p")],
            &["usage"],
            &mut out,
        );
        let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            got,
            serde_json::json!({"id":"gen-1","model":"a/b","provider":"p","object":"chat.completion.chunk",
                "choices":[{"index":0,"delta":{"content":"hé \"q\""}}],"x":{"a":[1,2]}})
        );
        assert!(Members::parse("[1]").is_none());
    }
}
