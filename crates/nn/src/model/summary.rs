//! `Model::summary`: Keras 3's table, as it prints in an 80-column terminal.

use super::{Kind, Model};
use crate::layers::batch_shape;

/// A column: title, width between the borders (one space of padding each side included), and
/// whether its cells are right-aligned.
struct Column {
    title: &'static str,
    width: usize,
    right: bool,
}

/// Keras's columns for a chain of layers (rich's widths for a 76-character table).
const SEQUENTIAL_COLUMNS: [Column; 3] = [
    Column { title: "Layer (type)", width: 33, right: false },
    Column { title: "Output Shape", width: 24, right: false },
    Column { title: "Param #", width: 15, right: true },
];

/// Keras's columns for a graph, which adds where each layer's inputs come from.
const GRAPH_COLUMNS: [Column; 4] = [
    Column { title: "Layer (type)", width: 21, right: false },
    Column { title: "Output Shape", width: 19, right: false },
    Column { title: "Param #", width: 12, right: true },
    Column { title: "Connected to", width: 19, right: false },
];

impl Model {
    /// The summary Keras 3 prints: a table of layers (name and class, output shape with `None`
    /// for the batch, parameter count), a "Connected to" column for models that are not a
    /// chain, then the total, trainable and non-trainable parameter counts and sizes.
    pub fn summary(&self) -> String {
        let chain = self.is_chain();
        let columns: &[Column] = if chain { &SEQUENTIAL_COLUMNS } else { &GRAPH_COLUMNS };
        let rows: Vec<Vec<String>> = (0..self.layers.len())
            .filter(|&k| self.is_listed(k))
            .map(|k| {
                let layer = self.layers[k].as_ref();
                // A layer applied at several places shows its first output shape and every source.
                let nodes: Vec<&super::Node> = self.nodes.iter().filter(|n| n.layer == k).collect();
                let shape = nodes.first().and_then(|n| n.shape.as_deref());
                let mut seen = std::collections::HashSet::new();
                let params: usize =
                    layer.weights().iter().filter(|w| seen.insert(w.id())).map(|w| w.numel()).sum();
                let mut row = vec![
                    format!("{} ({})", layer.name(), layer.class_name()),
                    shape.map_or_else(|| "?".to_string(), batch_shape),
                    match shape {
                        Some(_) => thousands(params),
                        None => "0 (unbuilt)".to_string(),
                    },
                ];
                if !chain {
                    let sources: Vec<String> =
                        nodes.iter().flat_map(|n| &n.inputs).map(|&j| self.node_label(j)).collect();
                    row.push(if sources.is_empty() { "-".to_string() } else { sources.join(", ") });
                }
                row
            })
            .collect();
        let weights = self.weights();
        let (trainable, frozen): (Vec<_>, Vec<_>) = weights.iter().partition(|w| w.trainable());
        let count = |ws: &[&&crate::Weight]| ws.iter().map(|w| w.numel()).sum::<usize>();
        let bytes = |ws: &[&&crate::Weight]| {
            ws.iter().map(|w| w.numel() * w.value().dtype().size_in_bytes()).sum::<usize>()
        };
        let mut lines = vec![format!("Model: \"{}\"", self.name)];
        lines.extend(table(columns, &rows));
        for (label, n, size) in [
            ("Total", count(&trainable) + count(&frozen), bytes(&trainable) + bytes(&frozen)),
            ("Trainable", count(&trainable), bytes(&trainable)),
            ("Non-trainable", count(&frozen), bytes(&frozen)),
        ] {
            lines.push(format!(" {label} params: {} ({})", thousands(n), readable_size(size)));
        }
        lines.join("\n") + "\n"
    }

    /// Prints [`Model::summary`] to standard output.
    pub fn print_summary(&self) {
        print!("{}", self.summary());
    }

    /// Whether the model is a single chain from one input, which Keras prints without the
    /// "Connected to" column even when it was built functionally.
    fn is_chain(&self) -> bool {
        self.kind == Kind::Sequential
            || (self.layers.len() == self.nodes.len()
                && self.outputs.len() == 1
                && self.nodes.iter().enumerate().all(|(i, n)| match i {
                    0 => n.inputs.is_empty(),
                    _ => n.inputs == [i - 1],
                }))
    }

    /// Keras's name for node `j`'s output in "Connected to": the layer, which of its
    /// applications this is, and the output's index (always 0: a layer has one output).
    fn node_label(&self, j: usize) -> String {
        let layer = self.nodes[j].layer;
        let application = self.nodes[..j].iter().filter(|n| n.layer == layer).count();
        format!("{}[{application}][0]", self.layers[layer].name())
    }
}

/// `n` with a comma every three digits, as Python's `f"{n:,}"`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in Keras's units: B, KB, MB... of 1024, two decimals.
fn readable_size(bytes: usize) -> String {
    let mut size = bytes as f64;
    for unit in ["B", "KB", "MB", "GB", "TB"] {
        if size < 1024.0 {
            return format!("{size:.2} {unit}");
        }
        size /= 1024.0;
    }
    format!("{size:.2} PB")
}

/// Word-wraps `text` to `width` columns as rich does in Keras's table: whole words where they
/// fit; a word longer than a line gets a line of its own, cut short with an ellipsis.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let len = word.chars().count();
        if !line.is_empty() && line.chars().count() + 1 + len <= width {
            line.push(' ');
            line.push_str(word);
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        line = if len > width {
            word.chars().take(width.saturating_sub(1)).chain(['…']).collect()
        } else {
            word.to_string()
        };
    }
    lines.push(line);
    lines
}

/// One line of cells between `left`, `middle` and `right` border characters.
fn bordered(
    columns: &[Column],
    left: char,
    middle: char,
    right: char,
    cell: impl Fn(&Column, usize) -> String,
) -> String {
    let cells: Vec<String> = columns.iter().enumerate().map(|(i, c)| cell(c, i)).collect();
    format!("{left}{}{right}", cells.join(&middle.to_string()))
}

/// `text` padded to fill a column, with one space each side.
fn fill(column: &Column, text: &str) -> String {
    let inner = column.width - 2;
    if column.right { format!(" {text:>inner$} ") } else { format!(" {text:<inner$} ") }
}

/// The box-drawn table: a heavy header, a light line between rows.
fn table(columns: &[Column], rows: &[Vec<String>]) -> Vec<String> {
    let rule = |fill_char: char| move |c: &Column, _| fill_char.to_string().repeat(c.width);
    let mut lines = vec![
        bordered(columns, '┏', '┳', '┓', rule('━')),
        bordered(columns, '┃', '┃', '┃', |c, _| fill(c, c.title)),
        bordered(columns, '┡', '╇', '┩', rule('━')),
    ];
    for (r, row) in rows.iter().enumerate() {
        if r > 0 {
            lines.push(bordered(columns, '├', '┼', '┤', rule('─')));
        }
        let cells: Vec<Vec<String>> =
            columns.iter().zip(row).map(|(c, text)| wrap(text, c.width - 2)).collect();
        let height = cells.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            lines.push(bordered(columns, '│', '│', '│', |c, i| {
                fill(c, cells[i].get(k).map_or("", String::as_str))
            }));
        }
    }
    lines.push(bordered(columns, '└', '┴', '┘', rule('─')));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sizes_print_as_keras() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(706), "706");
        assert_eq!(thousands(27_565_386), "27,565,386");
        assert_eq!(readable_size(0), "0.00 B");
        assert_eq!(readable_size(2824), "2.76 KB");
        assert_eq!(readable_size(27_565_386 * 4), "105.15 MB");
    }

    #[test]
    fn wrapping_keeps_words_and_cuts_long_ones_short() {
        assert_eq!(wrap("input_layer (InputLayer)", 19), ["input_layer", "(InputLayer)"]);
        assert_eq!(wrap("(None, 224, 224, 64)", 17), ["(None, 224, 224,", "64)"]);
        assert_eq!(wrap("input_layer[0][0], dense[0][0]", 17), ["input_layer[0][0…", "dense[0][0]"]);
        assert_eq!(wrap("dense_1[0][0], dense_3[0][0]", 17), ["dense_1[0][0],", "dense_3[0][0]"]);
        assert_eq!(wrap("", 5), [""]);
    }
}
