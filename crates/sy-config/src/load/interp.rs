//! `${VAR}` interpolation, applied to every string value of the file. `$${` stands for a
//! literal `${`, so a value that needs those two characters can still be written.

/// Expands `raw`, or lists every problem in it (each unset variable, a malformed
/// reference), so one value with two unset variables yields two errors.
pub(crate) fn expand(
    raw: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Vec<String>> {
    let mut out = String::with_capacity(raw.len());
    let mut problems = Vec::new();
    let mut rest = raw;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let at = &rest[i..];
        if let Some(after) = at.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = at.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                problems.push("unterminated `${`: missing `}`".to_owned());
                rest = "";
                break;
            };
            let name = &after[..end];
            if !is_var_name(name) {
                problems.push(format!(
                    "`${{{name}}}` is not a valid environment variable name"
                ));
            } else if let Some(value) = env(name) {
                out.push_str(&value);
            } else {
                problems.push(format!("environment variable {name} is not set"));
            }
            rest = &after[end + 1..];
        } else {
            // A lone `$` (a price in a header, `$HOME`) is kept as written.
            out.push('$');
            rest = &at[1..];
        }
    }
    out.push_str(rest);
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// POSIX-ish: a letter or `_`, then letters, digits or `_`.
fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
