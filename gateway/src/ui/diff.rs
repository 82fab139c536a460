//! A line diff of two flow revisions (longest common subsequence), for the
//! revisions page. Flows are small; past a size bound the diff is shown as
//! the whole text replaced, never computed at a cost a tenant could abuse.

use serde::Serialize;

/// Most cells of the comparison table (lines of one side x the other).
const MAX_CELLS: usize = 4_000_000;

/// One line of a diff: `kind` is `same`, `added` or `removed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    pub kind: &'static str,
    pub text: String,
}

fn line(kind: &'static str, text: &str) -> DiffLine {
    DiffLine {
        kind,
        text: text.to_owned(),
    }
}

/// The lines of `old` and `new`, each marked kept, removed or added.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len().saturating_mul(b.len()) > MAX_CELLS {
        let mut out: Vec<DiffLine> = a.iter().map(|t| line("removed", t)).collect();
        out.extend(b.iter().map(|t| line("added", t)));
        return out;
    }
    // lcs[i][j]: length of the longest common subsequence of a[i..], b[j..].
    let width = b.len() + 1;
    let mut lcs = vec![0u32; (a.len() + 1) * width];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i * width + j] = if a[i] == b[j] {
                lcs[(i + 1) * width + j + 1] + 1
            } else {
                lcs[(i + 1) * width + j].max(lcs[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len() + b.len());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(line("same", a[i]));
            i += 1;
            j += 1;
        } else if lcs[(i + 1) * width + j] >= lcs[i * width + j + 1] {
            out.push(line("removed", a[i]));
            i += 1;
        } else {
            out.push(line("added", b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| line("removed", t)));
    out.extend(b[j..].iter().map(|t| line("added", t)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(diff: &[DiffLine]) -> Vec<(&str, &str)> {
        diff.iter().map(|l| (l.kind, l.text.as_str())).collect()
    }

    #[test]
    fn a_changed_line_is_removed_then_added_and_the_rest_kept() {
        let diff = line_diff(
            "id: f\nmessage: a\nend\n",
            "id: f\nmessage: b\nend\nextra\n",
        );
        assert_eq!(
            kinds(&diff),
            [
                ("same", "id: f"),
                ("removed", "message: a"),
                ("added", "message: b"),
                ("same", "end"),
                ("added", "extra"),
            ]
        );
    }

    #[test]
    fn identical_texts_are_all_kept_and_huge_ones_are_replaced_whole() {
        assert!(line_diff("a\nb", "a\nb").iter().all(|l| l.kind == "same"));
        let big = "x\n".repeat(3000);
        let other = "y\n".repeat(3000);
        let diff = line_diff(&big, &other);
        assert_eq!(diff.len(), 6000);
        assert_eq!(diff[0].kind, "removed");
        assert_eq!(diff[5999].kind, "added");
    }
}
