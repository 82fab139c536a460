//! Kestra writes templates in Pebble; Aerie renders them with minijinja,
//! whose syntax is Jinja's. The two agree on almost everything; this turns
//! the Pebble-only operators Kestra's flows use into their Jinja spelling,
//! for the validator and the renderer alike:
//!
//! - `c ? a : b` (ternary) becomes `(a if c else b)`;
//! - `a ?? b` (null-coalescing) becomes `(a if a is defined and a is not none else b)`;
//! - `a equals b` becomes `a == b`;
//! - `null` becomes `none`.
//!
//! Only expressions are touched (`{{ ... }}`, `{% if ... %}`, `{% elif
//! ... %}`, `{% set ... %}`), never text or string literals.

use std::borrow::Cow;

/// `template` with Pebble's operators spelled as Jinja's.
pub fn translate(template: &str) -> Cow<'_, str> {
    if !(template.contains('?') || template.contains("equals") || template.contains("null")) {
        return Cow::Borrowed(template);
    }
    let mut out = String::with_capacity(template.len() + 16);
    for piece in pieces(template) {
        match piece {
            Piece::Text(text) => out.push_str(text),
            Piece::Expression(body) => {
                let (lead, inner, tail) = split_markers(body);
                out.push_str("{{");
                out.push_str(lead);
                out.push_str(&expression(inner, 0));
                out.push_str(tail);
                out.push_str("}}");
            }
            Piece::Statement(body) => {
                out.push_str("{%");
                out.push_str(&statement(body));
                out.push_str("%}");
            }
        }
    }
    Cow::Owned(out)
}

/// A template cut into text (comments and raw blocks included, as
/// written), expression bodies and statement bodies.
enum Piece<'a> {
    Text(&'a str),
    Expression(&'a str),
    Statement(&'a str),
}

fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let close = match rest[start..].get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            Some("{#") => "#}",
            _ => {
                pieces.push(Piece::Text(&rest[..start + 1]));
                rest = &rest[start + 1..];
                continue;
            }
        };
        pieces.push(Piece::Text(&rest[..start]));
        let body_start = start + 2;
        let found = match close {
            "#}" => rest[body_start..].find(close),
            _ => find_outside_strings(&rest[body_start..], close),
        };
        let Some(length) = found else {
            // Unclosed: left as written, for the parser to report.
            pieces.push(Piece::Text(&rest[start..]));
            return pieces;
        };
        let body = &rest[body_start..body_start + length];
        let end = body_start + length + 2;
        match close {
            "#}" => pieces.push(Piece::Text(&rest[start..end])),
            "}}" => pieces.push(Piece::Expression(body)),
            _ if is_raw(body) => {
                // `{% raw %}` ... `{% endraw %}` stays exactly as written.
                let after = &rest[end..];
                let stop = find_endraw(after).unwrap_or(after.len());
                pieces.push(Piece::Text(&rest[start..end + stop]));
                rest = &rest[end + stop..];
                continue;
            }
            _ => pieces.push(Piece::Statement(body)),
        }
        rest = &rest[end..];
    }
    pieces.push(Piece::Text(rest));
    pieces
}

fn is_raw(body: &str) -> bool {
    body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace()) == "raw"
}

/// Where the `{% endraw %}` closing a raw block ends.
fn find_endraw(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find("{%") {
        let start = from + at + 2;
        let close = text[start..].find("%}")?;
        if text[start..start + close]
            .trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace())
            == "endraw"
        {
            return Some(start + close + 2);
        }
        from = start;
    }
    None
}

/// An expression body's whitespace-control markers (`{{-`, `-}}`) apart
/// from the expression itself.
fn split_markers(body: &str) -> (&str, &str, &str) {
    let lead = if body.starts_with(['-', '+']) { 1 } else { 0 };
    let inner = &body[lead..];
    let (inner, tail) = match inner.strip_suffix(['-', '+']) {
        Some(before) => (before, &inner[before.len()..]),
        None => (inner, ""),
    };
    (&body[..lead], inner, tail)
}

/// A `{% ... %}` body: the expression of `if`, `elif` and `set` translated.
fn statement(body: &str) -> String {
    let trimmed = body.trim_start_matches('-').trim_start();
    for keyword in ["if ", "elif "] {
        if let Some(condition) = trimmed.strip_prefix(keyword) {
            let (condition, tail) = split_trim_marker(condition);
            let lead = &body[..body.len() - trimmed.len()];
            return format!("{lead}{keyword}{}{tail}", expression(condition, 0));
        }
    }
    if let Some(assignment) = trimmed.strip_prefix("set ")
        && let Some(equals) = find_outside_strings(assignment, "=")
    {
        let (value, tail) = split_trim_marker(&assignment[equals + 1..]);
        let lead = &body[..body.len() - trimmed.len()];
        return format!(
            "{lead}set {}={}{tail}",
            &assignment[..equals],
            expression(value, 0)
        );
    }
    body.to_owned()
}

/// Splits a trailing whitespace-control `-` off a statement body.
fn split_trim_marker(text: &str) -> (&str, &str) {
    let trimmed = text.trim_end();
    match trimmed.strip_suffix('-') {
        Some(before) => (before, &text[before.len()..]),
        None => (text, ""),
    }
}

/// How deep Pebble operators may nest in one expression: past it the
/// expression is left as written, and the template is refused as invalid
/// (each level is a recursion; templates are tenant input).
const MAX_DEPTH: usize = 32;

/// One expression, Pebble's operators rewritten (outermost first).
fn expression(text: &str, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return text.to_owned();
    }
    let depth = depth + 1;
    // Items of a list or arguments of a call are expressions each.
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(comma) = find_top_level(rest, |bytes, i| bytes[i] == b',') {
        parts.push(expression(&rest[..comma], depth));
        rest = &rest[comma + 1..];
    }
    if !parts.is_empty() {
        parts.push(expression(rest, depth));
        return parts.join(",");
    }
    let text = replace_word(text, "equals", "==");
    // Pebble's null literal is Jinja's none.
    let text = replace_word(&text, "null", "none");
    // The ternary binds loosest: `c ? a : b`, right-associative.
    if let Some(question) = find_top_level(&text, |bytes, i| {
        bytes[i] == b'?' && bytes.get(i + 1) != Some(&b'?') && (i == 0 || bytes[i - 1] != b'?')
    }) {
        let after = &text[question + 1..];
        if let Some(colon) = find_top_level(after, |bytes, i| bytes[i] == b':') {
            let condition = expression(&text[..question], depth);
            let then = expression(&after[..colon], depth);
            let otherwise = expression(&after[colon + 1..], depth);
            return format!(
                " ({} if {} else {}) ",
                then.trim(),
                condition.trim(),
                otherwise.trim()
            );
        }
    }
    if let Some(at) = find_top_level(&text, |bytes, i| {
        bytes[i] == b'?' && bytes.get(i + 1) == Some(&b'?')
    }) {
        let value = expression(&text[..at], depth);
        let fallback = expression(&text[at + 2..], depth);
        let value = value.trim();
        return format!(" ({} else ({})) ", guarded(value), fallback.trim());
    }
    within_groups(&text, depth)
}

/// `text` with the inside of each top-level bracketed group (`( ... )`,
/// `[ ... ]`, `{ ... }`) rewritten as an expression of its own, so that
/// `(a ?? b) == c` has its `??` rewritten too.
fn within_groups(text: &str, depth: usize) -> String {
    if !text.contains('?') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut quote, mut i, mut copied) = (None, 0, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if matches!(c, b'(' | b'[' | b'{') => {
                let inner = &text[i + 1..];
                let Some(close) = group_end(inner) else {
                    // Unclosed: the rest is left as written, for the parser
                    // to report (looking again from each later bracket
                    // would cost time quadratic in the length).
                    break;
                };
                out.push_str(&text[copied..=i]);
                out.push_str(&expression(&inner[..close], depth));
                i += close + 1;
                copied = i;
                continue;
            }
            None => {}
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// `value if <value is there>`: for a dotted path (`outputs.t.value`)
/// every step is tested in turn, so a missing parent falls back as in
/// Pebble instead of failing; other expressions are tested whole.
fn guarded(value: &str) -> String {
    let steps: Vec<&str> = value.split('.').collect();
    let simple = steps.iter().all(|step| {
        !step.is_empty() && step.bytes().all(is_word) && !step.as_bytes()[0].is_ascii_digit()
    });
    if !simple {
        return format!("({value}) if ({value}) is defined and ({value}) is not none");
    }
    let tests: Vec<String> = (1..=steps.len())
        .map(|n| format!("{} is defined", steps[..n].join(".")))
        .collect();
    format!("{value} if {} and {value} is not none", tests.join(" and "))
}

/// `word` as a whole word outside string literals replaced by `with`.
fn replace_word(text: &str, word: &str, with: &str) -> String {
    if !text.contains(word) {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut quote = None;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    out.push_str(&text[i..(i + 2).min(text.len())]);
                    i += 2;
                    continue;
                }
                if c == q {
                    quote = None;
                }
            }
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if text[i..].starts_with(word)
                && (i == 0 || !(is_word(bytes[i - 1]) || bytes[i - 1] == b'.'))
                && !bytes.get(i + word.len()).copied().is_some_and(is_word) =>
            {
                out.push_str(with);
                i += word.len();
                continue;
            }
            None => {}
        }
        let len = text[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&text[i..i + len]);
        i += len;
    }
    out
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The first position outside string literals and brackets where `hit`
/// holds.
fn find_top_level(text: &str, hit: impl Fn(&[u8], usize) -> bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut quote, mut i) = (0usize, None, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                // Before the brackets: a closing one at depth 0 may be
                // what is looked for (see `group_end`).
                _ if depth == 0 && hit(bytes, i) => return Some(i),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Where the group that `text` is the inside of closes: the first closing
/// bracket outside string literals and nested groups.
fn group_end(text: &str) -> Option<usize> {
    find_top_level(text, |bytes, i| matches!(bytes[i], b')' | b']' | b'}'))
}

/// Where `needle` first occurs outside string literals.
fn find_outside_strings(text: &str, needle: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut quote, mut i) = (None, 0);
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if text[i..].starts_with(needle) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// The filters a template may use: minijinja's built-in ones and Kestra's
/// JSON filters that Aerie adds.
pub const FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "jq",
    "json",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "toJson",
    "tojson",
    "trim",
    "unique",
    "upper",
    "zip",
];

/// The tests a template may use (`x is defined`).
pub const TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "json",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// The functions a template may call.
pub const FUNCTIONS: &[&str] = &[
    "range",
    "dict",
    "debug",
    "secret",
    "kv",
    "json",
    "fromJson",
    "now",
    "render",
    "currentEachOutput",
    "errorLogs",
    "read",
    // The template language's own: macro callers, recursive loops, blocks.
    "caller",
    "loop",
    "super",
];

/// Words of the template language that are followed by `(` without being
/// calls.
const KEYWORDS: &[&str] = &[
    "if",
    "elif",
    "else",
    "for",
    "in",
    "not",
    "and",
    "or",
    "is",
    "set",
    "with",
    "recursive",
];

/// Every filter, test or function `template` uses that Aerie does not
/// provide (Pebble has many Aerie lacks), as "filter 'date'": refused when
/// the flow is saved rather than failing when it runs.
pub fn unknown_names(template: &str) -> Vec<String> {
    let template = translate(template);
    let bodies: Vec<&str> = pieces(&template)
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Expression(body) | Piece::Statement(body) => Some(body),
            Piece::Text(_) => None,
        })
        .collect();
    // Macros the template defines may be called.
    let macros: Vec<&str> = bodies
        .iter()
        .filter_map(|body| {
            body.trim()
                .trim_start_matches('-')
                .trim()
                .strip_prefix("macro ")
        })
        .filter_map(|rest| rest.split('(').next().map(str::trim))
        .collect();
    let mut unknown = Vec::new();
    for body in bodies {
        for (kind, name) in names(body) {
            let known = match kind {
                "filter" => FILTERS.contains(&name),
                "test" => TESTS.contains(&name),
                "variable" => false,
                _ => FUNCTIONS.contains(&name) || macros.contains(&name),
            };
            let entry = format!("{kind} '{name}'");
            if !known && !unknown.contains(&entry) {
                unknown.push(entry);
            }
        }
    }
    unknown
}

/// The first jq program written into `template` (`jq('.a.b')`) that
/// Aerie's jq does not run, said why; programs built at run time are
/// checked when they run.
pub fn jq_problem(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(at) = rest.find("jq(") {
        rest = &rest[at + 3..];
        let trimmed = rest.trim_start();
        let named = trimmed.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty()
                && name.trim().chars().all(|c| c.is_alphanumeric() || c == '_')
                && !name.trim().is_empty()
        });
        if named {
            return Some(
                "jq takes its program as its one argument: jq('.key'), not a named argument".into(),
            );
        }
        let Some(quote) = trimmed.chars().next().filter(|c| *c == '\'' || *c == '"') else {
            continue;
        };
        let mut program = String::new();
        let mut chars = trimmed[1..].chars();
        let mut closed = false;
        while let Some(c) = chars.next() {
            match c {
                '\\' => program.extend(chars.next()),
                c if c == quote => {
                    closed = true;
                    break;
                }
                c => program.push(c),
            }
        }
        if closed && let Err(problem) = super::jq::Program::parse(&program) {
            return Some(problem);
        }
    }
    None
}

/// Kestra variables Aerie does not provide: `envs` (the server's
/// environment), `globals` (server-wide variables), `kestra` (the server's
/// URL and environment name) and `execution.originalId` (Aerie keeps no
/// link from a replay to its original). Refused when a flow is saved
/// rather than failing as "undefined" when it runs.
const UNSUPPORTED_VARIABLES: &[&str] = &["envs", "globals", "kestra"];

/// The filters (`| name`), tests (`is [not] name`), calls (`name(`, not
/// after a `.`) and unsupported variables ([`UNSUPPORTED_VARIABLES`], and
/// `execution.originalId`) of one expression or statement body.
fn names(body: &str) -> Vec<(&'static str, &str)> {
    let bytes = body.as_bytes();
    let mut found = Vec::new();
    let (mut i, mut quote) = (0, None);
    // The previous significant character and word.
    let (mut previous, mut last_word): (u8, &str) = (b' ', "");
    let mut after_is = false;
    while i < bytes.len() {
        let c = bytes[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 1;
            } else if c == q {
                quote = None;
                previous = c;
            }
            i += 1;
            continue;
        }
        if c == b'\'' || c == b'"' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && is_word(bytes[i]) {
                i += 1;
            }
            let word = &body[start..i];
            if previous == b'|' {
                found.push(("filter", word));
            } else if after_is && word != "not" {
                found.push(("test", word));
            } else if bytes.get(i) == Some(&b'(')
                && previous != b'.'
                && !KEYWORDS.contains(&word)
                && last_word != "macro"
            {
                found.push(("function", word));
            } else if previous != b'.' && UNSUPPORTED_VARIABLES.contains(&word) {
                found.push(("variable", word));
            } else if previous != b'.'
                && word == "execution"
                && body[i..].starts_with(".originalId")
            {
                found.push(("variable", &body[start..i + ".originalId".len()]));
            }
            after_is = word == "is" || (after_is && word == "not");
            last_word = word;
            previous = b'a';
            continue;
        }
        if !c.is_ascii_whitespace() {
            previous = c;
            after_is = false;
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pebble_operators_become_jinja() {
        assert_eq!(translate("plain {{ a }} text"), "plain {{ a }} text");
        assert_eq!(
            translate("{{ n == 3 ? 'ok' : ko }}"),
            "{{ ('ok' if n == 3 else ko) }}"
        );
        assert_eq!(
            translate("{{ a ? b : c ? d : e }}"),
            "{{ (b if a else (d if c else e)) }}"
        );
        assert_eq!(
            translate("{{ x ?? 'none' }}"),
            "{{ (x if x is defined and x is not none else ('none')) }}"
        );
        assert_eq!(translate("{{ a equals 'b' }}"), "{{ a == 'b' }}");
        assert_eq!(
            translate("{% if a equals b %}y{% endif %}"),
            "{% if a == b %}y{% endif %}"
        );
        assert_eq!(
            translate("{%- set v = f ? 1 : 2 -%}"),
            "{%- set v = (1 if f else 2) -%}"
        );
        // Strings, brackets and text stay as written.
        assert_eq!(
            translate("why? {{ 'a ? b : c' }}"),
            "why? {{ 'a ? b : c' }}"
        );
        assert_eq!(translate("{{ m[1:2] }}"), "{{ m[1:2] }}");
        assert_eq!(
            translate("{{ {'k': 1}['k'] == 1 ? 'y' : 'n' }}"),
            "{{ ('y' if {'k': 1}['k'] == 1 else 'n') }}"
        );
        assert_eq!(translate("{{ equalsX }}"), "{{ equalsX }}");
        assert_eq!(translate("{{ inputs.equals }}"), "{{ inputs.equals }}");
        assert_eq!(
            translate("{{- n ?? 0 -}}"),
            "{{- (n if n is defined and n is not none else (0)) -}}"
        );
        let raw = "{% raw %}{{ a ? b : c }}{% endraw %}{# {{ x ?? y }} #}";
        assert_eq!(translate(raw), raw);
        // Nesting past the bound is left as written (and then refused).
        assert_eq!(
            translate("{{ x is null ? 'null' : nullable }}"),
            "{{ ('null' if x is none else nullable) }}"
        );
        // Inside brackets too, as Kestra's restart-each.yaml writes it.
        assert_eq!(
            translate("{{ (inputs.failed ?? 'NONE') == 'FIRST' ? ko : '0'}}"),
            "{{ (ko if ( (inputs.failed if inputs is defined and inputs.failed is defined and inputs.failed is not none else ('NONE')) ) == 'FIRST' else '0') }}"
        );
        assert_eq!(
            translate("{{ [a ?? 1, (b)] }}"),
            "{{ [ (a if a is defined and a is not none else (1)) , (b)] }}"
        );
        // Unclosed brackets, deep: left as written, in linear time (each
        // bracket used to be looked at again from every later one).
        let unclosed = format!("{{{{ {} a ?? 1 }}}}", "{\"k\": ".repeat(40_000));
        assert!(translate(&unclosed).contains("a ?? 1"));
        let deep = format!("{{{{ {} }}}}", vec!["a"; 200].join(" ?? "));
        assert!(translate(&deep).contains("a ?? a"));
    }

    #[test]
    fn kestra_variables_aerie_lacks_are_found_before_anything_runs() {
        assert_eq!(
            unknown_names(
                "{{ envs.home }} {{ globals.region }} {{ kestra.url }} {{ execution.originalId }}"
            ),
            [
                "variable 'envs'",
                "variable 'globals'",
                "variable 'kestra'",
                "variable 'execution.originalId'"
            ]
        );
        for fine in [
            "{{ execution.id }}",
            "{{ outputs.envs.value }}",
            "{{ 'kestra:///file' }}",
            "{{ inputs.kestra_url }}",
            "{% for e in inputs.list %}{{ e }}{% endfor %}",
        ] {
            assert!(unknown_names(fine).is_empty(), "{fine}");
        }
    }

    #[test]
    fn jq_programs_written_into_a_template_are_checked_when_saved() {
        assert_eq!(
            jq_problem("{{ x | jq('.a.b') | first }} {{ y | jq(\".[] | .id\") }}"),
            None
        );
        let problem = jq_problem("{{ x | jq('.a') }} {{ x | jq( 'map(.id)' ) }}").expect("refused");
        assert!(problem.contains("'map(.id)' is not supported"), "{problem}");
        // Built at run time: checked when it runs.
        assert_eq!(jq_problem("{{ x | jq(vars.program) }}"), None);
        let named = jq_problem("{{ x | jq(program='.a + 1') }}").expect("refused");
        assert!(named.contains("its one argument"), "{named}");
        // minijinja's namespace() (a loop's accumulator) is not Pebble's.
        assert_eq!(
            unknown_names("{% set ns = namespace(x=1) %}"),
            ["function 'namespace'"]
        );
    }

    #[test]
    fn names_aerie_lacks_are_found_before_anything_runs() {
        assert_eq!(
            unknown_names(
                "{{ now() | date('yyyy') }} {{ x is defined }} {{ a | upper | json }} {{ render(vars.x) }}"
            ),
            ["filter 'date'"]
        );
        assert_eq!(
            unknown_names("{{ fileSize(outputs.t) }}{% if x is not empty %}{% endif %}"),
            ["function 'fileSize'", "test 'empty'"]
        );
        assert_eq!(
            unknown_names(
                "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1) }} {{ 'x | date' }} {{ d.items() }}"
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            unknown_names("{{ a ? b | slugify : c }}"),
            ["filter 'slugify'"]
        );
        assert_eq!(
            unknown_names(
                "{% raw %}{{ x | date }}{% endraw %}{# {{ y | date }} #}{% call m() %}{{ caller() }}{% endcall %}"
            ),
            ["function 'm'"]
        );
    }

    #[test]
    fn every_name_listed_is_one_minijinja_knows() {
        let env = {
            let mut env = minijinja::Environment::new();
            // Aerie's own, which execution-svc's renderer adds.
            for name in ["json", "toJson", "jq"] {
                env.add_filter(name, |v: minijinja::Value| v);
            }
            env.add_test("json", |_: minijinja::Value| true);
            env
        };
        for filter in FILTERS {
            let text = format!("{{{{ 1 | {filter} }}}}");
            if let Err(err) = env.render_str(&text, ()) {
                assert_ne!(err.kind(), minijinja::ErrorKind::UnknownFilter, "{filter}");
            }
        }
        for test in TESTS {
            let text = format!("{{{{ 1 is {test} }}}}");
            if let Err(err) = env.render_str(&text, ()) {
                assert_ne!(err.kind(), minijinja::ErrorKind::UnknownTest, "{test}");
            }
        }
    }
}
