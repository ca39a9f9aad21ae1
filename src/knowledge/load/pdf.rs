//! PDF fichas técnicas: text extraction with pdf-extract, one section per page (page
//! numbers are what staff and customers use to find a figure in the original).
//! pdf-extract can panic on unusual files, so extraction runs under `catch_unwind`: one
//! bad PDF is reported and skipped, it never takes down ingest or `serve`.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pdf_extract::{Document, Object, PlainTextOutput};

use super::Problem;

/// Text of each page that has any, with its 1-based page number, and the document's own
/// title when it has a meaningful one.
#[derive(Debug)]
pub(crate) struct Pdf {
    pub info_title: Option<String>,
    pub pages: Vec<(u32, String)>,
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Pdf, Problem> {
    match catch_unwind(AssertUnwindSafe(|| extract(bytes))) {
        Ok(result) => result,
        Err(_) => Err(damaged("the PDF reader stopped on an unexpected structure")),
    }
}

fn extract(bytes: &[u8]) -> Result<Pdf, Problem> {
    let mut doc = Document::load_mem(bytes).map_err(|err| damaged(&err.to_string()))?;
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        return Err(Problem::whole(
            "this PDF is protected with a password, so its text cannot be read",
            "Save an unprotected copy (open it and print it to a new PDF) and put that copy \
             in the knowledge folder instead",
        ));
    }
    let info_title = info_title(&doc);
    let mut pages = Vec::new();
    let mut unreadable = 0;
    for number in doc.get_pages().keys().copied() {
        let mut text = String::new();
        let result = {
            let mut output = PlainTextOutput::new(&mut text);
            pdf_extract::output_doc_page(&doc, &mut output, number)
        };
        match result {
            Ok(()) => {
                let text = tidy(&text);
                if !text.is_empty() {
                    pages.push((number, text));
                }
            }
            Err(err) => {
                unreadable += 1;
                tracing::warn!(page = number, error = ?err, "skipping a PDF page whose text cannot be read");
            }
        }
    }
    if pages.is_empty() {
        return Err(if unreadable > 0 {
            damaged("no page could be read")
        } else {
            Problem::whole(
                "no text could be read from this PDF; it is probably a scanned image",
                "Use a PDF with selectable text (run it through OCR), or write its figures \
                 into a Markdown spec sheet",
            )
        });
    }
    Ok(Pdf { info_title, pages })
}

fn damaged(reason: &str) -> Problem {
    Problem::whole(
        format!("this PDF cannot be read ({reason}); it may be damaged or not really a PDF"),
        "Open it in a PDF viewer and save (or print) it again as a new PDF, or write its \
         figures into a Markdown spec sheet",
    )
}

/// The `/Title` of the document info, unless it is an editor's leftover
/// ("Microsoft Word - ficha.docx", "Untitled").
fn info_title(doc: &Document) -> Option<String> {
    let info = match doc.trailer.get(b"Info").ok()? {
        Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        Object::Dictionary(dict) => dict,
        _ => return None,
    };
    let title = pdf_extract::decode_text_string(info.get(b"Title").ok()?).ok()?;
    let title = title.trim();
    let lower = title.to_lowercase();
    let leftover = [
        "untitled",
        "sin título",
        "microsoft ",
        ".doc",
        ".pdf",
        ".xls",
        ".ppt",
    ]
    .iter()
    .any(|junk| lower.contains(junk));
    (!title.is_empty() && !leftover).then(|| title.to_owned())
}

/// Extracted text has trailing spaces and runs of blank lines where the layout had gaps.
fn tidy(text: &str) -> String {
    let mut tidy = String::with_capacity(text.len());
    let mut blanks = 0;
    for line in text.lines().map(str::trim_end) {
        if line.trim().is_empty() {
            blanks += 1;
            continue;
        }
        if !tidy.is_empty() {
            tidy.push_str(if blanks > 0 { "\n\n" } else { "\n" });
        }
        blanks = 0;
        tidy.push_str(line.trim_start());
    }
    tidy
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal, valid PDF with one Helvetica text line per entry of `pages`. `object_4`
    /// is stored as object 4 (`<< >>` when empty) and `trailer` is added to the trailer
    /// dictionary, e.g. `/Encrypt 4 0 R`.
    pub(crate) fn tiny_pdf(pages: &[&[&str]], object_4: &str, trailer: &str) -> Vec<u8> {
        let object_4 = if object_4.is_empty() {
            "<< >>"
        } else {
            object_4
        };
        let mut objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            Vec::new(), // the page tree, once page ids are known
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .to_vec(),
            object_4.as_bytes().to_vec(),
        ];
        let mut kids = Vec::new();
        for lines in pages {
            let mut content = b"BT /F1 12 Tf 72 720 Td 16 TL\n".to_vec();
            for line in *lines {
                content.push(b'(');
                // WinAnsi is Latin-1 for Spanish letters.
                content.extend(
                    line.chars()
                        .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')),
                );
                content.extend_from_slice(b") Tj T*\n");
            }
            content.extend_from_slice(b"ET");
            let page_id = objects.len() + 1;
            kids.push(format!("{page_id} 0 R"));
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                    page_id + 1
                )
                .into_bytes(),
            );
            let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
            stream.extend(content);
            stream.extend_from_slice(b"\nendstream");
            objects.push(stream);
        }
        objects[1] = format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            kids.len()
        )
        .into_bytes();
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", i + 1).into_bytes());
            out.extend(object);
            out.extend_from_slice(b"\nendobj\n");
        }
        let xref = out.len();
        out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).into_bytes());
        for offset in offsets {
            out.extend(format!("{offset:010} 00000 n \n").into_bytes());
        }
        out.extend(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .into_bytes(),
        );
        out
    }

    #[test]
    fn pages_become_text_with_accents() {
        let pdf = parse(&tiny_pdf(
            &[
                &["Ficha técnica", "Motor 1.25 de 83 hp."],
                &[],
                &["Consumo combinado: 18 km/l."],
            ],
            "",
            "",
        ))
        .unwrap();
        let numbers: Vec<u32> = pdf.pages.iter().map(|(n, _)| *n).collect();
        assert_eq!(numbers, vec![1, 3], "the empty page is skipped");
        assert!(pdf.pages[0].1.contains("Ficha técnica"), "{:?}", pdf.pages);
        assert!(pdf.pages[0].1.contains("83 hp"), "{:?}", pdf.pages);
        assert!(pdf.pages[1].1.contains("18 km/l"), "{:?}", pdf.pages);
        assert_eq!(pdf.info_title, None);
    }

    #[test]
    fn garbage_and_truncated_files_are_errors_not_panics() {
        let problem = parse(b"esto no es un PDF").unwrap_err();
        assert!(problem.problem.contains("cannot be read"), "{problem:?}");
        let whole = tiny_pdf(&[&["Texto"]], "", "");
        let problem = parse(&whole[..whole.len() / 2]).unwrap_err();
        assert!(problem.fix.contains("save"), "{problem:?}");
    }

    #[test]
    fn password_protected_files_say_so() {
        let pdf = tiny_pdf(
            &[&["Secreto"]],
            "<< /Filter /Standard /V 1 /R 2 /O <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> \
             /U <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> /P -4 >>",
            "/Encrypt 4 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]",
        );
        let problem = parse(&pdf).unwrap_err();
        assert!(problem.problem.contains("password"), "{problem:?}");
    }

    #[test]
    fn image_only_pdfs_are_reported() {
        let problem = parse(&tiny_pdf(&[&[]], "", "")).unwrap_err();
        assert!(problem.problem.contains("scanned"), "{problem:?}");
    }

    #[test]
    fn editor_leftover_titles_are_ignored() {
        let good = tiny_pdf(&[&["x"]], "<< /Title (Ficha Kia Picanto) >>", "/Info 4 0 R");
        assert_eq!(
            parse(&good).unwrap().info_title.as_deref(),
            Some("Ficha Kia Picanto")
        );
        let junk = tiny_pdf(
            &[&["x"]],
            "<< /Title (Microsoft Word - ficha.docx) >>",
            "/Info 4 0 R",
        );
        assert_eq!(parse(&junk).unwrap().info_title, None);
    }
}
