//! `load`: TOML text → validated [`Config`], reporting every error rather than the first.
//!
//! Two stages, raw then validated: `toml_edit` keeps byte spans for every key and
//! value, then a hand-written walk checks types, ranges and cross references, turning
//! each span into a line and column. A hand walk rather than serde because serde stops
//! at the first error and forgets where a value came from.

mod catalog;
mod interp;
mod sections;
mod table;
#[cfg(test)]
mod tests;

use std::ops::Range;

use toml_edit::ImDocument;

use crate::error::{ConfigError, LoadErrors};
use crate::model::Config;
use table::Section;

/// The environment lookup `load` uses for `${VAR}`.
pub(crate) type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses and validates `text`; `file` is only used to label errors.
///
/// # Errors
///
/// Every problem found, each with its location and dotted key: a TOML syntax error
/// (alone, since nothing after it can be trusted), unknown keys, wrong types, values
/// out of range, duplicate names, references to undefined providers or models, and
/// unset `${VAR}`s.
pub fn load(
    text: &str,
    file: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, LoadErrors> {
    let mut cx = Cx {
        text,
        file,
        env,
        errors: Vec::new(),
    };
    let doc = match ImDocument::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            // toml_edit's messages span several lines ("invalid key\nexpected ..."); one
            // line per error keeps `check`'s output greppable.
            let message = e
                .message()
                .trim()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join("; ");
            cx.error(e.span(), "", message);
            return Err(LoadErrors(cx.errors));
        }
    };
    let root = Section::new(
        &mut cx,
        String::new(),
        doc.as_table(),
        Some(0..0),
        TOP_LEVEL,
    );
    let config = walk(&mut cx, &root);
    let mut errors = cx.errors;
    if errors.is_empty() {
        return Ok(config);
    }
    // The walk visits providers before models whatever their order in the file; the
    // reader wants file order. The sort is stable, so errors at one spot keep the order
    // they were found in.
    errors.sort_by_key(|e| (e.line, e.column));
    Err(LoadErrors(errors))
}

const TOP_LEVEL: &[&str] = &[
    "server",
    "auth",
    "storage",
    "cluster",
    "routing",
    "providers",
    "models",
];

/// Builds the config, substituting defaults for rejected values: whatever it returns is
/// thrown away when an error was recorded, so it never has to stop early.
fn walk(cx: &mut Cx<'_>, root: &Section<'_>) -> Config {
    let server = sections::server(cx, root);
    let auth = sections::auth(cx, root);
    let storage = sections::storage(cx, root);
    let cluster = sections::cluster(cx, root);
    let routing = sections::routing(cx, root);
    let (providers, apis) = catalog::providers(cx, root);
    let models = catalog::models(cx, root, &apis);
    Config {
        server,
        auth,
        storage,
        cluster,
        routing,
        providers,
        models,
        demo: false,
    }
}

/// The walk's shared state: the source (to turn spans into positions), the env lookup,
/// and the errors found so far.
pub(crate) struct Cx<'a> {
    text: &'a str,
    file: &'a str,
    env: Env<'a>,
    errors: Vec<ConfigError>,
}

impl Cx<'_> {
    pub(crate) fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        message: impl Into<String>,
    ) {
        let (line, column) = position(self.text, span.map_or(0, |s| s.start));
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            key: key.to_owned(),
            message: message.into(),
        });
    }

    pub(crate) fn env(&self) -> Env<'_> {
        self.env
    }

    /// Line of a span, for messages such as "first defined at line 3".
    pub(crate) fn line_of(&self, span: Option<&Range<usize>>) -> usize {
        position(self.text, span.map_or(0, |s| s.start)).0
    }
}

/// 1-based line and column (in characters) of a byte offset; an offset past the end or
/// inside a character is clamped, so a wrong span can mislocate but never panic.
fn position(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..offset].chars().count() + 1;
    (line, column)
}
