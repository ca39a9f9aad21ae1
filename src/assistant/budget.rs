//! Fitting one request into the model's context window, counted in cl100k tokens (the
//! tokenizer of the OpenAI chat models; for other models a close enough estimate).
//! The window minus `answer_tokens` (kept free for the answer) must hold the system
//! prompt, the retrieved passages, earlier exchanges and the question, each chat message
//! with its ~4 tokens of framing, so the estimate errs on the safe side.
//!
//! When it does not fit, things are dropped in this order:
//! 1. the oldest earlier exchanges, one by one;
//! 2. the lowest-ranked passages, one by one — the best passage always stays;
//! 3. the end of the best passage;
//! 4. the end of the question.
//!
//! The system prompt is never cut: if it alone leaves no room, [`BudgetError`] says so.
//! Cuts fall between words, so a figure is never split in half.

use std::sync::LazyLock;

use super::injection::customer_text;
use crate::knowledge::chunk::Chunker;

/// Framing of one chat message (role, separators) in the OpenAI chat format.
pub const MESSAGE_OVERHEAD_TOKENS: usize = 4;
/// Tokens that start the model's reply.
pub const REPLY_PRIMING_TOKENS: usize = 3;
/// The context block's own lines and `<context>` tags in `prompts/context.j2`.
pub const CONTEXT_OVERHEAD_TOKENS: usize = 48;
/// One passage's `<passage n="…" title="…" section="…">` label and closing tag, with a
/// title and section of usual length.
pub const PASSAGE_OVERHEAD_TOKENS: usize = 40;
/// The best passage is not cut below this; the question is cut first.
const MIN_PASSAGE_TOKENS: usize = 48;
/// The question is not cut below this.
const MIN_QUESTION_TOKENS: usize = 16;

/// The cl100k tokenizer, shared with the knowledge chunker.
static TOKENIZER: LazyLock<Option<Chunker>> = LazyLock::new(|| match Chunker::new(512, 0) {
    Ok(chunker) => Some(chunker),
    Err(err) => {
        tracing::error!(cause = %err, "token counts are estimated from text length");
        None
    }
});

/// Tokens in `text` (cl100k).
pub fn count_tokens(text: &str) -> usize {
    match TOKENIZER.as_ref() {
        Some(chunker) => chunker.count_tokens(text),
        // Never fewer tokens than this: a token is at least one byte, usually 3–4.
        None => text.len().div_ceil(2),
    }
}

/// The window of one model and the share kept for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub context_window: usize,
    pub answer_tokens: usize,
}

/// One earlier question and the answer the bot gave (kept in the conversation's state).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    pub question: String,
    pub answer: String,
}

/// What fits in the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted<'a> {
    /// The passages kept, best first: `passages[i]` is input passage `i`, so the kept
    /// ones are always the first `passages.len()`. Only the best one may be cut short.
    pub passages: Vec<&'a str>,
    /// The exchanges kept, oldest first: always the most recent ones.
    pub history: Vec<&'a Exchange>,
    /// The question, whole or cut to its first part.
    pub question: String,
    pub dropped_passages: usize,
    pub dropped_exchanges: usize,
    pub passage_cut: bool,
    pub question_cut: bool,
    /// Estimated tokens of the whole request, answer reserve not included.
    pub prompt_tokens: usize,
}

/// The request cannot fit even after everything droppable was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "the system prompt alone takes {system_tokens} tokens, but the model's window is \
         {window} tokens and {reserve} of them are kept for the answer; shorten \
         prompts/system.j2 or raise assistant.llm.context_window"
    )]
    SystemPromptTooLong {
        system_tokens: usize,
        window: usize,
        reserve: usize,
    },
    #[error(
        "the system prompt takes {system_tokens} tokens and leaves {left} of the model's \
         {window}-token window ({reserve} are kept for the answer), too few for the question \
         and one passage ({needed} at least); shorten prompts/system.j2, raise \
         assistant.llm.context_window or lower assistant.llm.answer_tokens"
    )]
    NoRoomForQuestion {
        system_tokens: usize,
        left: usize,
        needed: usize,
        window: usize,
        reserve: usize,
    },
}

impl Budget {
    /// Fits `system`, `passages` (best first), `history` (oldest first) and `question`
    /// (as the customer wrote it; it is counted wrapped as
    /// [`customer_text`] wraps it, and so are the history's questions).
    pub fn fit<'a>(
        &self,
        system: &str,
        passages: &'a [String],
        history: &'a [Exchange],
        question: &str,
    ) -> Result<Fitted<'a>, BudgetError> {
        let available = self.context_window.saturating_sub(self.answer_tokens);
        let system_tokens = count_tokens(system) + MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS;
        if system_tokens > available {
            return Err(BudgetError::SystemPromptTooLong {
                system_tokens,
                window: self.context_window,
                reserve: self.answer_tokens,
            });
        }
        let wrapper = count_tokens(&customer_text(""));
        let question_framing = wrapper + MESSAGE_OVERHEAD_TOKENS;
        let exchange_costs: Vec<usize> = history
            .iter()
            .map(|e| {
                count_tokens(&e.question)
                    + count_tokens(&e.answer)
                    + wrapper
                    + 2 * MESSAGE_OVERHEAD_TOKENS
            })
            .collect();
        let passage_costs: Vec<usize> = passages
            .iter()
            .map(|p| count_tokens(p) + PASSAGE_OVERHEAD_TOKENS)
            .collect();
        let context_framing = if passages.is_empty() {
            0
        } else {
            CONTEXT_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS
        };
        let mut question_tokens = count_tokens(question);
        let mut total = system_tokens
            + question_framing
            + question_tokens
            + context_framing
            + passage_costs.iter().sum::<usize>()
            + exchange_costs.iter().sum::<usize>();

        // 1. The oldest exchanges.
        let mut first_kept = 0;
        while total > available && first_kept < history.len() {
            total -= exchange_costs[first_kept];
            first_kept += 1;
        }
        // 2. The lowest-ranked passages, never the best one.
        let mut kept = passages.len();
        while total > available && kept > 1 {
            kept -= 1;
            total -= passage_costs[kept];
        }
        let mut kept_passages: Vec<&'a str> = passages[..kept].iter().map(String::as_str).collect();
        // 3. The end of the best passage.
        let mut passage_cut = false;
        if total > available
            && let Some(best) = kept_passages.first_mut()
        {
            let tokens = passage_costs[0] - PASSAGE_OVERHEAD_TOKENS;
            let target = tokens
                .saturating_sub(total - available)
                .max(MIN_PASSAGE_TOKENS.min(tokens));
            if target < tokens {
                *best = cut_to_tokens(best, target);
                total = total - tokens + count_tokens(best);
                passage_cut = true;
            }
        }
        // 4. The end of the question.
        let mut question_text = question.to_owned();
        let mut question_cut = false;
        if total > available {
            let target = question_tokens
                .saturating_sub(total - available)
                .max(MIN_QUESTION_TOKENS.min(question_tokens));
            if target < question_tokens {
                question_text = cut_to_tokens(question, target).to_owned();
                total = total - question_tokens + count_tokens(&question_text);
                question_tokens = count_tokens(&question_text);
                question_cut = true;
            }
        }
        if total > available {
            let best_passage = kept_passages.first().map_or(0, |p| {
                count_tokens(p) + PASSAGE_OVERHEAD_TOKENS + context_framing
            });
            return Err(BudgetError::NoRoomForQuestion {
                system_tokens,
                left: available - system_tokens,
                needed: question_framing + question_tokens + best_passage,
                window: self.context_window,
                reserve: self.answer_tokens,
            });
        }
        Ok(Fitted {
            passages: kept_passages,
            history: history[first_kept..].iter().collect(),
            question: question_text,
            dropped_passages: passages.len() - kept,
            dropped_exchanges: first_kept,
            passage_cut,
            question_cut,
            prompt_tokens: total,
        })
    }
}

/// The longest beginning of `text` within `max_tokens`, ending between words when there
/// is a space to end at (so "1.984 cc" is never cut to "1.9").
pub fn cut_to_tokens(text: &str, max_tokens: usize) -> &str {
    if count_tokens(text) <= max_tokens {
        return text;
    }
    let word_ends: Vec<usize> = text
        .char_indices()
        .filter(|&(at, c)| c.is_whitespace() && at > 0)
        .map(|(at, _)| at)
        .collect();
    let fits = |end: &usize| count_tokens(&text[..*end]) <= max_tokens;
    if let Some(end) = longest_fitting(&word_ends, fits) {
        return text[..end].trim_end();
    }
    // One long word (a URL, a code): cut between characters.
    let char_ends: Vec<usize> = text.char_indices().map(|(at, _)| at).skip(1).collect();
    longest_fitting(&char_ends, fits).map_or("", |end| &text[..end])
}

/// The last of the increasing `ends` that `fits`, assuming a longer prefix never has
/// fewer tokens (true of BPE in practice; the result is checked anyway).
fn longest_fitting(ends: &[usize], fits: impl Fn(&usize) -> bool) -> Option<usize> {
    let split = ends.partition_point(&fits);
    ends[..split].iter().rev().copied().find(fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize, word: &str) -> String {
        vec![word; n].join(" ")
    }

    fn exchange(n: usize) -> Exchange {
        Exchange {
            question: format!("pregunta número {n} sobre el carro"),
            answer: words(30, &format!("respuesta{n}")),
        }
    }

    fn cost_of_everything(
        system: &str,
        passages: &[String],
        history: &[Exchange],
        q: &str,
    ) -> usize {
        let roomy = Budget {
            context_window: 1_000_000,
            answer_tokens: 500,
        };
        roomy
            .fit(system, passages, history, q)
            .expect("fits in a huge window")
            .prompt_tokens
    }

    #[test]
    fn everything_fits_in_a_roomy_window_and_counts_framing() {
        let passages = vec!["La Tiguan tiene 7 puestos.".to_owned()];
        let history = vec![exchange(1)];
        let fitted = Budget {
            context_window: 16_000,
            answer_tokens: 700,
        }
        .fit("Eres un asistente.", &passages, &history, "¿Y el baúl?")
        .expect("fits");
        assert_eq!(fitted.passages, ["La Tiguan tiene 7 puestos."]);
        assert_eq!(fitted.history.len(), 1);
        assert_eq!(fitted.question, "¿Y el baúl?");
        assert_eq!((fitted.dropped_passages, fitted.dropped_exchanges), (0, 0));
        assert!(!fitted.passage_cut && !fitted.question_cut);
        let bare = count_tokens("Eres un asistente.")
            + count_tokens("La Tiguan tiene 7 puestos.")
            + count_tokens(&history[0].question)
            + count_tokens(&history[0].answer)
            + count_tokens("¿Y el baúl?");
        // Five messages (system, context, two of history, question) plus labels.
        assert!(
            fitted.prompt_tokens >= bare + 5 * MESSAGE_OVERHEAD_TOKENS + PASSAGE_OVERHEAD_TOKENS
        );
    }

    #[test]
    fn the_oldest_exchanges_go_first() {
        let system = "Eres un asistente.";
        let passages = vec![words(50, "dato"), words(50, "otro")];
        let history: Vec<Exchange> = (1..=4).map(exchange).collect();
        let q = "¿Y en carretera?";
        let all = cost_of_everything(system, &passages, &history, q);
        let newest_two = cost_of_everything(system, &passages, &history[2..], q);
        let budget = Budget {
            context_window: newest_two + 100,
            answer_tokens: 100,
        };
        assert!(all > newest_two);
        let fitted = budget.fit(system, &passages, &history, q).expect("fits");
        assert_eq!(fitted.dropped_exchanges, 2);
        assert_eq!(fitted.history, history[2..].iter().collect::<Vec<_>>());
        assert_eq!(
            fitted.passages.len(),
            2,
            "passages stay while history can go"
        );
        assert!(fitted.prompt_tokens <= newest_two);
    }

    #[test]
    fn then_the_lowest_ranked_passages_but_never_the_best() {
        let system = "Eres un asistente.";
        let passages: Vec<String> = ["uno", "dos", "tres"]
            .iter()
            .map(|w| words(80, w))
            .collect();
        let history = vec![exchange(1)];
        let q = "¿Cuánto rinde?";
        let two = cost_of_everything(system, &passages[..2], &[], q);
        let budget = Budget {
            context_window: two + 50,
            answer_tokens: 50,
        };
        let fitted = budget.fit(system, &passages, &history, q).expect("fits");
        assert_eq!(fitted.dropped_exchanges, 1);
        assert_eq!(fitted.dropped_passages, 1);
        assert_eq!(
            fitted.passages,
            [passages[0].as_str(), passages[1].as_str()]
        );
        assert!(!fitted.passage_cut);

        let one = cost_of_everything(system, &passages[..1], &[], q);
        let budget = Budget {
            context_window: one + 50,
            answer_tokens: 50,
        };
        let fitted = budget.fit(system, &passages, &history, q).expect("fits");
        assert_eq!(fitted.passages, [passages[0].as_str()]);
        assert_eq!(fitted.dropped_passages, 2);
    }

    #[test]
    fn then_the_best_passage_is_cut_between_words() {
        let system = "Eres un asistente.";
        let best = "La cilindrada es de 1.984 cc y la potencia de 220 hp. ".repeat(20);
        let passages = vec![best.clone(), words(40, "otro")];
        let q = "¿Qué motor tiene?";
        let whole = cost_of_everything(system, &passages[..1], &[], q);
        let budget = Budget {
            context_window: whole - 100 + 10,
            answer_tokens: 10,
        };
        let fitted = budget.fit(system, &passages, &[], q).expect("fits");
        assert!(fitted.passage_cut && !fitted.question_cut);
        assert_eq!(fitted.dropped_passages, 1);
        let cut = fitted.passages[0];
        assert!(best.starts_with(cut) && cut.len() < best.len());
        assert!(count_tokens(cut) <= count_tokens(&best) - 100);
        assert!(cut.ends_with(|c: char| !c.is_whitespace()));
        let next = best[cut.len()..].chars().next();
        assert!(
            next.is_some_and(char::is_whitespace),
            "cut inside a word: {cut:?}"
        );
        assert_eq!(fitted.question, q);
        assert!(fitted.prompt_tokens <= budget.context_window - budget.answer_tokens);
    }

    #[test]
    fn last_the_question_is_cut_to_its_first_part() {
        let system = "Eres un asistente.";
        let passages = vec![words(MIN_PASSAGE_TOKENS * 3, "dato")];
        let q = format!("¿La Tiguan tiene 7 puestos? {}", words(200, "bla"));
        let smallest = cost_of_everything(
            system,
            &[cut_to_tokens(&passages[0], MIN_PASSAGE_TOKENS).to_owned()],
            &[],
            "¿La Tiguan tiene 7 puestos?",
        );
        let budget = Budget {
            context_window: smallest + 30,
            answer_tokens: 20,
        };
        let fitted = budget.fit(system, &passages, &[], &q).expect("fits");
        assert!(fitted.passage_cut && fitted.question_cut);
        assert!(count_tokens(fitted.passages[0]) <= MIN_PASSAGE_TOKENS);
        assert!(
            fitted.question.starts_with("¿La Tiguan tiene 7 puestos?"),
            "{}",
            fitted.question
        );
        assert!(fitted.question.len() < q.len());
        assert!(fitted.prompt_tokens <= budget.context_window - budget.answer_tokens);
    }

    #[test]
    fn a_system_prompt_that_cannot_fit_is_explained() {
        let system = words(300, "regla");
        let budget = Budget {
            context_window: 250,
            answer_tokens: 100,
        };
        let err = budget.fit(&system, &[], &[], "hola").expect_err("too long");
        let BudgetError::SystemPromptTooLong {
            system_tokens,
            window,
            reserve,
        } = &err
        else {
            panic!("wrong error: {err}");
        };
        assert!(*system_tokens >= 300);
        assert_eq!((*window, *reserve), (250, 100));
        let text = err.to_string();
        assert!(text.contains("shorten prompts/system.j2"), "{text}");
        assert!(text.contains("assistant.llm.context_window"), "{text}");

        let system_tokens = count_tokens(&system) + MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS;
        let budget = Budget {
            context_window: system_tokens + 100 + 5,
            answer_tokens: 100,
        };
        let passages = vec![words(200, "dato")];
        let err = budget
            .fit(&system, &passages, &[], &words(100, "pregunta"))
            .expect_err("no room left");
        assert!(
            matches!(err, BudgetError::NoRoomForQuestion { left: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn cuts_respect_words_and_characters() {
        assert_eq!(cut_to_tokens("hola mundo", 100), "hola mundo");
        let cut = cut_to_tokens("uno dos tres cuatro cinco seis", 3);
        assert!(count_tokens(cut) <= 3 && !cut.is_empty(), "{cut:?}");
        assert!("uno dos tres cuatro cinco seis".starts_with(cut));
        let url = "https://www.volkswagen.co/es/modelos/tiguan/ficha-tecnica-completa";
        let cut = cut_to_tokens(url, 4);
        assert!(!cut.is_empty() && url.starts_with(cut) && count_tokens(cut) <= 4);
        assert_eq!(cut_to_tokens("ñandú", 0), "");
    }

    #[test]
    fn the_shipped_system_prompt_leaves_most_of_a_small_window() {
        use crate::assistant::prompts::{Prompts, SystemVars};
        let system = Prompts::embedded()
            .system(&SystemVars {
                bot_name: "Valeria".into(),
                dealer_name: "Autos del Valle".into(),
                language: crate::engine::Language::Es,
                today: "sábado 22 de noviembre de 2026".into(),
                branches: vec!["Sede Norte".into(), "Sede Sur".into()],
                canary: crate::assistant::injection::new_canary(),
            })
            .expect("renders");
        let tokens = count_tokens(&system);
        assert!(
            tokens < 1_000,
            "{tokens} tokens: docs/prompts.md promises a short prompt"
        );
    }
}
