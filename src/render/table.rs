//! Plain-text tables: a header row and left-aligned columns two spaces
//! apart, measured in terminal columns (so `✓` or a CJK step name lines
//! up). The last column is not padded, so lines carry no trailing spaces.
//! A cell wider than [`ALIGN_LIMIT`] does not widen its column: it runs
//! into the next cell of its row rather than pushing every other row across
//! the screen (a step named after a long loop value, a long param).

use console::measure_text_width;

/// Cells wider than this (in terminal columns) do not widen their column.
pub const ALIGN_LIMIT: usize = 48;

/// The width that aligns `cells`: the widest one up to [`ALIGN_LIMIT`].
pub fn align_width<S: AsRef<str>>(cells: impl IntoIterator<Item = S>) -> usize {
    cells
        .into_iter()
        .map(|c| measure_text_width(c.as_ref()))
        .filter(|&w| w <= ALIGN_LIMIT)
        .max()
        .unwrap_or(0)
}

/// `text` padded with spaces to `width` columns. By hand rather than with
/// `{:width$}`: the standard formatter panics on widths past 65,535, and
/// counts characters, not columns.
pub fn pad(text: &str, width: usize) -> String {
    let missing = width.saturating_sub(measure_text_width(text));
    let mut out = String::with_capacity(text.len() + missing);
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', missing));
    out
}

pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| align_width(self.rows.iter().filter_map(|r| r.get(c))))
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                if c + 1 < row.len() {
                    line.push_str(&pad(cell, widths[c]));
                } else {
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_without_trailing_spaces() {
        let mut t = Table::new(&["STEP", "STATUS", "REASON"]);
        t.row(vec!["prepare".into(), "succeeded".into(), String::new()]);
        t.row(vec!["訓練".into(), "failed".into(), "exit code 3".into()]);
        assert_eq!(
            t.render(),
            "STEP     STATUS     REASON\nprepare  succeeded\n訓練     failed     exit code 3\n"
        );
    }

    #[test]
    fn a_cell_past_the_limit_does_not_widen_its_column() {
        let long = "訓".repeat(70_000);
        let mut t = Table::new(&["STEP", "STATUS"]);
        t.row(vec!["prepare".into(), "succeeded".into()]);
        t.row(vec![long.clone(), "failed".into()]);
        assert_eq!(
            t.render(),
            format!("STEP     STATUS\nprepare  succeeded\n{long}  failed\n")
        );
    }
}
