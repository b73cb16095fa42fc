//! Plain-text tables: a header row and left-aligned columns two spaces
//! apart, measured in terminal columns (so `✓` or a CJK step name lines
//! up). The last column is not padded, so lines carry no trailing spaces.

use console::measure_text_width;

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
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| measure_text_width(cell))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                if c + 1 < row.len() {
                    let pad = widths[c].saturating_sub(measure_text_width(cell));
                    line.extend(std::iter::repeat_n(' ', pad));
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
}
