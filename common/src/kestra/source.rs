//! Flow sources as text: splitting a multi-document YAML body into flows
//! (Kestra's namespace update, bulk update, import and validate take
//! several flows separated by `---`), and the one edit Aerie makes to a
//! source itself, setting `disabled:`.

/// One document of a multi-document body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document<'a> {
    /// 0-based: the document's position among the non-empty documents.
    pub index: usize,
    /// Lines of the body before the document's first line, to turn a
    /// finding's line within the document into one within the body.
    pub line_offset: u32,
    pub text: &'a str,
}

/// The non-empty documents of `body`, split at `---` lines (a `---` at the
/// start of a line, alone or before a comment; a document end `...` line
/// ends one too). A document of blanks and comments only is skipped. A
/// `---` inside a block scalar is indented, so it never splits.
pub fn documents(body: &str) -> Vec<Document<'_>> {
    let mut found = Vec::new();
    let mut start = 0;
    let mut start_line = 0_u32;
    let mut offset = 0;
    let mut pieces: Vec<(usize, usize, u32)> = Vec::new();
    for (line_number, line) in (0_u32..).zip(body.split_inclusive('\n')) {
        let content = line.trim_end_matches(['\n', '\r']);
        if is_separator(content) {
            pieces.push((start, offset, start_line));
            start = offset + line.len();
            start_line = line_number + 1;
        }
        offset += line.len();
    }
    pieces.push((start, body.len(), start_line));
    for (from, to, first_line) in pieces {
        let text = &body[from..to];
        let meaningful = text.lines().any(|l| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        });
        if meaningful {
            found.push(Document {
                index: found.len(),
                line_offset: first_line,
                text,
            });
        }
    }
    found
}

fn is_separator(line: &str) -> bool {
    ["---", "..."].iter().any(|marker| {
        line.strip_prefix(marker).is_some_and(|rest| {
            let rest = rest.trim_start();
            rest.is_empty() || rest.starts_with('#')
        })
    })
}

/// `source` with its top-level `disabled:` set to `disabled`: the line
/// replaced when there is one, else added after `namespace:`. The rest of
/// the text is kept byte for byte, so the new revision differs in that
/// line only.
pub fn with_disabled(source: &str, disabled: bool) -> String {
    let wanted = format!("disabled: {disabled}");
    let is_key = |line: &str, key: &str| {
        line.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    };
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    if let Some(line) = lines.iter_mut().find(|l| is_key(l, "disabled")) {
        *line = wanted;
    } else {
        let at = lines
            .iter()
            .position(|l| is_key(l, "namespace"))
            .map_or(lines.len(), |i| i + 1);
        lines.insert(at, wanted);
    }
    let mut text = lines.join("\n");
    if source.ends_with('\n') {
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_separator_lines_only() {
        let body = "# header\n---\nid: a\nnamespace: n\ntasks:\n  - id: t\n    message: |\n      ---\n      kept\n--- # next\nid: b\n...\n\n---\n# only a comment\n";
        let docs = documents(body);
        assert_eq!(docs.len(), 2, "{docs:?}");
        assert_eq!(docs[0].index, 0);
        assert_eq!(docs[0].line_offset, 2);
        assert!(docs[0].text.starts_with("id: a\n") && docs[0].text.contains("      ---\n"));
        assert_eq!(docs[1].index, 1);
        assert_eq!(docs[1].line_offset, 10);
        assert_eq!(docs[1].text, "id: b\n");
        assert_eq!(documents("id: x\n").len(), 1);
        assert!(documents("\n# nothing\n---\n").is_empty());
        assert_eq!(documents("---\nid: x\n")[0].line_offset, 1);
    }

    #[test]
    fn disabling_changes_one_top_level_line_only() {
        let plain = "id: f\nnamespace: n\ntasks:\n  - id: t\n    disabled: false\n";
        assert_eq!(
            with_disabled(plain, true),
            "id: f\nnamespace: n\ndisabled: true\ntasks:\n  - id: t\n    disabled: false\n"
        );
        let marked = "id: f\nnamespace: n\ndisabled : true # off\ntasks: []";
        assert_eq!(
            with_disabled(marked, false),
            "id: f\nnamespace: n\ndisabled: false\ntasks: []"
        );
    }
}
