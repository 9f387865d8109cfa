//! Text rendering of replies for people: short ids, tables that fit the terminal, colour by state,
//! and the pager.
//!
//! A reply's text is built as [`Text`]: plain pieces and [`Table`]s. Everything from the ledger is
//! neutralised first (no control character reaches the terminal); colour and layout are added
//! afterwards, by [`Terminal`], so they are the only escape sequences abathur ever prints. To a
//! terminal a table is aligned columns cut to its width; to a pipe it is tab-separated rows without
//! the header, for `cut` and `awk`, the way `gh` prints.

use std::io::IsTerminal;

use unicode_width::UnicodeWidthStr;

pub use crate::id::Shortener;

/// When to colour: `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// In a terminal, unless NO_COLOR is set or TERM is dumb
    #[default]
    Auto,
    /// Always, even to a pipe
    Always,
    /// Never
    Never,
}

/// What the output goes to, decided once per process.
#[derive(Clone, Copy, Debug)]
pub struct Terminal {
    /// Stdout is a terminal (or `ABATHUR_FORCE_TTY` says to lay out as if it were).
    pub is_tty: bool,
    /// Columns available: `COLUMNS`, else the terminal's, else 80.
    pub width: usize,
    /// Rows of the real terminal, when stdout is one: longer output goes to the pager.
    pub pager_rows: Option<usize>,
    /// Colour escapes are wanted.
    pub color: bool,
}

impl Terminal {
    /// Reads stdout and the environment.
    pub fn detect(color: ColorChoice, no_pager: bool) -> Terminal {
        let real_tty = std::io::stdout().is_terminal();
        let is_tty = real_tty || std::env::var_os("ABATHUR_FORCE_TTY").is_some_and(|v| !v.is_empty());
        let size = if real_tty { terminal_size::terminal_size() } else { None };
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse().ok())
            .filter(|&w: &usize| w >= 20)
            .or(size.map(|(w, _)| usize::from(w.0)))
            .unwrap_or(80);
        let color = match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_tty
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        };
        let pager_rows = size.filter(|_| !no_pager).map(|(_, h)| usize::from(h.0));
        Terminal { is_tty, width, pager_rows, color }
    }

    /// Lays `text` out for this output; `text` must be neutralised already.
    pub fn render(&self, text: &Text) -> String {
        let mut out = String::new();
        for piece in &text.0 {
            match piece {
                Piece::Plain(s) => out.push_str(s),
                Piece::Table(t) if self.is_tty => out.push_str(&t.aligned(self.width, self.color)),
                Piece::Table(t) => out.push_str(&t.tab_separated(self.color)),
            }
        }
        out
    }
}

/// A reply as people read it: text and tables.
#[derive(Default)]
pub struct Text(Vec<Piece>);

enum Piece {
    Plain(String),
    Table(Table),
}

impl Text {
    /// Appends plain text.
    pub fn plain(mut self, s: impl Into<String>) -> Text {
        self.0.push(Piece::Plain(s.into()));
        self
    }

    /// Appends a table.
    pub fn table(mut self, t: Table) -> Text {
        self.0.push(Piece::Table(t));
        self
    }

    /// Replaces control characters in everything that came from the ledger.
    pub fn neutralised(self) -> Text {
        Text(
            self.0
                .into_iter()
                .map(|p| match p {
                    Piece::Plain(s) => Piece::Plain(neutralise_controls(&s)),
                    Piece::Table(mut t) => {
                        for cell in t.rows.iter_mut().flatten() {
                            cell.text = neutralise_controls(&cell.text);
                        }
                        Piece::Table(t)
                    }
                })
                .collect(),
        )
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::default().plain(s)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text::default().plain(s)
    }
}

impl From<Table> for Text {
    fn from(t: Table) -> Text {
        Text::default().table(t)
    }
}

/// Terminal colours for states (ANSI SGR parameters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paint {
    /// Done, met, approved, ok.
    Green,
    /// Ready to be taken.
    Cyan,
    /// In someone's hands, conditional, a warning.
    Yellow,
    /// Failed, revise, escalate, a problem.
    Red,
    /// Waiting on something else.
    Magenta,
    /// Out of play: cancelled, superseded.
    Dim,
}

impl Paint {
    fn sgr(self) -> &'static str {
        match self {
            Paint::Green => "32",
            Paint::Cyan => "36",
            Paint::Yellow => "33",
            Paint::Red => "31",
            Paint::Magenta => "35",
            Paint::Dim => "2",
        }
    }

    /// The colour of a state word used anywhere in abathur's replies.
    pub fn of_state(state: &str) -> Option<Paint> {
        Some(match state {
            "completed" | "approve" | "approved" | "met" | "ok" | "open" | "accepted" | "verified" | "yes" => {
                Paint::Green
            }
            "ready" => Paint::Cyan,
            "claimed" | "running" | "conditional" | "warn" | "proposed" | "pending" | "unsigned" => Paint::Yellow,
            "failed" | "revise" | "escalate" | "fail" | "not-met" | "not_met" | "closed" | "no" | "unverified" => {
                Paint::Red
            }
            "blocked" | "waiting" => Paint::Magenta,
            "cancelled" | "superseded" | "deprecated" | "deferred" | "rejected" => Paint::Dim,
            _ => return None,
        })
    }

    /// `text` in this colour.
    pub fn apply(self, text: &str) -> String {
        format!("\x1b[{}m{text}\x1b[0m", self.sgr())
    }
}

/// A cell: its text and, for states, its colour.
struct Cell {
    text: String,
    paint: Option<Paint>,
}

/// A table with a header row; one column (the last, unless chosen) gives way when it is too wide.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
    flexible: usize,
    state_column: Option<usize>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
            flexible: header.len().saturating_sub(1),
            state_column: None,
        }
    }

    /// Colours the cells of column `index` by the state they name.
    pub fn state_column(mut self, index: usize) -> Table {
        self.state_column = Some(index);
        self
    }

    /// Makes column `index` the one cut to fit instead of the last.
    pub fn flexible(mut self, index: usize) -> Table {
        self.flexible = index;
        self
    }

    /// Appends a row.
    pub fn add_row(&mut self, cells: Vec<String>) {
        let state_column = self.state_column;
        self.rows.push(
            cells
                .into_iter()
                .enumerate()
                .map(|(i, text)| {
                    let paint = if Some(i) == state_column { Paint::of_state(&text) } else { None };
                    Cell { text, paint }
                })
                .collect(),
        );
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn aligned(&self, width: usize, color: bool) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(one_line(&cell.text).width());
            }
        }
        // Too wide: the flexible column gives way first, down to a dozen columns, then the widest
        // of the others, one column at a time, never below its header. The first column (an id)
        // and the state are never cut.
        let natural = widths.clone();
        let total = |widths: &[usize]| widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
        let floor = |i: usize, flexible_floor: usize| match i {
            0 => natural[0],
            i if Some(i) == self.state_column => natural[i],
            i if i == self.flexible => self.header[i].width().max(flexible_floor).min(natural[i]),
            i => self.header[i].width().max(6).min(natural[i]),
        };
        if self.flexible < columns && total(&widths) > width {
            let excess = total(&widths) - width;
            widths[self.flexible] = widths[self.flexible].saturating_sub(excess).max(floor(self.flexible, 12));
        }
        // Last, the flexible column again, down to eight columns.
        for flexible_floor in [12, 8] {
            while total(&widths) > width {
                let shrinkable = (0..columns).filter(|&i| widths[i] > floor(i, flexible_floor));
                let Some(widest) = shrinkable.max_by_key(|&i| widths[i]) else { break };
                widths[widest] -= 1;
            }
        }
        let mut out = String::new();
        let header: Vec<Cell> = self.header.iter().map(|h| Cell { text: h.to_string(), paint: None }).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                let text = fit(&one_line(&cell.text), widths[i]);
                let pad = widths[i].saturating_sub(text.width());
                match cell.paint.filter(|_| color) {
                    Some(paint) => line.push_str(&paint.apply(&text)),
                    None => line.push_str(&text),
                }
                if i + 1 < columns {
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn tab_separated(&self, color: bool) -> String {
        let mut out = String::new();
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .map(|cell| {
                    let text = one_line(&cell.text).replace('\t', " ");
                    match cell.paint.filter(|_| color) {
                        Some(paint) => paint.apply(&text),
                        None => text,
                    }
                })
                .collect();
            out.push_str(&cells.join("\t"));
            out.push('\n');
        }
        out
    }
}

/// A cell on one line: line breaks become spaces.
fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) { text.replace(['\n', '\r'], " ") } else { text.to_string() }
}

/// Cuts `text` to `width` display columns with an ellipsis.
fn fit(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// `key: value` lines, skipping empty values.
pub fn block(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k:<width$}  {v}\n")).collect()
}

/// Replaces control characters other than newline and tab (escape sequences, carriage returns,
/// bells) with `?`, so that text from the ledger cannot move the cursor, recolour or retitle the
/// terminal of whoever reads it.
pub fn neutralise_controls(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return text.to_string();
    }
    text.chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&["ID", "STATUS", "SUMMARY"]).state_column(1);
        t.add_row(vec!["01a".into(), "ready".into(), "Create the schema for tasks and agents".into()]);
        t.add_row(vec!["01b".into(), "failed".into(), "Tests".into()]);
        t
    }

    #[test]
    fn a_table_fits_the_width_and_rows_end_without_spaces() {
        let text = sample().aligned(30, false);
        for line in text.lines() {
            assert!(line.width() <= 30, "{line:?}");
            assert!(!line.ends_with(' '), "{line:?}");
        }
        assert!(text.contains("Create the schem…"), "{text}");
    }

    #[test]
    fn to_a_pipe_a_table_is_tab_separated_without_header() {
        assert_eq!(
            sample().tab_separated(false),
            "01a\tready\tCreate the schema for tasks and agents\n01b\tfailed\tTests\n"
        );
    }

    #[test]
    fn states_are_coloured_only_when_asked_and_width_ignores_the_escapes() {
        let plain = sample().aligned(80, false);
        assert!(!plain.contains('\x1b'));
        let coloured = sample().aligned(80, true);
        assert!(coloured.contains("\x1b[36mready\x1b[0m"), "{coloured}");
        let strip = |s: &str| s.replace("\x1b[36m", "").replace("\x1b[31m", "").replace("\x1b[0m", "");
        assert_eq!(strip(&coloured), plain);
    }
}
