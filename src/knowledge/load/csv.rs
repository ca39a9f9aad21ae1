//! CSV spec tables: the header names the columns, each row (a version or trim) becomes
//! one section that reads like a sentence — "version: Zen. motor: 1.6 SCe gasolina.
//! potencia hp: 114." — under the heading path `[title, <first column>]`.
//! Spreadsheets saved in Spanish locales separate with `;`, so that is detected too.

use super::Problem;
use crate::knowledge::Section;

pub(crate) fn parse(bytes: &[u8], title: &str) -> Result<Vec<Section>, Problem> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(bytes))
        .has_headers(true)
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(describe)?
        .iter()
        .map(column_words)
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(Problem::at(
            1,
            1,
            "the first row (the column names) is empty",
            "Put the column names in the first row, e.g. `version,motor,potencia_hp`",
        ));
    }
    let mut sections = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(describe)?;
        let row = index + 1;
        let text: Vec<String> = headers
            .iter()
            .zip(record.iter())
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, value)| {
                let value = value.trim_end_matches('.');
                if name.is_empty() {
                    value.to_owned()
                } else {
                    format!("{name}: {value}")
                }
            })
            .collect();
        if text.is_empty() {
            continue;
        }
        let label = match record.get(0).filter(|v| !v.is_empty()) {
            Some(first) => first.to_owned(),
            None => format!("fila {row}"),
        };
        sections.push(Section {
            heading_path: vec![title.to_owned(), label],
            text: format!("{}.", text.join(". ")),
        });
    }
    Ok(sections)
}

/// `;` when the header line has more of them than commas (Excel in Spanish locales).
fn delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let count = |c: u8| header.iter().filter(|b| **b == c).count();
    if count(b';') > count(b',') {
        b';'
    } else {
        b','
    }
}

/// `potencia_hp` → "potencia hp": column names read as words in the passage.
fn column_words(header: &str) -> String {
    header
        .split(['_', ' '])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn describe(err: csv::Error) -> Problem {
    let line = err.position().map(|p| p.line()).unwrap_or(1);
    match err.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let line = pos.as_ref().map(|p| p.line()).unwrap_or(line);
            // Line 1 is the header, so data row n is on line n + 1 (without quoted newlines).
            let row = pos.as_ref().map(|p| p.record()).unwrap_or(0);
            Problem::at(
                line,
                1,
                format!("row {row} has {len} values but the header has {expected_len} columns"),
                "Give every row one value per column (leave a value empty with `,,`), and put \
                 values that contain a comma in double quotes",
            )
        }
        csv::ErrorKind::Utf8 { .. } => Problem::at(
            line,
            1,
            "the file is not UTF-8 text",
            "Save it again as \"CSV UTF-8\" (Excel: File → Save As → CSV UTF-8)",
        ),
        _ => Problem::at(
            line,
            1,
            format!("the table cannot be read: {err}"),
            "Check that it is a plain CSV file with the column names in the first row",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_becomes_a_readable_section() {
        let csv = "version,motor,potencia_hp,baul_litros\n\
                   Zen,1.6 SCe gasolina,114,445\n\
                   Iconic,\"1.3 TCe, turbo\",154,\n";
        let sections = parse(csv.as_bytes(), "Renault Duster versiones").unwrap();
        assert_eq!(sections.len(), 2);
        assert_eq!(
            sections[0].heading_path,
            vec!["Renault Duster versiones", "Zen"]
        );
        assert_eq!(
            sections[0].text,
            "version: Zen. motor: 1.6 SCe gasolina. potencia hp: 114. baul litros: 445."
        );
        assert_eq!(
            sections[1].text,
            "version: Iconic. motor: 1.3 TCe, turbo. potencia hp: 154."
        );
    }

    #[test]
    fn semicolons_and_bom_are_understood() {
        let csv = "\u{feff}versión;precio\nZen;89.990.000\n";
        let sections = parse(csv.as_bytes(), "t").unwrap();
        assert_eq!(sections[0].text, "versión: Zen. precio: 89.990.000.");
    }

    #[test]
    fn ragged_rows_name_the_row_and_line() {
        let csv = "version,motor\nZen,1.6\nIconic,1.3,extra\n";
        let problem = parse(csv.as_bytes(), "t").unwrap_err();
        assert_eq!(problem.position, Some((3, 1)));
        assert!(
            problem
                .problem
                .contains("row 2 has 3 values but the header has 2 columns"),
            "{problem:?}"
        );
    }

    #[test]
    fn latin1_files_are_refused_with_a_fix() {
        let problem = parse(b"versi\xf3n,motor\nZen,1.6\n", "t").unwrap_err();
        assert!(problem.fix.contains("CSV UTF-8"), "{problem:?}");
    }

    #[test]
    fn the_shipped_duster_table_reads() {
        let bytes = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/knowledge/specs/renault-duster-versiones.csv"
        ))
        .unwrap();
        let sections = parse(&bytes, "Renault Duster versiones").unwrap();
        assert_eq!(sections.len(), 5);
        assert!(sections[3].text.contains("potencia hp: 154"));
        assert_eq!(sections[3].heading_path[1], "Iconic");
    }
}
