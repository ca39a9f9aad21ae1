//! Puts a streamed completion back together. Text arrives in `delta.content` pieces; a tool
//! call arrives in pieces keyed by `index` — id, type and name in the first, the JSON
//! arguments split anywhere across the following ones — so arguments are only parsed once
//! the stream has ended. Only the first choice counts (we never ask for more than one).

use std::collections::BTreeMap;

use async_openai::types::chat::{CreateChatCompletionStreamResponse, FinishReason};

use super::{Completion, ToolCall};

/// Why the pieces do not make a completion.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Unusable {
    /// The stream ended before a chunk with `finish_reason`.
    Unfinished,
    /// A tool call without a name, or whose arguments are not a JSON object.
    BadToolCall(String),
}

#[derive(Debug, Default)]
struct PartialCall {
    id: Option<String>,
    name: Option<String>,
    arguments: String,
}

/// Collects chunks in arrival order.
#[derive(Debug, Default)]
pub(super) struct Assembler {
    text: String,
    calls: BTreeMap<u32, PartialCall>,
    finish_reason: Option<String>,
}

impl Assembler {
    /// Takes one chunk; returns its text, if it carries any, to stream on.
    pub(super) fn push(&mut self, chunk: CreateChatCompletionStreamResponse) -> Option<String> {
        let choice = chunk.choices.into_iter().find(|choice| choice.index == 0)?;
        if let Some(reason) = choice.finish_reason {
            self.finish_reason = Some(finish_reason_name(reason).to_owned());
        }
        let delta = choice.delta;
        for piece in delta.tool_calls.into_iter().flatten() {
            let call = self.calls.entry(piece.index).or_default();
            if let Some(id) = piece.id.filter(|id| !id.is_empty()) {
                call.id.get_or_insert(id);
            }
            if let Some(function) = piece.function {
                if let Some(name) = function.name.filter(|name| !name.is_empty()) {
                    call.name.get_or_insert(name);
                }
                if let Some(arguments) = function.arguments {
                    call.arguments.push_str(&arguments);
                }
            }
        }
        // A refusal is the model's answer too, in its own field.
        let piece: String = [delta.content, delta.refusal]
            .into_iter()
            .flatten()
            .collect();
        if piece.is_empty() {
            return None;
        }
        self.text.push_str(&piece);
        Some(piece)
    }

    /// The whole completion, once the stream has ended.
    pub(super) fn finish(self) -> Result<Completion, Unusable> {
        let Some(finish_reason) = self.finish_reason else {
            return Err(Unusable::Unfinished);
        };
        let mut tool_calls = Vec::with_capacity(self.calls.len());
        for (index, call) in self.calls {
            let name = call.name.ok_or_else(|| {
                Unusable::BadToolCall(format!("tool call number {index} has no function name"))
            })?;
            let arguments = if call.arguments.trim().is_empty() {
                serde_json::Value::Object(serde_json::Map::new())
            } else {
                serde_json::from_str(&call.arguments).map_err(|err| {
                    Unusable::BadToolCall(format!(
                        "the arguments of `{name}` are not valid JSON ({err}): {}",
                        preview(&call.arguments)
                    ))
                })?
            };
            if !arguments.is_object() {
                return Err(Unusable::BadToolCall(format!(
                    "the arguments of `{name}` are not a JSON object: {}",
                    preview(&call.arguments)
                )));
            }
            tool_calls.push(ToolCall {
                id: call.id.unwrap_or_else(|| format!("call_{index}")),
                name,
                arguments,
            });
        }
        Ok(Completion {
            text: self.text,
            tool_calls,
            finish_reason: Some(finish_reason),
        })
    }
}

fn finish_reason_name(reason: FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::FunctionCall => "function_call",
    }
}

fn preview(text: &str) -> String {
    let mut short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A chunk as the OpenAI API documents it, around `delta`.
    fn chunk(
        delta: serde_json::Value,
        finish_reason: Option<&str>,
    ) -> CreateChatCompletionStreamResponse {
        serde_json::from_value(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": "gpt-4o-mini",
            "system_fingerprint": null,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]
        }))
        .expect("a documented chunk parses")
    }

    #[test]
    fn text_pieces_are_passed_on_and_joined() {
        let mut assembler = Assembler::default();
        assert_eq!(
            assembler.push(chunk(json!({"role": "assistant", "content": ""}), None)),
            None
        );
        assert_eq!(
            assembler.push(chunk(json!({"content": "El Tiguan "}), None)),
            Some("El Tiguan ".into())
        );
        assert_eq!(
            assembler.push(chunk(json!({"content": "rinde 16 km/l."}), None)),
            Some("rinde 16 km/l.".into())
        );
        assert_eq!(assembler.push(chunk(json!({}), Some("stop"))), None);
        let completion = assembler.finish().expect("complete");
        assert_eq!(completion.text, "El Tiguan rinde 16 km/l.");
        assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
        assert!(completion.tool_calls.is_empty());
    }

    #[test]
    fn tool_calls_are_assembled_by_index() {
        let mut assembler = Assembler::default();
        assembler.push(chunk(
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function", "function": {"name": "start_flow", "arguments": ""}}
            ]}),
            None,
        ));
        assembler.push(chunk(
            json!({"tool_calls": [
                {"index": 0, "function": {"arguments": "{\"flow\": \"test_"}},
                {"index": 1, "id": "call_b", "type": "function", "function": {"name": "no_args", "arguments": ""}}
            ]}),
            None,
        ));
        assembler.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "drive\", \"model\": \"Tiguan\"}"}}]}),
            None,
        ));
        assembler.push(chunk(json!({}), Some("tool_calls")));
        let completion = assembler.finish().expect("complete");
        assert_eq!(completion.text, "");
        assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(
            completion.tool_calls,
            vec![
                ToolCall {
                    id: "call_a".into(),
                    name: "start_flow".into(),
                    arguments: json!({"flow": "test_drive", "model": "Tiguan"}),
                },
                ToolCall {
                    id: "call_b".into(),
                    name: "no_args".into(),
                    arguments: json!({}),
                },
            ]
        );
    }

    #[test]
    fn broken_arguments_and_unfinished_streams_are_refused() {
        let mut assembler = Assembler::default();
        assembler.push(chunk(
            json!({"tool_calls": [{"index": 0, "id": "c", "type": "function", "function": {"name": "book", "arguments": "{\"date\": "}}]}),
            Some("tool_calls"),
        ));
        match assembler.finish() {
            Err(Unusable::BadToolCall(reason)) => assert!(reason.contains("`book`"), "{reason}"),
            other => panic!("expected a bad tool call, got {other:?}"),
        }

        let mut assembler = Assembler::default();
        assembler.push(chunk(
            json!({"tool_calls": [{"index": 0, "function": {"name": "book", "arguments": "[1, 2]"}}]}),
            Some("tool_calls"),
        ));
        assert!(matches!(assembler.finish(), Err(Unusable::BadToolCall(_))));

        let mut assembler = Assembler::default();
        assembler.push(chunk(json!({"content": "Hola"}), None));
        assert_eq!(assembler.finish(), Err(Unusable::Unfinished));
    }

    #[test]
    fn other_choices_and_empty_chunks_are_ignored() {
        let mut assembler = Assembler::default();
        let usage_only: CreateChatCompletionStreamResponse = serde_json::from_value(json!({
            "id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []
        }))
        .expect("parses");
        assert_eq!(assembler.push(usage_only), None);
        let mut second = chunk(json!({"content": "otra"}), None);
        second.choices[0].index = 1;
        assert_eq!(assembler.push(second), None);
        assembler.push(chunk(json!({"content": "sí"}), Some("stop")));
        assert_eq!(assembler.finish().expect("complete").text, "sí");
    }
}
