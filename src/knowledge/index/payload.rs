//! A chunk as the payload of its point, the same in both backends: field names, the
//! conversion both ways, and the per-file tally behind `files()`. JSON is the common form;
//! the Qdrant server's protobuf values are converted here too, so no backend spells a
//! field name of its own.

use std::collections::{BTreeMap, HashMap};

use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{ListValue, NullValue, Struct};
use serde_json::{Map, Number, Value};

use super::{IndexError, IndexedFile};
use crate::knowledge::document::{Chunk, ChunkId, DocumentMeta};

pub(super) const SOURCE: &str = "source";
pub(super) const FILE_HASH: &str = "file_hash";
pub(super) const ORDINAL: &str = "ordinal";
pub(super) const HEADING_PATH: &str = "heading_path";
pub(super) const TEXT: &str = "text";
pub(super) const TITLE: &str = "title";
pub(super) const BRAND: &str = "brand";
pub(super) const MODEL: &str = "model";
pub(super) const YEAR: &str = "year";
pub(super) const KIND: &str = "kind";
pub(super) const URL: &str = "url";

/// Fields with a keyword index, for filters and deletes by file.
pub(super) const KEYWORD_FIELDS: [&str; 4] = [SOURCE, MODEL, BRAND, KIND];

/// The payload stored with a chunk's point. Absent metadata is left out rather than
/// stored as `null`, so "no model" and "model not set" are the same thing to a filter.
pub(super) fn to_payload(chunk: &Chunk) -> Map<String, Value> {
    let mut payload = Map::new();
    payload.insert(SOURCE.into(), chunk.source.clone().into());
    payload.insert(FILE_HASH.into(), chunk.file_hash.clone().into());
    payload.insert(ORDINAL.into(), chunk.ordinal.into());
    payload.insert(
        HEADING_PATH.into(),
        Value::Array(
            chunk
                .heading_path
                .iter()
                .cloned()
                .map(Value::from)
                .collect(),
        ),
    );
    payload.insert(TEXT.into(), chunk.text.clone().into());
    payload.insert(TITLE.into(), chunk.meta.title.clone().into());
    let meta = &chunk.meta;
    let optional = [
        (BRAND, meta.brand.clone().map(Value::from)),
        (MODEL, meta.model.clone().map(Value::from)),
        (YEAR, meta.year.map(Value::from)),
        (KIND, meta.kind.clone().map(Value::from)),
        (URL, meta.url.clone().map(Value::from)),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            payload.insert(key.into(), value);
        }
    }
    payload
}

/// Reads a chunk back from its point's id and payload.
pub(super) fn from_payload(id: ChunkId, payload: &Map<String, Value>) -> Result<Chunk, IndexError> {
    let fields = Fields { id, payload };
    let ordinal = fields.integer(ORDINAL)?;
    let year = fields.optional_integer(YEAR)?;
    Ok(Chunk {
        id,
        source: fields.string(SOURCE)?,
        file_hash: fields.string(FILE_HASH)?,
        ordinal: u32::try_from(ordinal).map_err(|_| fields.wrong(ORDINAL, "a position"))?,
        heading_path: fields.strings(HEADING_PATH)?,
        text: fields.string(TEXT)?,
        meta: DocumentMeta {
            title: fields.string(TITLE)?,
            brand: fields.optional_string(BRAND)?,
            model: fields.optional_string(MODEL)?,
            year: year
                .map(u16::try_from)
                .transpose()
                .map_err(|_| fields.wrong(YEAR, "a year"))?,
            kind: fields.optional_string(KIND)?,
            url: fields.optional_string(URL)?,
        },
    })
}

/// The `source` and `file_hash` of a point, all `files()` reads.
pub(super) fn file_of(
    id: ChunkId,
    payload: &Map<String, Value>,
) -> Result<(String, String), IndexError> {
    let fields = Fields { id, payload };
    Ok((fields.string(SOURCE)?, fields.string(FILE_HASH)?))
}

/// Counts chunks per file. A file whose chunks disagree on the hash (an ingest that
/// stopped half way) gets an empty hash, which matches no file on disk, so the next
/// ingest indexes it again.
#[derive(Debug, Default)]
pub(super) struct FileTally(BTreeMap<String, IndexedFile>);

impl FileTally {
    pub(super) fn add(&mut self, source: String, file_hash: String) {
        let entry = self.0.entry(source).or_insert_with(|| IndexedFile {
            file_hash: file_hash.clone(),
            chunks: 0,
        });
        if entry.file_hash != file_hash {
            entry.file_hash.clear();
        }
        entry.chunks += 1;
    }

    pub(super) fn finish(self) -> BTreeMap<String, IndexedFile> {
        self.0
    }
}

struct Fields<'a> {
    id: ChunkId,
    payload: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn wrong(&self, key: &str, expected: &str) -> IndexError {
        IndexError::Payload(format!(
            "chunk {}: field `{key}` is missing or is not {expected}. The index was probably \
             written by another version of showroom; delete the index (or its collection) and \
             run `showroom kb ingest` to rebuild it",
            self.id
        ))
    }

    fn string(&self, key: &str) -> Result<String, IndexError> {
        self.optional_string(key)?
            .ok_or_else(|| self.wrong(key, "text"))
    }

    fn optional_string(&self, key: &str) -> Result<Option<String>, IndexError> {
        match self.payload.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.wrong(key, "text")),
        }
    }

    fn integer(&self, key: &str) -> Result<i64, IndexError> {
        self.optional_integer(key)?
            .ok_or_else(|| self.wrong(key, "a whole number"))
    }

    fn optional_integer(&self, key: &str) -> Result<Option<i64>, IndexError> {
        match self.payload.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_i64()
                // The server hands integers back as doubles when they went in as such.
                .or_else(|| {
                    number
                        .as_f64()
                        .filter(|f| f.fract() == 0.0)
                        .map(|f| f as i64)
                })
                .map(Some)
                .ok_or_else(|| self.wrong(key, "a whole number")),
            Some(_) => Err(self.wrong(key, "a whole number")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, IndexError> {
        let Some(Value::Array(items)) = self.payload.get(key) else {
            return Err(self.wrong(key, "a list of headings"));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                _ => Err(self.wrong(key, "a list of headings")),
            })
            .collect()
    }
}

/// JSON payload to the Qdrant server's values.
pub(super) fn to_qdrant(
    payload: Map<String, Value>,
) -> HashMap<String, qdrant_client::qdrant::Value> {
    payload
        .into_iter()
        .map(|(key, value)| (key, json_to_qdrant(value)))
        .collect()
}

/// The Qdrant server's values back to a JSON payload.
pub(super) fn from_qdrant(
    payload: HashMap<String, qdrant_client::qdrant::Value>,
) -> Map<String, Value> {
    payload
        .into_iter()
        .map(|(key, value)| (key, qdrant_to_json(value)))
        .collect()
}

fn json_to_qdrant(value: Value) -> qdrant_client::qdrant::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(NullValue::NullValue.into()),
        Value::Bool(flag) => Kind::BoolValue(flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Kind::IntegerValue(integer),
            None => Kind::DoubleValue(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Kind::StringValue(text),
        Value::Array(items) => Kind::ListValue(ListValue {
            values: items.into_iter().map(json_to_qdrant).collect(),
        }),
        Value::Object(map) => Kind::StructValue(Struct {
            fields: to_qdrant(map),
        }),
    };
    qdrant_client::qdrant::Value { kind: Some(kind) }
}

fn qdrant_to_json(value: qdrant_client::qdrant::Value) -> Value {
    match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(flag)) => Value::Bool(flag),
        Some(Kind::IntegerValue(integer)) => Value::Number(integer.into()),
        Some(Kind::DoubleValue(double)) => {
            Number::from_f64(double).map_or(Value::Null, Value::Number)
        }
        Some(Kind::StringValue(text)) => Value::String(text),
        Some(Kind::ListValue(list)) => {
            Value::Array(list.values.into_iter().map(qdrant_to_json).collect())
        }
        Some(Kind::StructValue(object)) => Value::Object(from_qdrant(object.fields)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(meta: DocumentMeta) -> Chunk {
        let heading_path = vec!["Kia Sportage".to_owned(), "Consumo".to_owned()];
        Chunk {
            id: ChunkId::for_content("specs/kia.md", &heading_path, "14 km/l"),
            source: "specs/kia.md".into(),
            file_hash: "abc".into(),
            ordinal: 3,
            heading_path,
            text: "14 km/l en ciudad".into(),
            meta,
        }
    }

    fn full_meta() -> DocumentMeta {
        DocumentMeta {
            title: "Kia Sportage".into(),
            brand: Some("Kia".into()),
            model: Some("sportage".into()),
            year: Some(2025),
            kind: Some("spec_sheet".into()),
            url: Some("https://example.com/sportage".into()),
        }
    }

    #[test]
    fn chunks_round_trip_through_json() {
        for meta in [full_meta(), DocumentMeta::default()] {
            let original = chunk(meta);
            let payload = to_payload(&original);
            assert_eq!(from_payload(original.id, &payload).unwrap(), original);
        }
    }

    #[test]
    fn chunks_round_trip_through_qdrant_values() {
        let original = chunk(full_meta());
        let payload = from_qdrant(to_qdrant(to_payload(&original)));
        assert_eq!(from_payload(original.id, &payload).unwrap(), original);
    }

    #[test]
    fn missing_metadata_is_left_out_so_filters_see_no_value() {
        let payload = to_payload(&chunk(DocumentMeta::default()));
        for key in [BRAND, MODEL, YEAR, KIND, URL] {
            assert!(!payload.contains_key(key), "{key} should be absent");
        }
        assert_eq!(
            payload[HEADING_PATH],
            serde_json::json!(["Kia Sportage", "Consumo"])
        );
    }

    #[test]
    fn damaged_payloads_name_the_field_and_the_fix() {
        let original = chunk(full_meta());
        let mut payload = to_payload(&original);
        payload.insert(ORDINAL.into(), "three".into());
        let message = from_payload(original.id, &payload).unwrap_err().to_string();
        assert!(message.contains("`ordinal`"), "{message}");
        assert!(message.contains("showroom kb ingest"), "{message}");

        payload.insert(ORDINAL.into(), 3.into());
        payload.remove(SOURCE);
        let message = from_payload(original.id, &payload).unwrap_err().to_string();
        assert!(message.contains("`source`"), "{message}");
    }

    #[test]
    fn whole_doubles_read_as_integers() {
        let original = chunk(full_meta());
        let mut payload = to_payload(&original);
        payload.insert(YEAR.into(), serde_json::json!(2025.0));
        assert_eq!(
            from_payload(original.id, &payload).unwrap().meta.year,
            Some(2025)
        );
        payload.insert(YEAR.into(), serde_json::json!(70000));
        assert!(from_payload(original.id, &payload).is_err());
    }

    #[test]
    fn tally_counts_chunks_and_flags_mixed_hashes() {
        let mut tally = FileTally::default();
        tally.add("a.md".into(), "h1".into());
        tally.add("a.md".into(), "h1".into());
        tally.add("b.md".into(), "h2".into());
        tally.add("b.md".into(), "h3".into());
        let files = tally.finish();
        assert_eq!(
            files["a.md"],
            IndexedFile {
                file_hash: "h1".into(),
                chunks: 2
            }
        );
        assert_eq!(
            files["b.md"],
            IndexedFile {
                file_hash: String::new(),
                chunks: 2
            }
        );
    }
}
