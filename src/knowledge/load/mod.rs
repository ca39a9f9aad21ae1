//! Reads the knowledge folder into [`SourceDocument`]s: Markdown with optional front
//! matter, PDF fichas técnicas and CSV spec tables, one module per format. PDFs and CSVs
//! take their metadata from a `<file>.meta.yaml` sidecar, which is part of the file's
//! hash so editing only the metadata re-ingests the file.
//!
//! Errors are for the staff who edit these files: the file, the line and column when
//! known, what is wrong and how to fix it.

use std::path::{Path, PathBuf};

use super::document::{DocumentMeta, Section, SourceDocument, content_hash};

mod csv;
mod markdown;
mod meta;
mod pdf;

pub use meta::{sidecar_owner, sidecar_path};

/// A knowledge file that cannot be read; ingest reports it and goes on with the others.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {problem}. {fix}", location(.file, .position))]
pub struct LoadError {
    file: String,
    position: Option<(u64, u64)>,
    problem: String,
    fix: String,
}

impl LoadError {
    /// The file, relative to the knowledge folder (a sidecar when the problem is there).
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Line and column (from 1) in [`Self::file`], when the problem has a place.
    pub fn position(&self) -> Option<(u64, u64)> {
        self.position
    }

    fn new(file: &str, problem: Problem) -> Self {
        Self {
            file: file.to_owned(),
            position: problem.position,
            problem: problem.problem,
            fix: problem.fix,
        }
    }
}

fn location(file: &str, position: &Option<(u64, u64)>) -> String {
    match position {
        Some((line, column)) => format!("{file}:{line}:{column}"),
        None => file.to_owned(),
    }
}

/// What a format reader found wrong, before the file's name is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub position: Option<(u64, u64)>,
    pub problem: String,
    pub fix: String,
}

impl Problem {
    pub(crate) fn at(
        line: u64,
        column: u64,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            position: Some((line, column)),
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn whole(problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            position: None,
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

impl From<meta::YamlProblem> for Problem {
    fn from(yaml: meta::YamlProblem) -> Self {
        Self::at(yaml.line, yaml.column, yaml.problem, yaml.fix)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Markdown,
    Pdf,
    Csv,
}

fn format_of(path: &Path) -> Option<Format> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "md" | "markdown" => Some(Format::Markdown),
        "pdf" => Some(Format::Pdf),
        "csv" => Some(Format::Csv),
        _ => None,
    }
}

/// Whether ingest reads this file: Markdown, PDF or CSV by extension (any case), but not
/// hidden files, office lock files (`~$ficha.csv`), or a `README.md` (notes for staff
/// about the folder, not answers for customers — wherever it is).
pub fn is_knowledge_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    if name.starts_with('.') || name.starts_with("~$") {
        return false;
    }
    if name.eq_ignore_ascii_case("readme.md") || name.eq_ignore_ascii_case("readme.markdown") {
        return false;
    }
    format_of(path).is_some()
}

/// Every knowledge file under `root`, sorted, skipping hidden folders (`.git`, `.obsidian`).
/// Unreadable folders are skipped with a warning; a missing root gives no files.
pub fn knowledge_files(root: &Path) -> Vec<PathBuf> {
    let walker = walkdir::WalkDir::new(root)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| {
            entry.depth() == 0
                || !entry
                    .file_name()
                    .to_str()
                    .is_some_and(|name| name.starts_with('.'))
        });
    let mut files = Vec::new();
    for entry in walker {
        match entry {
            Ok(entry) if entry.file_type().is_file() && is_knowledge_file(entry.path()) => {
                files.push(entry.into_path());
            }
            Ok(_) => {}
            Err(err) if err.depth() == 0 => {}
            Err(err) => {
                tracing::warn!(path = ?err.path(), error = %err, "skipping what cannot be read in the knowledge folder");
            }
        }
    }
    files.sort();
    files
}

/// The path of `path` relative to the knowledge folder, with `/` separators: what
/// [`SourceDocument::source`] and citations show.
pub fn relative_source(root: &Path, path: &Path) -> String {
    let Ok(relative) = path.strip_prefix(root) else {
        return path.to_string_lossy().into_owned();
    };
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads one knowledge file. `path` is the file's path (as [`knowledge_files`] returns
/// it, or relative to `root`).
pub fn load_file(root: &Path, path: &Path) -> Result<SourceDocument, LoadError> {
    let full = if path.is_absolute() || path.starts_with(root) {
        path.to_path_buf()
    } else {
        root.join(path)
    };
    let source = relative_source(root, &full);
    let fail = |problem: Problem| LoadError::new(&source, problem);
    let Some(format) = format_of(&full) else {
        return Err(fail(Problem::whole(
            "this kind of file is not read as knowledge",
            "Use Markdown (.md), PDF (.pdf) or CSV (.csv)",
        )));
    };
    let bytes = std::fs::read(&full).map_err(|err| fail(unreadable(&err)))?;

    match format {
        Format::Markdown => {
            let text = std::str::from_utf8(&bytes).map_err(|err| {
                fail(Problem::whole(
                    format!(
                        "the file is not UTF-8 text (invalid byte after position {})",
                        err.valid_up_to()
                    ),
                    "Save it again with UTF-8 encoding (any code editor offers it)",
                ))
            })?;
            let doc = markdown::parse(text).map_err(fail)?;
            let title = doc
                .meta
                .title
                .clone()
                .or(doc.first_heading)
                .unwrap_or_else(|| title_from_name(&full));
            Ok(SourceDocument {
                file_hash: content_hash(&bytes),
                meta: document_meta(doc.meta, title),
                sections: doc.sections,
                source,
            })
        }
        Format::Pdf => {
            let (raw_meta, file_hash) = sidecar(root, &full, &bytes)?;
            let pdf = pdf::parse(&bytes).map_err(fail)?;
            let title = raw_meta
                .title
                .clone()
                .or(pdf.info_title)
                .unwrap_or_else(|| title_from_name(&full));
            let sections = pdf
                .pages
                .into_iter()
                .map(|(page, text)| Section {
                    heading_path: vec![title.clone(), format!("página {page}")],
                    text,
                })
                .collect();
            Ok(SourceDocument {
                source,
                file_hash,
                meta: document_meta(raw_meta, title),
                sections,
            })
        }
        Format::Csv => {
            let (raw_meta, file_hash) = sidecar(root, &full, &bytes)?;
            let title = raw_meta
                .title
                .clone()
                .unwrap_or_else(|| title_from_name(&full));
            let sections = csv::parse(&bytes, &title).map_err(fail)?;
            Ok(SourceDocument {
                source,
                file_hash,
                meta: document_meta(raw_meta, title),
                sections,
            })
        }
    }
}

/// Reads `<file>.meta.yaml` when present; returns its metadata and the hash of the file's
/// bytes followed by the sidecar's.
fn sidecar(root: &Path, file: &Path, bytes: &[u8]) -> Result<(meta::RawMeta, String), LoadError> {
    let path = sidecar_path(file);
    let sidecar_source = relative_source(root, &path);
    let fail = |problem: Problem| LoadError::new(&sidecar_source, problem);
    let yaml = match std::fs::read(&path) {
        Ok(yaml) => yaml,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok((meta::RawMeta::default(), content_hash(bytes)));
        }
        Err(err) => return Err(fail(unreadable(&err))),
    };
    let text = std::str::from_utf8(&yaml).map_err(|_| {
        fail(Problem::whole(
            "the metadata file is not UTF-8 text",
            "Save it again with UTF-8 encoding",
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw = meta::parse_meta(text, 1).map_err(|yaml| fail(yaml.into()))?;
    let mut hashed = Vec::with_capacity(bytes.len() + yaml.len() + 1);
    hashed.extend_from_slice(bytes);
    // A separator so moving bytes between the file and its sidecar changes the hash.
    hashed.push(0);
    hashed.extend_from_slice(&yaml);
    Ok((raw, content_hash(&hashed)))
}

fn unreadable(err: &std::io::Error) -> Problem {
    Problem::whole(
        format!("the file cannot be read ({err})"),
        "Check that it still exists and that the user running showroom may read it",
    )
}

fn document_meta(raw: meta::RawMeta, title: String) -> DocumentMeta {
    DocumentMeta {
        title,
        brand: raw.brand,
        model: raw.model,
        year: raw.year,
        kind: raw.kind,
        url: raw.url,
    }
}

/// `renault-duster_versiones.csv` → "Renault duster versiones": the title of a file
/// that names none.
fn title_from_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let words = stem
        .split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => stem.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/knowledge")
    }

    fn write(root: &Path, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn knowledge_files_are_recognised_by_extension() {
        assert!(is_knowledge_file(Path::new("specs/kia.md")));
        assert!(is_knowledge_file(Path::new("specs/KIA.MARKDOWN")));
        assert!(is_knowledge_file(Path::new("fichas/Picanto.PDF")));
        assert!(is_knowledge_file(Path::new("tablas/duster.csv")));
        assert!(!is_knowledge_file(Path::new("README.md")));
        assert!(!is_knowledge_file(Path::new("specs/readme.md")));
        assert!(!is_knowledge_file(Path::new("specs/.borrador.md")));
        assert!(!is_knowledge_file(Path::new("tablas/~$duster.csv")));
        assert!(!is_knowledge_file(Path::new("synonyms.yaml")));
        assert!(!is_knowledge_file(Path::new("ficha.pdf.meta.yaml")));
        assert!(!is_knowledge_file(Path::new("notas.txt")));
    }

    #[test]
    fn walking_skips_hidden_folders_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "README.md", "# notas");
        write(root, "specs/b.md", "# B");
        write(root, "specs/a.csv", "x\n1\n");
        write(root, "faq/garantia.md", "# G");
        write(root, ".git/x.md", "# no");
        write(root, "specs/.obsidian/y.md", "# no");
        write(root, "specs/a.csv.meta.yaml", "title: A");
        let files: Vec<String> = knowledge_files(root)
            .iter()
            .map(|p| relative_source(root, p))
            .collect();
        assert_eq!(files, vec!["faq/garantia.md", "specs/a.csv", "specs/b.md"]);
        assert!(knowledge_files(&root.join("missing")).is_empty());
    }

    #[test]
    fn markdown_title_falls_back_to_heading_then_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let with_meta = write(
            root,
            "a.md",
            "---\ntitle: Desde metadatos\n---\n# Encabezado\nx\n",
        );
        let with_heading = write(root, "b.md", "## no\n\n# Encabezado\nx\n");
        let bare = write(root, "faq/prueba-de_manejo.md", "Texto sin títulos.\n");
        assert_eq!(
            load_file(root, &with_meta).unwrap().meta.title,
            "Desde metadatos"
        );
        assert_eq!(
            load_file(root, &with_heading).unwrap().meta.title,
            "Encabezado"
        );
        let doc = load_file(root, &bare).unwrap();
        assert_eq!(doc.meta.title, "Prueba de manejo");
        assert_eq!(doc.source, "faq/prueba-de_manejo.md");
        assert_eq!(doc.file_hash, content_hash(b"Texto sin t\xc3\xadtulos.\n"));
    }

    #[test]
    fn front_matter_errors_name_file_line_and_fix() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let path = write(
            root,
            "specs/kia.md",
            "---\ntitle: Kia\nbrand: Kia\nmodelo: sportage\n---\n# Kia\n",
        );
        let err = load_file(root, &path).unwrap_err();
        assert_eq!(err.file(), "specs/kia.md");
        assert_eq!(err.position(), Some((4, 1)));
        let message = err.to_string();
        assert!(
            message.starts_with("specs/kia.md:4:1: unknown key `modelo`"),
            "{message}"
        );
        assert!(message.contains("Did you mean `model`?"), "{message}");
    }

    #[test]
    fn the_fixture_pdf_is_read_with_its_sidecar() {
        let root = fixtures();
        let doc = load_file(&root, &root.join("kia-picanto-ficha.pdf")).unwrap();
        assert_eq!(doc.source, "kia-picanto-ficha.pdf");
        assert_eq!(doc.meta.title, "Ficha técnica Kia Picanto");
        assert_eq!(doc.meta.model.as_deref(), Some("picanto"));
        assert_eq!(doc.meta.brand.as_deref(), Some("Kia"));
        assert_eq!(doc.meta.year, Some(2025));
        assert_eq!(doc.sections.len(), 2);
        assert_eq!(
            doc.sections[1].heading_path,
            vec!["Ficha técnica Kia Picanto", "página 2"]
        );
        assert!(doc.sections[0].text.contains("83 hp"), "{:?}", doc.sections);
        assert!(
            doc.sections[1].text.contains("18 km/l"),
            "{:?}",
            doc.sections
        );
        let pdf_only = content_hash(&std::fs::read(root.join("kia-picanto-ficha.pdf")).unwrap());
        assert_ne!(doc.file_hash, pdf_only, "the sidecar is part of the hash");
    }

    #[test]
    fn editing_a_sidecar_changes_the_hash_and_its_errors_point_at_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let csv = write(root, "tablas/duster.csv", "version,motor\nZen,1.6\n");
        let bare = load_file(root, &csv).unwrap();
        assert_eq!(bare.meta.title, "Duster");
        assert_eq!(bare.file_hash, content_hash(b"version,motor\nZen,1.6\n"));

        write(
            root,
            "tablas/duster.csv.meta.yaml",
            "title: Renault Duster\nmodel: duster\n",
        );
        let described = load_file(root, &csv).unwrap();
        assert_eq!(described.meta.model.as_deref(), Some("duster"));
        assert_eq!(
            described.sections[0].heading_path,
            vec!["Renault Duster", "Zen"]
        );
        assert_ne!(described.file_hash, bare.file_hash);

        write(
            root,
            "tablas/duster.csv.meta.yaml",
            "title: Renault Duster\nmodel: duster\nyear: 2025\n",
        );
        assert_ne!(
            load_file(root, &csv).unwrap().file_hash,
            described.file_hash
        );

        write(
            root,
            "tablas/duster.csv.meta.yaml",
            "title: Renault Duster\nmarca: Renault\n",
        );
        let err = load_file(root, &csv).unwrap_err();
        assert_eq!(err.file(), "tablas/duster.csv.meta.yaml");
        assert_eq!(err.position(), Some((2, 1)));
    }

    #[test]
    fn ragged_csv_and_corrupt_pdf_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let csv = write(root, "t.csv", "a,b\n1,2\n3\n");
        let err = load_file(root, &csv).unwrap_err();
        assert!(
            err.to_string().starts_with("t.csv:3:1: row 2 has 1 values"),
            "{err}"
        );

        let pdf = write(root, "fichas/rota.pdf", b"%PDF-1.4\nbasura");
        let err = load_file(root, &pdf).unwrap_err();
        assert_eq!(err.file(), "fichas/rota.pdf");
        assert!(err.to_string().contains("cannot be read"), "{err}");
    }

    #[test]
    fn relative_paths_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "faq/a.md", "# A\ntexto\n");
        assert_eq!(
            load_file(root, Path::new("faq/a.md")).unwrap().source,
            "faq/a.md"
        );
        let err = load_file(root, Path::new("faq/no.md")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("faq/no.md: the file cannot be read"),
            "{err}"
        );
    }

    #[test]
    fn the_shipped_knowledge_folder_loads() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("knowledge");
        let files = knowledge_files(&root);
        assert!(files.len() >= 15, "{files:?}");
        for file in &files {
            let doc = load_file(&root, file).unwrap_or_else(|err| panic!("{err}"));
            assert!(!doc.sections.is_empty(), "{} has no sections", doc.source);
        }
    }
}
