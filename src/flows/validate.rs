//! Loads a flows folder and checks it, collecting every problem with its position:
//! YAML shape (first problem per file, from the parser), then across all files —
//! ids, jumps, reachability, templates and the values they use, input types, actions,
//! option sources, translations and trigger clashes. Only a set without problems
//! becomes a `FlowSet`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_saphyr::Spanned;

use super::diagnostic::{Diagnostic, Diagnostics, SourcePos, did_you_mean};
use super::input::InputKind;
use super::model::{
    Ask, Choice, Expect, Flow, FlowSet, Step, StepKind, Templates, Text, Value, condition_source,
};
use super::raw::{RawButton, RawFlow, RawStep, RawText};
use crate::config::Localized;
use crate::engine::fold;

/// What the bot knows besides the flow files: actions, option sources and the values
/// every template may use.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    /// Action name → the values it sets when it runs.
    pub actions: BTreeMap<String, Vec<String>>,
    pub sources: Vec<String>,
    pub globals: Vec<String>,
    /// The flow escape words and the advisor offer start (`[flows] advisor_flow`); it
    /// must exist whenever there are flows.
    pub advisor_flow: Option<String>,
}

const STEP_KINDS: &[&str] = &["say", "ask", "set", "goto", "flow", "call", "action", "end"];

/// Reads every `*.yaml` / `*.yml` file directly in `dir` (not `tests/`) and validates the
/// set. A folder that does not exist is an empty set.
pub fn load_dir(dir: &Path, vocabulary: &Vocabulary) -> Result<FlowSet, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let mut files = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries.flatten() {
                let path = entry.path();
                let is_yaml = path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e == "yaml" || e == "yml");
                if is_yaml && path.is_file() {
                    files.push(path);
                }
            }
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            diagnostics.push(
                Diagnostic::new(
                    SourcePos::new(dir, 1, 1),
                    format!("cannot read the flows folder: {err}"),
                )
                .hint("check that the folder exists and that showroom may read it"),
            );
            return Err(diagnostics);
        }
    }
    files.sort();
    let mut sources = Vec::new();
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push((path, text)),
            Err(err) => diagnostics.push(
                Diagnostic::new(
                    SourcePos::new(&path, 1, 1),
                    format!("cannot read this file: {err}"),
                )
                .hint("save it as UTF-8 text"),
            ),
        }
    }
    match validate_sources(&sources, vocabulary) {
        Ok(set) if diagnostics.is_empty() => Ok(set),
        Ok(_) => Err(diagnostics.sorted()),
        Err(more) => {
            diagnostics.0.extend(more.0);
            Err(diagnostics.sorted())
        }
    }
}

/// Parses and validates flow files given as (path, contents).
pub fn validate_sources(
    sources: &[(PathBuf, String)],
    vocabulary: &Vocabulary,
) -> Result<FlowSet, Diagnostics> {
    let mut diagnostics = Diagnostics::default();
    let mut parsed = Vec::new();
    for (path, text) in sources {
        match serde_saphyr::from_str::<RawFlow>(text) {
            Ok(flow) => parsed.push((path.clone(), flow)),
            Err(err) => diagnostics.push(parse_error(path, &err)),
        }
    }
    let any_flows = !parsed.is_empty();
    let set = Validator::new(vocabulary, &mut diagnostics).run(parsed);
    if let Some(advisor) = &vocabulary.advisor_flow
        && any_flows
        && set.flow(advisor).is_none()
    {
        let existing: Vec<&str> = set.flows().map(|f| f.id.as_str()).collect();
        diagnostics.push(
            Diagnostic::new(
                SourcePos::new(Path::new("showroom.toml"), 1, 1),
                format!(
                    "`[flows] advisor_flow = \"{advisor}\"` names a flow that does not exist, so \"asesor\" and the advisor offer would do nothing"
                ),
            )
            .hint(format!(
                "set advisor_flow to one of: {}; or to \"\" to turn the advisor offer off",
                existing.join(", ")
            )),
        );
    }
    if diagnostics.is_empty() {
        Ok(set)
    } else {
        Err(diagnostics.sorted())
    }
}

/// Turns the parser's error into a diagnostic, adding "did you mean" to unknown keys.
fn parse_error(path: &Path, err: &serde_saphyr::Error) -> Diagnostic {
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((1, 1));
    let rendered = err.to_string();
    let first = rendered.lines().next().unwrap_or_default();
    // "error: line 4 column 5: unknown field `sya`, expected one of id, say, ask"
    let message = first
        .split_once(": ")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split_once(": ").map(|(_, msg)| msg))
        .unwrap_or(first)
        .to_owned();
    let pos = SourcePos::new(path, line, column);
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed: Vec<&str> = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .split(", ")
            .map(|s| s.trim_matches('`'))
            .filter(|s| !s.is_empty())
            .collect();
        let mut diagnostic = Diagnostic::new(pos, format!("unknown key `{key}`"));
        diagnostic = match did_you_mean(key, allowed.iter().copied()) {
            Some(close) => diagnostic.hint(format!(
                "did you mean `{close}`? Keys allowed here: {}",
                allowed.join(", ")
            )),
            None => diagnostic.hint(format!("keys allowed here: {}", allowed.join(", "))),
        };
        return diagnostic;
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let key = rest.split('`').next().unwrap_or(rest);
        return Diagnostic::new(pos, format!("`{key}` is missing"))
            .hint(format!("add `{key}:` here"));
    }
    Diagnostic::new(pos, format!("this is not valid flow YAML: {message}")).hint(
        "check the indentation and that lists start with `- `; compare with a working flow file",
    )
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

struct Validator<'a> {
    vocabulary: &'a Vocabulary,
    diagnostics: &'a mut Diagnostics,
    templates: Templates,
}

/// A step whose target flow is checked once all flow ids are known.
struct PendingFlowRef {
    pos: SourcePos,
    target: String,
    key: &'static str,
}

impl<'a> Validator<'a> {
    fn new(vocabulary: &'a Vocabulary, diagnostics: &'a mut Diagnostics) -> Self {
        Self {
            vocabulary,
            diagnostics,
            templates: Templates::new(),
        }
    }

    fn error(&mut self, pos: SourcePos, message: impl Into<String>, hint: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::new(pos, message).hint(hint));
    }

    fn run(mut self, parsed: Vec<(PathBuf, RawFlow)>) -> FlowSet {
        // Pass 1: ids and what each flow collects (a `call` makes those available after it).
        let mut ids: HashMap<String, SourcePos> = HashMap::new();
        let mut collects: HashMap<String, BTreeSet<String>> = HashMap::new();
        for (path, raw) in &parsed {
            let id = &raw.id.value;
            let pos = SourcePos::of(path, &raw.id);
            if !valid_name(id) {
                self.error(
                    pos.clone(),
                    format!("the flow id `{id}` is not a valid name"),
                    "use lowercase letters, digits and _ starting with a letter, like `test_drive`",
                );
            }
            if let Some(first) = ids.get(id) {
                self.error(
                    pos,
                    format!("the flow id `{id}` is already used by {first}"),
                    "every flow needs its own id; rename one of them",
                );
            } else {
                ids.insert(id.clone(), pos);
            }
            let mut saved: BTreeSet<String> = raw
                .params
                .iter()
                .flat_map(|p| saved_names(&p.value))
                .collect();
            for step in &raw.steps.value {
                if let Some(save) = &step.value.save {
                    saved.extend(saved_names(&save.value));
                }
                if let Some(set) = &step.value.set {
                    saved.extend(set.value.keys().cloned());
                }
                if let Some(action) = &step.value.action
                    && let Some(outputs) = self.vocabulary.actions.get(&action.value)
                {
                    saved.extend(outputs.iter().cloned());
                }
            }
            collects.insert(id.clone(), saved);
        }

        // Pass 2: each flow on its own.
        let mut flows = BTreeMap::new();
        let mut flow_refs = Vec::new();
        let mut menu: Vec<(u32, String, SourcePos)> = Vec::new();
        let mut keywords: Vec<(String, String, SourcePos)> = Vec::new();
        let mut start_payloads: HashMap<String, (String, SourcePos)> = HashMap::new();
        for (path, raw) in parsed {
            let flow_id = raw.id.value.clone();
            let title = self.plain(
                &path,
                &raw.title,
                &SourcePos::of(&path, &raw.id),
                "the title",
            );
            if let Some(position) = &raw.triggers.menu {
                menu.push((
                    position.value,
                    flow_id.clone(),
                    SourcePos::of(&path, position),
                ));
            }
            for keyword in &raw.triggers.keywords {
                let folded = fold(&keyword.value);
                if folded.is_empty() {
                    self.error(
                        SourcePos::of(&path, keyword),
                        "this keyword is empty",
                        "write a word or phrase customers type",
                    );
                    continue;
                }
                keywords.push((folded, flow_id.clone(), SourcePos::of(&path, keyword)));
            }
            for payload in &raw.triggers.start {
                let pos = SourcePos::of(&path, payload);
                // Telegram carries deep-link payloads in `/start`, which allows only these.
                let telegram_safe = (1..=64).contains(&payload.value.len())
                    && payload
                        .value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if !telegram_safe {
                    self.error(
                        pos.clone(),
                        format!(
                            "the start payload `{}` can't be used in a Telegram link",
                            payload.value
                        ),
                        "use 1 to 64 letters without accents, digits, _ or -, like `prueba_tiguan`",
                    );
                } else if payload
                    .value
                    .starts_with(crate::channels::linking::LINK_PREFIX)
                {
                    self.error(
                        pos.clone(),
                        format!("the start payload `{}` begins with `lnk_`", payload.value),
                        "payloads starting with lnk_ are the links that carry a web conversation over to Telegram or Viber; choose another name",
                    );
                }
                if let Some((other, first)) = start_payloads.get(&payload.value) {
                    self.error(
                        pos,
                        format!(
                            "the start payload `{}` already starts flow `{other}` ({first})",
                            payload.value
                        ),
                        "each deep-link payload can start only one flow",
                    );
                } else {
                    start_payloads.insert(payload.value.clone(), (flow_id.clone(), pos));
                }
            }
            for param in &raw.params {
                if !valid_name(&param.value) {
                    self.error(
                        SourcePos::of(&path, param),
                        format!("`{}` is not a valid value name", param.value),
                        "use lowercase letters, digits and _, like `model`",
                    );
                }
            }
            let steps = self.steps(&path, &raw, &collects, &mut flow_refs);
            flows.insert(
                flow_id.clone(),
                Arc::new(Flow {
                    id: flow_id,
                    title,
                    params: raw.params.iter().map(|p| p.value.clone()).collect(),
                    steps,
                    file: path,
                }),
            );
        }

        for reference in flow_refs {
            if !ids.contains_key(&reference.target) {
                let names: Vec<&str> = ids.keys().map(String::as_str).collect();
                let hint = match did_you_mean(&reference.target, names.iter().copied()) {
                    Some(close) => format!("did you mean `{close}`?"),
                    None => format!("flows that exist: {}", sorted_list(&names)),
                };
                self.error(
                    reference.pos,
                    format!(
                        "`{}: {}` points to a flow that does not exist",
                        reference.key, reference.target
                    ),
                    hint,
                );
            }
        }

        menu.sort_by_key(|(position, _, _)| *position);
        for pair in menu.windows(2) {
            if pair[0].0 == pair[1].0 {
                self.error(
                    pair[1].2.clone(),
                    format!(
                        "menu position {} is also used by flow `{}`",
                        pair[1].0, pair[0].1
                    ),
                    "give each menu entry its own position (1, 2, 3…)",
                );
            }
        }
        let mut seen_keywords: HashMap<&str, (&str, &SourcePos)> = HashMap::new();
        for (phrase, flow, pos) in &keywords {
            match seen_keywords.get(phrase.as_str()) {
                Some((other, first)) if *other != flow.as_str() => {
                    let message =
                        format!("the keyword `{phrase}` also starts flow `{other}` ({first})");
                    self.diagnostics.push(
                        Diagnostic::new(pos.clone(), message)
                            .hint("a phrase can start only one flow; keep it in one of them"),
                    );
                }
                _ => {
                    seen_keywords.insert(phrase, (flow, pos));
                }
            }
        }

        FlowSet {
            flows,
            menu: menu.into_iter().map(|(_, id, _)| id).collect(),
            keywords: keywords.into_iter().map(|(k, f, _)| (k, f)).collect(),
            start_payloads: start_payloads
                .into_iter()
                .map(|(k, (f, _))| (k, f))
                .collect(),
            templates: self.templates,
            files: ids.into_values().map(|pos| pos.file).collect(),
        }
    }

    fn steps(
        &mut self,
        path: &Path,
        raw: &RawFlow,
        collects: &HashMap<String, BTreeSet<String>>,
        flow_refs: &mut Vec<PendingFlowRef>,
    ) -> Vec<Step> {
        let flow_id = &raw.id.value;
        let raw_steps = &raw.steps.value;
        if raw_steps.is_empty() {
            self.error(
                SourcePos::of(path, &raw.steps),
                format!("flow `{flow_id}` has no steps"),
                "add at least one step, such as `- say: {es: …, en: …}`",
            );
        }
        // Step ids first, so `goto` may jump forward.
        let mut step_ids: HashMap<String, usize> = HashMap::new();
        for (index, step) in raw_steps.iter().enumerate() {
            if let Some(id) = &step.value.id {
                let pos = SourcePos::of(path, id);
                if !valid_name(&id.value) {
                    self.error(
                        pos,
                        format!("the step id `{}` is not a valid name", id.value),
                        "use lowercase letters, digits and _, like `ask_phone`",
                    );
                } else if step_ids.insert(id.value.clone(), index).is_some() {
                    self.error(
                        pos,
                        format!("the step id `{}` is used twice in this flow", id.value),
                        "give each step its own id",
                    );
                }
            }
        }

        let mut available: BTreeSet<String> = self.vocabulary.globals.iter().cloned().collect();
        available.extend(raw.params.iter().flat_map(|p| saved_names(&p.value)));
        let mut steps = Vec::with_capacity(raw_steps.len());
        let mut keys = HashSet::new();
        for (index, spanned) in raw_steps.iter().enumerate() {
            let step = &spanned.value;
            let pos = SourcePos::of(path, spanned);
            let name = |field: &str| format!("{flow_id}#{index}.{field}");

            let kinds: Vec<&str> = STEP_KINDS
                .iter()
                .copied()
                .filter(|kind| step_has(step, kind))
                .collect();
            let kind_name = match kinds.as_slice() {
                [one] => *one,
                [] => {
                    self.error(
                        pos.clone(),
                        "this step does nothing",
                        format!("give it one of: {}", STEP_KINDS.join(", ")),
                    );
                    continue;
                }
                many => {
                    self.error(
                        pos.clone(),
                        format!(
                            "this step has {} — a step does one thing",
                            many.join(" and ")
                        ),
                        "split it into separate steps, one per line starting with `- `",
                    );
                    continue;
                }
            };
            self.misplaced_keys(path, step, kind_name, &pos);

            let condition = step.condition.as_ref().and_then(|condition| {
                let template = name("if");
                let cpos = SourcePos::of(path, condition);
                self.compile(
                    &template,
                    condition_source(&condition.value),
                    &cpos,
                    &available,
                    "condition",
                )
                .then_some(template)
            });

            let kind = match kind_name {
                "say" => step.say.as_ref().map(|text| StepKind::Say(self.text(path, text, &pos, &name("say"), &available, "the message"))),
                "ask" => self.ask(path, step, &pos, &name("ask"), &available),
                "set" => step.set.as_ref().map(|set| {
                    let values = self.values(path, set, &name("set"), &available);
                    available.extend(set.value.keys().cloned());
                    StepKind::Set(values)
                }),
                "goto" => step.goto.as_ref().map(|target| match step_ids.get(&target.value) {
                    Some(&index) => StepKind::Goto(index),
                    None => {
                        let names: Vec<&str> = step_ids.keys().map(String::as_str).collect();
                        let hint = match did_you_mean(&target.value, names.iter().copied()) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None if names.is_empty() => "no step in this flow has an `id:`; add `id: name` to the step to jump to".into(),
                            None => format!("steps with an id in this flow: {}", sorted_list(&names)),
                        };
                        self.error(SourcePos::of(path, target), format!("`goto: {}` points to a step that does not exist in flow `{flow_id}`", target.value), hint);
                        StepKind::End
                    }
                }),
                "flow" => step.flow.as_ref().map(|target| {
                    flow_refs.push(PendingFlowRef { pos: SourcePos::of(path, target), target: target.value.clone(), key: "flow" });
                    StepKind::Flow(target.value.clone())
                }),
                "call" => step.call.as_ref().map(|target| {
                    flow_refs.push(PendingFlowRef { pos: SourcePos::of(path, target), target: target.value.clone(), key: "call" });
                    let with = step.with_values.as_ref().map(|w| self.values(path, w, &name("with"), &available)).unwrap_or_default();
                    if let Some(collected) = collects.get(&target.value) {
                        available.extend(collected.iter().cloned());
                    }
                    StepKind::Call { flow: target.value.clone(), with }
                }),
                "action" => step.action.as_ref().map(|action| {
                    match self.vocabulary.actions.get(&action.value) {
                        Some(outputs) => available.extend(outputs.iter().cloned()),
                        None => {
                            let names: Vec<&str> = self.vocabulary.actions.keys().map(String::as_str).collect();
                            let hint = match did_you_mean(&action.value, names.iter().copied()) {
                                Some(close) => format!("did you mean `{close}`?"),
                                None => format!("actions the bot has: {}", sorted_list(&names)),
                            };
                            self.error(SourcePos::of(path, action), format!("the action `{}` does not exist", action.value), hint);
                        }
                    }
                    let with = step.with_values.as_ref().map(|w| self.values(path, w, &name("with"), &available)).unwrap_or_default();
                    StepKind::Action { name: action.value.clone(), with }
                }),
                "end" => {
                    if let Some(end) = &step.end
                        && !end.value
                    {
                        self.error(SourcePos::of(path, end), "`end: false` does nothing", "write `end: true` to finish the flow here, or remove the line");
                    }
                    Some(StepKind::End)
                }
                _ => None,
            };
            let Some(kind) = kind else { continue };
            if let StepKind::Ask(ask) = &kind {
                available.extend(saved_names(&ask.save));
            }
            let key = match (&step.id, &kind) {
                (Some(id), _) => id.value.clone(),
                (None, StepKind::Ask(ask)) => format!("ask:{}", ask.save),
                (None, _) => format!("#{index}"),
            };
            // Two unnamed questions saving the same value: fall back to the index.
            let key = if keys.insert(key.clone()) {
                key
            } else {
                format!("#{index}")
            };
            steps.push(Step {
                key,
                pos,
                condition,
                kind,
            });
        }
        self.unreachable(&steps, &step_ids);
        steps
    }

    /// Keys that belong to another kind of step (`input` on a `say`, `with` on a `goto`).
    fn misplaced_keys(&mut self, path: &Path, step: &RawStep, kind: &str, pos: &SourcePos) {
        let ask_only = [
            ("input", step.input.as_ref().map(|s| SourcePos::of(path, s))),
            (
                "options",
                step.options.as_ref().map(|s| SourcePos::of(path, s)),
            ),
            ("save", step.save.as_ref().map(|s| SourcePos::of(path, s))),
            ("buttons", step.buttons.as_ref().map(|_| pos.clone())),
            ("retry", step.retry.as_ref().map(|_| pos.clone())),
        ];
        if kind != "ask" {
            for (key, at) in ask_only {
                if let Some(at) = at {
                    self.error(at, format!("`{key}` only works on an `ask` step"), format!("move it to the question it belongs to, or remove it from this `{kind}` step"));
                }
            }
        }
        if kind != "call"
            && kind != "action"
            && let Some(with) = &step.with_values
        {
            self.error(
                SourcePos::of(path, with),
                "`with` only works on `call` and `action` steps",
                "remove it or move it to the step that runs the flow or action",
            );
        }
    }

    fn ask(
        &mut self,
        path: &Path,
        step: &RawStep,
        pos: &SourcePos,
        name: &str,
        available: &BTreeSet<String>,
    ) -> Option<StepKind> {
        let question = step.ask.as_ref()?;
        let question = self.text(path, question, pos, name, available, "the question");
        let retry = step.retry.as_ref().map(|retry| {
            self.text(
                path,
                retry,
                pos,
                &format!("{name}.retry"),
                available,
                "the retry text",
            )
        });
        let save = match &step.save {
            Some(save) if valid_name(&save.value) => save.value.clone(),
            Some(save) => {
                self.error(
                    SourcePos::of(path, save),
                    format!("`save: {}` is not a valid value name", save.value),
                    "use lowercase letters, digits and _, like `phone`",
                );
                save.value.clone()
            }
            None => {
                self.error(
                    pos.clone(),
                    "this question does not say where to keep the answer",
                    "add `save: name`, for example `save: phone`",
                );
                String::from("answer")
            }
        };
        let expects = [
            step.input.is_some(),
            step.buttons.is_some(),
            step.options.is_some(),
        ];
        let expect = match expects.iter().filter(|x| **x).count() {
            0 => {
                self.error(
                    pos.clone(),
                    "this question does not say what answer it expects",
                    "add `input: text` (or name, phone, email…), `buttons:` or `options: models`",
                );
                Expect::Input(InputKind::Text)
            }
            1 => {
                if let Some(input) = &step.input {
                    match InputKind::parse_name(&input.value) {
                        Some(kind) => Expect::Input(kind),
                        None => {
                            let names: Vec<&str> =
                                InputKind::ALL.iter().map(|k| k.as_str()).collect();
                            let close = InputKind::from_spanish(&input.value)
                                .map(InputKind::as_str)
                                .or_else(|| did_you_mean(&input.value, names.iter().copied()));
                            let hint = match close {
                                Some(close) => format!(
                                    "did you mean `{close}`? Input types: {}",
                                    names.join(", ")
                                ),
                                None => format!("input types: {}", names.join(", ")),
                            };
                            self.error(
                                SourcePos::of(path, input),
                                format!(
                                    "`input: {}` is not an input type the bot knows",
                                    input.value
                                ),
                                hint,
                            );
                            Expect::Input(InputKind::Text)
                        }
                    }
                } else if let Some(buttons) = &step.buttons {
                    Expect::Buttons(self.buttons(path, buttons, pos))
                } else if let Some(source) = &step.options {
                    if !self.vocabulary.sources.contains(&source.value) {
                        let names: Vec<&str> =
                            self.vocabulary.sources.iter().map(String::as_str).collect();
                        let hint = match did_you_mean(&source.value, names.iter().copied()) {
                            Some(close) => format!("did you mean `{close}`?"),
                            None => format!("lists the bot has: {}", names.join(", ")),
                        };
                        self.error(
                            SourcePos::of(path, source),
                            format!("`options: {}` is not a list the bot knows", source.value),
                            hint,
                        );
                    }
                    Expect::Source(source.value.clone())
                } else {
                    Expect::Input(InputKind::Text)
                }
            }
            _ => {
                self.error(
                    pos.clone(),
                    "this question has more than one of `input`, `buttons` and `options`",
                    "keep only one: typed input, fixed buttons, or a list",
                );
                Expect::Input(InputKind::Text)
            }
        };
        Some(StepKind::Ask(Ask {
            question,
            expect,
            save,
            retry,
        }))
    }

    fn buttons(&mut self, path: &Path, buttons: &[RawButton], pos: &SourcePos) -> Vec<Choice> {
        if buttons.is_empty() {
            self.error(
                pos.clone(),
                "`buttons:` has no buttons",
                "add at least two, each with `value`, `es` and `en`",
            );
        }
        let mut values = HashSet::new();
        let mut choices = Vec::with_capacity(buttons.len());
        for button in buttons {
            let bpos = SourcePos::of(path, &button.value);
            if !values.insert(button.value.value.clone()) {
                self.error(
                    bpos.clone(),
                    format!("two buttons have the value `{}`", button.value.value),
                    "each button needs its own value",
                );
            }
            let text = RawText {
                es: button.es.clone(),
                en: button.en.clone(),
            };
            let title = self.plain(path, &text, &bpos, "the button");
            if title.es.chars().count() > 40 || title.en.chars().count() > 40 {
                self.error(
                    bpos.clone(),
                    "this button title is longer than 40 characters",
                    "Telegram and Viber cut long buttons; shorten it",
                );
            }
            choices.push(Choice {
                value: button.value.value.clone(),
                title,
                synonyms: button.synonyms.clone(),
                display: None,
            });
        }
        choices
    }

    /// A text template in both languages.
    fn text(
        &mut self,
        path: &Path,
        text: &RawText,
        pos: &SourcePos,
        name: &str,
        available: &BTreeSet<String>,
        what: &str,
    ) -> Text {
        let es = format!("{name}.es");
        let en = format!("{name}.en");
        for (lang, field, template) in [("Spanish", &text.es, &es), ("English", &text.en, &en)] {
            match field {
                Some(source) => {
                    self.compile(
                        template,
                        source.value.clone(),
                        &SourcePos::of(path, source),
                        available,
                        what,
                    );
                }
                None => {
                    let key = if lang == "Spanish" { "es" } else { "en" };
                    self.error(
                        missing_pos(path, text, pos),
                        format!("{what} has no {lang} version (`{key}:`)"),
                        "add both `es:` and `en:` so every customer gets it in their language",
                    );
                    // Keep going with an empty text so other problems are still found.
                    let _ = self.templates.add(template.clone(), String::new());
                }
            }
        }
        Text { es, en }
    }

    /// A text without templates (button titles).
    fn plain(&mut self, path: &Path, text: &RawText, pos: &SourcePos, what: &str) -> Localized {
        let mut get = |field: &Option<Spanned<String>>, lang: &str, key: &str| match field {
            Some(value) if !value.value.trim().is_empty() => value.value.trim().to_owned(),
            _ => {
                self.diagnostics.push(
                    Diagnostic::new(
                        missing_pos(path, text, pos),
                        format!("{what} has no {lang} title (`{key}:`)"),
                    )
                    .hint("add both `es:` and `en:`"),
                );
                String::new()
            }
        };
        let es = get(&text.es, "Spanish", "es");
        let en = get(&text.en, "English", "en");
        Localized { es, en }
    }

    fn values(
        &mut self,
        path: &Path,
        values: &Spanned<BTreeMap<String, serde_json::Value>>,
        name: &str,
        available: &BTreeSet<String>,
    ) -> Vec<(String, Value)> {
        let pos = SourcePos::of(path, values);
        values
            .value
            .iter()
            .map(|(key, value)| {
                if !valid_name(key) {
                    self.error(
                        pos.clone(),
                        format!("`{key}` is not a valid value name"),
                        "use lowercase letters, digits and _",
                    );
                }
                let value = match value {
                    serde_json::Value::String(text)
                        if text.contains("{{") || text.contains("{%") =>
                    {
                        let template = format!("{name}.{key}");
                        self.compile(&template, text.clone(), &pos, available, "the value");
                        Value::Template(template)
                    }
                    other => Value::Literal(other.clone()),
                };
                (key.clone(), value)
            })
            .collect()
    }

    /// Compiles a template and checks the values it uses. Returns whether it compiled.
    fn compile(
        &mut self,
        name: &str,
        source: String,
        pos: &SourcePos,
        available: &BTreeSet<String>,
        what: &str,
    ) -> bool {
        if let Err(err) = self.templates.add(name.to_owned(), source) {
            self.error(
                pos.clone(),
                format!(
                    "{what} cannot be read: {}",
                    err.detail().unwrap_or("syntax error")
                ),
                "values are written `{{ name }}`; conditions like `financing == \"yes\"`",
            );
            return false;
        }
        for variable in self.templates.undeclared(name) {
            if available.contains(&variable) || BUILTIN_NAMES.contains(&variable.as_str()) {
                continue;
            }
            let names: Vec<&str> = available.iter().map(String::as_str).collect();
            let hint = match did_you_mean(&variable, names.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("values available here: {}", sorted_list(&names)),
            };
            self.error(
                pos.clone(),
                format!("{what} uses `{variable}`, but no earlier step saves it"),
                hint,
            );
        }
        true
    }

    /// Steps that can never run: after an unconditional jump or end, and not targeted.
    fn unreachable(&mut self, steps: &[Step], step_ids: &HashMap<String, usize>) {
        let _ = step_ids;
        let mut reachable = vec![false; steps.len()];
        let mut queue = vec![0usize];
        while let Some(index) = queue.pop() {
            if index >= steps.len() || reachable[index] {
                continue;
            }
            reachable[index] = true;
            let step = &steps[index];
            let falls_through = step.condition.is_some()
                || !matches!(
                    step.kind,
                    StepKind::Goto(_) | StepKind::Flow(_) | StepKind::End
                );
            if falls_through {
                queue.push(index + 1);
            }
            if let StepKind::Goto(target) = step.kind {
                queue.push(target);
            }
        }
        for (step, reached) in steps.iter().zip(reachable) {
            if !reached {
                self.error(step.pos.clone(), "this step can never run: the step before it always jumps away or ends, and no `goto` leads here", "give it an `id:` and jump to it with `goto`, or remove it");
            }
        }
    }
}

/// Where to report a missing translation: next to the language that is there.
fn missing_pos(path: &Path, text: &RawText, fallback: &SourcePos) -> SourcePos {
    text.es
        .as_ref()
        .or(text.en.as_ref())
        .map(|s| SourcePos::of(path, s))
        .unwrap_or_else(|| fallback.clone())
}

/// An answer is kept as its value (`phone`: "+573001234567") and as the text shown to
/// the customer (`phone_display`: "+57 300 1234567").
fn saved_names(save: &str) -> [String; 2] {
    [save.to_owned(), format!("{save}_display")]
}

fn step_has(step: &RawStep, kind: &str) -> bool {
    match kind {
        "say" => step.say.is_some(),
        "ask" => step.ask.is_some(),
        "set" => step.set.is_some(),
        "goto" => step.goto.is_some(),
        "flow" => step.flow.is_some(),
        "call" => step.call.is_some(),
        "action" => step.action.is_some(),
        "end" => step.end.is_some(),
        _ => false,
    }
}

fn sorted_list(names: &[&str]) -> String {
    let mut names = names.to_vec();
    names.sort_unstable();
    if names.is_empty() {
        "(none)".into()
    } else {
        names.join(", ")
    }
}

/// Functions and tests templates may use without any step saving them.
const BUILTIN_NAMES: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "loop",
    "true",
    "false",
    "none",
];
