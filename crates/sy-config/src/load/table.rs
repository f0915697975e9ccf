//! Typed, located reads from one TOML table. Every getter reports its own errors (wrong
//! type, out of range, unset `${VAR}`) and returns `None` for a value it rejected, so
//! callers just carry on and the walk finds every problem in one pass.

use std::ops::Range;

use toml_edit::{Item, Key, TableLike, Value};

use super::{interp, Cx};

pub(crate) type Span = Option<Range<usize>>;

/// A value and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

/// Whether an absent key is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Required,
    Optional,
}

/// One table (a `[header]` table, a dotted-key table, an inline table or one element of
/// an array of tables) with its dotted path.
pub(crate) struct Section<'t> {
    pub path: String,
    table: &'t dyn TableLike,
    /// Where errors about the table as a whole (a missing key) point: its header, or the
    /// key that introduced it.
    anchor: Span,
}

impl<'t> Section<'t> {
    /// Wraps `table` and reports each key not in `known` at that key.
    pub(crate) fn new(
        cx: &mut Cx<'_>,
        path: String,
        table: &'t dyn TableLike,
        anchor: Span,
        known: &[&str],
    ) -> Self {
        let section = Self {
            path,
            table,
            anchor,
        };
        for (name, item) in table.iter() {
            if !known.contains(&name) {
                let span = table.key(name).and_then(Key::span).or_else(|| item.span());
                let message = format!("unknown key; expected one of: {}", known.join(", "));
                cx.error(
                    span.or_else(|| section.anchor.clone()),
                    &section.key(name),
                    message,
                );
            }
        }
        section
    }

    /// Dotted path of a key of this table.
    pub(crate) fn key(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    pub(crate) fn anchor(&self) -> Span {
        self.anchor.clone()
    }

    /// The item under `name` and the best span for it: the value, else its key (a
    /// dotted-key table has no span of its own), else this table.
    fn get(&self, name: &str) -> Option<(&'t Item, Span)> {
        let (key, item) = self.table.get_key_value(name)?;
        let span = item
            .span()
            .or_else(|| key.span())
            .or_else(|| self.anchor.clone());
        Some((item, span))
    }

    /// Reports a missing required key (at the table) and returns `None` either way.
    fn absent<T>(&self, cx: &mut Cx<'_>, name: &str, need: Need) -> Option<T> {
        if need == Need::Required {
            cx.error(self.anchor.clone(), &self.key(name), "missing required key");
        }
        None
    }

    fn wrong_type<T>(
        &self,
        cx: &mut Cx<'_>,
        name: &str,
        span: Span,
        want: &str,
        got: &Item,
    ) -> Option<T> {
        cx.error(
            span,
            &self.key(name),
            format!("expected {want}, found {}", kind(got)),
        );
        None
    }

    pub(crate) fn present(&self, name: &str) -> bool {
        self.table.get(name).is_some()
    }

    /// Where the value of `name` was written, else where this table was.
    pub(crate) fn span_of(&self, name: &str) -> Span {
        self.get(name)
            .map_or_else(|| self.anchor.clone(), |(_, span)| span)
    }

    /// A string with `${VAR}`s expanded.
    pub(crate) fn string(
        &self,
        cx: &mut Cx<'_>,
        name: &str,
        need: Need,
    ) -> Option<Spanned<String>> {
        let Some((item, span)) = self.get(name) else {
            return self.absent(cx, name, need);
        };
        let Some(raw) = item.as_str() else {
            return self.wrong_type(cx, name, span, "a string", item);
        };
        let value = expand(cx, &self.key(name), raw, &span)?;
        Some(Spanned { value, span })
    }

    /// An integer `>= 1` and `<= max`.
    pub(crate) fn positive_int(
        &self,
        cx: &mut Cx<'_>,
        name: &str,
        need: Need,
        max: u64,
    ) -> Option<Spanned<u64>> {
        let Some((item, span)) = self.get(name) else {
            return self.absent(cx, name, need);
        };
        let Some(n) = item.as_integer() else {
            return self.wrong_type(cx, name, span, "a positive integer", item);
        };
        match u64::try_from(n) {
            Ok(v) if v >= 1 && v <= max => Some(Spanned { value: v, span }),
            Ok(v) if v >= 1 => {
                cx.error(
                    span,
                    &self.key(name),
                    format!("must be at most {max}, got {v}"),
                );
                None
            }
            _ => {
                cx.error(
                    span,
                    &self.key(name),
                    format!("must be a positive integer, got {n}"),
                );
                None
            }
        }
    }

    /// A number (integer or float), finite, within `bounds`.
    pub(crate) fn number(
        &self,
        cx: &mut Cx<'_>,
        name: &str,
        need: Need,
        bounds: Bounds,
    ) -> Option<Spanned<f64>> {
        let Some((item, span)) = self.get(name) else {
            return self.absent(cx, name, need);
        };
        #[allow(clippy::cast_precision_loss)] // integers this large are out of range anyway
        let n = match item.as_value() {
            Some(Value::Integer(i)) => *i.value() as f64,
            Some(Value::Float(f)) => *f.value(),
            _ => return self.wrong_type(cx, name, span, "a number", item),
        };
        let key = self.key(name);
        if !n.is_finite() {
            cx.error(span, &key, format!("must be a finite number, got {n}"));
            return None;
        }
        let low_ok = if bounds.min_exclusive {
            n > bounds.min
        } else {
            n >= bounds.min
        };
        if !low_ok {
            let op = if bounds.min_exclusive { ">" } else { ">=" };
            cx.error(span, &key, format!("must be {op} {}, got {n}", bounds.min));
            return None;
        }
        if n > bounds.max {
            cx.error(
                span,
                &key,
                format!("must be at most {}, got {n}", bounds.max),
            );
            return None;
        }
        Some(Spanned { value: n, span })
    }

    pub(crate) fn bool(&self, cx: &mut Cx<'_>, name: &str) -> Option<bool> {
        let (item, span) = self.get(name)?;
        match item.as_bool() {
            Some(b) => Some(b),
            None => self.wrong_type(cx, name, span, "a boolean (true or false)", item),
        }
    }

    /// An array of strings, each expanded and paired with its dotted key (`fallbacks[1]`);
    /// elements in error are reported and left out.
    pub(crate) fn strings(
        &self,
        cx: &mut Cx<'_>,
        name: &str,
    ) -> Option<Vec<(String, Spanned<String>)>> {
        let (item, span) = self.get(name)?;
        let Some(array) = item.as_array() else {
            return self.wrong_type(cx, name, span, "an array of strings", item);
        };
        let mut out = Vec::with_capacity(array.len());
        for (i, v) in array.iter().enumerate() {
            let key = format!("{}[{i}]", self.key(name));
            let vspan = v.span().or_else(|| span.clone());
            match v.as_str() {
                Some(raw) => {
                    if let Some(value) = expand(cx, &key, raw, &vspan) {
                        out.push((key, Spanned { value, span: vspan }));
                    }
                }
                None => cx.error(
                    vspan,
                    &key,
                    format!("expected a string, found {}", v.type_name()),
                ),
            }
        }
        Some(out)
    }

    /// A sub-table (header, dotted or inline) whose keys are free-form, e.g. `headers`.
    pub(crate) fn map(&self, cx: &mut Cx<'_>, name: &str) -> Option<Section<'t>> {
        let (item, span) = self.get(name)?;
        match item.as_table_like() {
            Some(table) => Some(Section {
                path: self.key(name),
                table,
                anchor: span,
            }),
            None => self.wrong_type(cx, name, span, "a table", item),
        }
    }

    /// A sub-table whose keys must be in `known`.
    pub(crate) fn table(&self, cx: &mut Cx<'_>, name: &str, known: &[&str]) -> Option<Section<'t>> {
        let (item, span) = self.get(name)?;
        match item.as_table_like() {
            Some(table) => Some(Section::new(cx, self.key(name), table, span, known)),
            None => self.wrong_type(cx, name, span, "a table", item),
        }
    }

    /// An array of tables (`[[name]]` or `name = [{...}, ...]`), each element checked
    /// against `known`. An element that is not a table is reported and skipped.
    pub(crate) fn tables(
        &self,
        cx: &mut Cx<'_>,
        name: &str,
        known: &[&str],
    ) -> Option<Vec<Section<'t>>> {
        let (item, span) = self.get(name)?;
        let elements: Vec<(Option<&'t dyn TableLike>, Span, &'static str)> = match item {
            Item::ArrayOfTables(aot) => aot
                .iter()
                .map(|t| (Some(t as &dyn TableLike), t.span(), "table"))
                .collect(),
            Item::Value(Value::Array(array)) => array
                .iter()
                .map(|v| {
                    (
                        v.as_inline_table().map(|t| t as &dyn TableLike),
                        v.span(),
                        v.type_name(),
                    )
                })
                .collect(),
            _ => return self.wrong_type(cx, name, span, "an array of tables", item),
        };
        let mut out = Vec::with_capacity(elements.len());
        for (i, (table, espan, type_name)) in elements.into_iter().enumerate() {
            let path = format!("{}[{i}]", self.key(name));
            let espan = espan.or_else(|| span.clone());
            match table {
                Some(table) => out.push(Section::new(cx, path, table, espan, known)),
                None => cx.error(espan, &path, format!("expected a table, found {type_name}")),
            }
        }
        Some(out)
    }

    /// Each entry of a free-form table as `(name, name span, item, item span)`.
    pub(crate) fn entries(&self) -> Vec<(&'t str, Span, &'t Item, Span)> {
        self.table
            .iter()
            .map(|(name, item)| {
                let kspan = self
                    .table
                    .key(name)
                    .and_then(Key::span)
                    .or_else(|| self.anchor.clone());
                let ispan = item.span().or_else(|| kspan.clone());
                (name, kspan, item, ispan)
            })
            .collect()
    }
}

/// Lower and upper bounds of a numeric setting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub min: f64,
    /// Whether `min` itself is refused (a zero timeout) or allowed (a zero price).
    pub min_exclusive: bool,
    pub max: f64,
}

/// Expands `${VAR}`s in a string read at `span`, reporting each problem there.
pub(crate) fn expand(cx: &mut Cx<'_>, key: &str, raw: &str, span: &Span) -> Option<String> {
    match interp::expand(raw, cx.env()) {
        Ok(s) => Some(s),
        Err(problems) => {
            for p in problems {
                cx.error(span.clone(), key, p);
            }
            None
        }
    }
}

/// The TOML kind of an item, for "expected X, found Y".
pub(crate) fn kind(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Value(v) => v.type_name(),
        Item::Table(_) => "table",
        Item::ArrayOfTables(_) => "array of tables",
    }
}
