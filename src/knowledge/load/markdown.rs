//! Markdown: optional YAML front matter, then one section per ATX heading (`#` … `######`)
//! with the chain of headings above it. Tables become one readable line per row
//! ("Potencia — 1.6 SCe: 114 hp; 1.3 Turbo: 154 hp"), so a row that ends up in a chunk
//! without its header still says what its numbers are.

use super::Problem;
use super::meta::{RawMeta, parse_meta};
use crate::knowledge::Section;

/// A Markdown file's metadata and sections; `first_heading` is the first `#` heading,
/// the title when the front matter has none.
#[derive(Debug)]
pub(crate) struct Markdown {
    pub meta: RawMeta,
    pub first_heading: Option<String>,
    pub sections: Vec<Section>,
}

pub(crate) fn parse(text: &str) -> Result<Markdown, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (meta, body) = split_front_matter(text)?;
    let (first_heading, sections) = sections(body);
    Ok(Markdown {
        meta,
        first_heading,
        sections,
    })
}

/// Separates `---\n<yaml>\n---` at the very top of the file from the body.
fn split_front_matter(text: &str) -> Result<(RawMeta, &str), Problem> {
    let mut lines = text.split_inclusive('\n');
    let Some(first) = lines.next() else {
        return Ok((RawMeta::default(), text));
    };
    if first.trim_end() != "---" {
        return Ok((RawMeta::default(), text));
    }
    let yaml_start = first.len();
    let mut offset = yaml_start;
    for line in lines {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed == "..." {
            let yaml = &text[yaml_start..offset];
            let body = &text[offset + line.len()..];
            let meta = parse_meta(yaml, 2).map_err(Problem::from)?;
            return Ok((meta, body));
        }
        offset += line.len();
    }
    Err(Problem::at(
        1,
        1,
        "the front matter that starts here with `---` is never closed",
        "End the metadata with a line containing only `---`, or delete this first line if \
         the file has no metadata",
    ))
}

/// Cuts the body at headings. Returns the first level-1 heading and the non-empty sections.
fn sections(body: &str) -> (Option<String>, Vec<Section>) {
    let mut first_heading = None;
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut sections = Vec::new();
    let mut current = String::new();
    let mut fence: Option<&str> = None;

    let flush = |stack: &[(usize, String)], current: &mut String, sections: &mut Vec<Section>| {
        let text = tidy(current);
        current.clear();
        if !text.is_empty() {
            sections.push(Section {
                heading_path: stack
                    .iter()
                    .map(|(_, h)| h.clone())
                    .filter(|h| !h.is_empty())
                    .collect(),
                text,
            });
        }
    };

    for line in body.lines() {
        let trimmed = line.trim_start();
        // Headings inside code blocks are code, not structure.
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            current.push_str(line);
            current.push('\n');
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            current.push_str(line);
            current.push('\n');
            continue;
        }
        match heading(line) {
            Some((level, title)) => {
                flush(&stack, &mut current, &mut sections);
                if level == 1 && first_heading.is_none() && !title.is_empty() {
                    first_heading = Some(title.clone());
                }
                while stack.last().is_some_and(|(l, _)| *l >= level) {
                    stack.pop();
                }
                stack.push((level, title));
            }
            None => {
                current.push_str(line);
                current.push('\n');
            }
        }
    }
    flush(&stack, &mut current, &mut sections);
    (first_heading, sections)
}

/// An ATX heading: up to three spaces, 1–6 `#`, a space (or nothing), the title, and
/// optional closing `#`s.
fn heading(line: &str) -> Option<(usize, String)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = &line[indent..];
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let after = &rest[level..];
    if !(after.is_empty() || after.starts_with([' ', '\t'])) {
        return None;
    }
    let mut title = after.trim();
    let without_closing = title.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        title = without_closing.trim_end();
    }
    Some((level, title.to_owned()))
}

/// One line of tidied section text.
enum Line {
    Blank,
    /// Prose or a list item; the hard-wrapped lines after it are joined to it.
    Text(String),
    /// A table row or a code line: kept as its own line.
    Fixed(String),
}

/// Section text as it is indexed: tables made readable, hard-wrapped prose and list items
/// joined into one line each (so a line is a unit of meaning the chunker may cut at),
/// quote marks dropped, code kept as written, runs of blank lines collapsed.
fn tidy(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Line> = Vec::with_capacity(lines.len());
    let mut fence: Option<&str> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        let trimmed = line.trim_start();
        i += 1;
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            out.push(Line::Fixed(line.to_owned()));
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            out.push(Line::Fixed(line.to_owned()));
            continue;
        }
        if is_table_line(line) {
            let start = i - 1;
            while i < lines.len() && is_table_line(lines[i]) {
                i += 1;
            }
            out.extend(
                readable_table(&lines[start..i])
                    .into_iter()
                    .map(Line::Fixed),
            );
            continue;
        }
        let unquoted = trimmed.trim_start_matches('>').trim_start();
        if unquoted.is_empty() {
            out.push(Line::Blank);
            continue;
        }
        match out.last_mut() {
            Some(Line::Text(previous)) if !starts_list_item(unquoted) => {
                previous.push(' ');
                previous.push_str(unquoted);
            }
            _ => out.push(Line::Text(unquoted.to_owned())),
        }
    }
    let mut tidy = String::with_capacity(text.len());
    let mut blank_run = true;
    for line in out {
        match line {
            Line::Blank => {
                if !blank_run {
                    tidy.push('\n');
                }
                blank_run = true;
            }
            Line::Text(line) | Line::Fixed(line) => {
                tidy.push_str(&line);
                tidy.push('\n');
                blank_run = false;
            }
        }
    }
    tidy.trim().to_owned()
}

/// `- item`, `* item`, `+ item`, `1. item`, `2) item`.
fn starts_list_item(line: &str) -> bool {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return true;
    }
    let digits = line.len() - line.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && (line[digits..].starts_with(". ") || line[digits..].starts_with(") "))
}

fn is_table_line(line: &str) -> bool {
    line.trim_start().starts_with('|')
}

/// `| Dato | 1.6 | 1.3 |` tables → "Potencia — 1.6: 114 hp; 1.3: 154 hp" per row; two
/// columns → "Largo: 4.341 mm". Anything irregular is kept as written.
fn readable_table(block: &[&str]) -> Vec<String> {
    let raw = || block.iter().map(|l| l.trim().to_owned()).collect();
    if block.len() < 3 || !is_separator_row(block[1]) {
        return raw();
    }
    let header = cells(block[0]);
    let rows: Vec<Vec<String>> = block[2..].iter().map(|l| cells(l)).collect();
    if rows.iter().any(|row| row.len() != header.len()) {
        return raw();
    }
    let mut lines = Vec::with_capacity(rows.len() + 1);
    if header.len() == 2 {
        lines.push(pair(&header[0], &header[1]));
        lines.extend(rows.iter().map(|row| pair(&row[0], &row[1])));
        return lines;
    }
    for row in rows {
        let described: Vec<String> = header
            .iter()
            .zip(&row)
            .skip(1)
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| pair(name, value))
            .collect();
        lines.push(match (row[0].is_empty(), described.is_empty()) {
            (_, true) => row[0].clone(),
            (true, false) => described.join("; "),
            (false, false) => format!("{} — {}", row[0], described.join("; ")),
        });
    }
    lines
}

fn pair(name: &str, value: &str) -> String {
    match (name.is_empty(), value.is_empty()) {
        (true, _) => value.to_owned(),
        (false, true) => name.to_owned(),
        (false, false) => format!("{name}: {value}"),
    }
}

fn is_separator_row(line: &str) -> bool {
    let cells = cells(line);
    !cells.is_empty()
        && cells.iter().all(|c| {
            let inner = c.trim_start_matches(':').trim_end_matches(':');
            !inner.is_empty() && inner.chars().all(|ch| ch == '-')
        })
}

/// Splits a table row at `|`, honouring `\|` inside cells.
fn cells(line: &str) -> Vec<String> {
    let line = line.trim();
    let line = line.strip_prefix('|').unwrap_or(line);
    let line = match line.strip_suffix('|') {
        Some(rest) if !rest.ends_with('\\') => rest,
        _ => line,
    };
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell).trim().to_owned()),
            _ => cell.push(c),
        }
    }
    cells.push(cell.trim().to_owned());
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(doc: &Markdown) -> Vec<Vec<&str>> {
        doc.sections
            .iter()
            .map(|s| s.heading_path.iter().map(String::as_str).collect())
            .collect()
    }

    #[test]
    fn front_matter_is_read_and_body_follows() {
        let doc = parse("---\ntitle: Kia\nyear: 2025\n---\n\n# Kia Sportage\n\nTexto.\n").unwrap();
        assert_eq!(doc.meta.title.as_deref(), Some("Kia"));
        assert_eq!(doc.meta.year, Some(2025));
        assert_eq!(doc.first_heading.as_deref(), Some("Kia Sportage"));
        assert_eq!(doc.sections.len(), 1);
        assert_eq!(doc.sections[0].text, "Texto.");
    }

    #[test]
    fn front_matter_errors_point_at_the_file_line() {
        let problem =
            parse("---\ntitle: Kia\nbrand: Kia\nmodelo: sportage\n---\n# Kia\n").unwrap_err();
        assert_eq!(problem.position, Some((4, 1)));
        assert!(problem.problem.contains("`modelo`"), "{problem:?}");
        assert!(problem.fix.contains("`model`"), "{problem:?}");
    }

    #[test]
    fn unclosed_front_matter_is_an_error() {
        let problem = parse("---\ntitle: Kia\n\n# Kia\n").unwrap_err();
        assert_eq!(problem.position, Some((1, 1)));
        assert!(problem.problem.contains("never closed"));
    }

    #[test]
    fn headings_become_paths_and_empty_sections_are_skipped() {
        let doc = parse(
            "Intro antes de todo.\n\n# Kia Sportage\n\nResumen.\n\n## Motor\n\n### Gasolina\n\n\
             2.0 litros.\n\n### Híbrido ###\n\n1.6 turbo.\n\n## Consumo\n\n14 km/l.\n\n## Vacía\n\n",
        )
        .unwrap();
        assert_eq!(
            paths(&doc),
            vec![
                vec![],
                vec!["Kia Sportage"],
                vec!["Kia Sportage", "Motor", "Gasolina"],
                vec!["Kia Sportage", "Motor", "Híbrido"],
                vec!["Kia Sportage", "Consumo"],
            ]
        );
        assert_eq!(doc.sections[0].text, "Intro antes de todo.");
        assert_eq!(doc.sections[3].text, "1.6 turbo.");
    }

    #[test]
    fn headings_in_code_blocks_and_hashtags_are_text() {
        let doc = parse("# Título\n\n```\n# no es título\n```\n#hashtag\n").unwrap();
        assert_eq!(doc.sections.len(), 1);
        assert!(doc.sections[0].text.contains("# no es título"));
        assert!(doc.sections[0].text.contains("#hashtag"));
    }

    #[test]
    fn tables_become_readable_rows_and_lists_stay() {
        let doc = parse(
            "## Motor\n\n| Dato | 1.6 SCe | 1.3 Turbo |\n|---|:---:|---|\n| Potencia | 114 hp | 154 hp |\n\
             | Torque | 156 Nm | |\n\n| Dato | Valor |\n|---|---|\n| Largo | 4.341 mm |\n\n- Tanque: 50 l\n- 5 puestos\n",
        )
        .unwrap();
        assert_eq!(
            doc.sections[0].text,
            "Potencia — 1.6 SCe: 114 hp; 1.3 Turbo: 154 hp\nTorque — 1.6 SCe: 156 Nm\n\n\
             Dato: Valor\nLargo: 4.341 mm\n\n- Tanque: 50 l\n- 5 puestos"
        );
    }

    #[test]
    fn wrapped_prose_and_list_items_become_one_line_each() {
        let doc = parse(
            "> Cifras de referencia,\n> pueden variar.\n\nLa Duster es\nuna SUV.\n\n\n\n\
             - 1.6 manual: 12 km/l;\n  en carretera 14 km/l.\n- Tanque: 50 litros.\n1. uno\n2) dos\n\n\
             ```\ncódigo\n  sangrado\n```\n",
        )
        .unwrap();
        assert_eq!(
            doc.sections[0].text,
            "Cifras de referencia, pueden variar.\n\nLa Duster es una SUV.\n\n\
             - 1.6 manual: 12 km/l; en carretera 14 km/l.\n- Tanque: 50 litros.\n1. uno\n2) dos\n\n\
             ```\ncódigo\n  sangrado\n```"
        );
    }

    #[test]
    fn irregular_tables_are_kept_as_written() {
        let doc = parse("| a | b |\n|---|---|\n| 1 | 2 | 3 |\n").unwrap();
        assert_eq!(doc.sections[0].text, "| a | b |\n|---|---|\n| 1 | 2 | 3 |");
    }

    #[test]
    fn escaped_pipes_stay_in_cells() {
        assert_eq!(cells("| a \\| b | c |"), vec!["a | b", "c"]);
    }
}
