//! `showroom chat`: a terminal conversation with the same engine, store and router as
//! `serve`, so staff can try the bot without a browser. Buttons are listed with numbers;
//! typing a number picks one (the engine matches typed numbers to offered buttons).

use std::io::Write;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::engine::{ChannelIdentity, ChannelKind, Engine, EngineError, InboundContent, Outbound};

const QUIT_WORDS: &[&str] = &["/salir", "/quit", "/exit"];

/// Talks to `engine` as `user`, reading lines from `input` and writing to `output`
/// until end of input or a quit word.
pub async fn run(
    engine: &Engine,
    user: &str,
    input: impl AsyncBufRead + Unpin,
    output: &mut impl Write,
) -> Result<(), ChatError> {
    let conversation = engine
        .open(&ChannelIdentity::new(ChannelKind::Cli, user))
        .await?;
    writeln!(
        output,
        "showroom chat — escribe tu mensaje y pulsa Enter; un número elige un botón; /salir para terminar.\n"
    )?;
    let greeting = if conversation.created {
        engine
            .handle(&conversation, InboundContent::Start { payload: None }, None)
            .await?
    } else {
        engine.undelivered(&conversation).await?
    };
    print_replies(engine, &greeting, output).await?;

    let mut lines = input.lines();
    loop {
        write!(output, "> ")?;
        output.flush()?;
        let Some(line) = lines.next_line().await? else {
            writeln!(output)?;
            break;
        };
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        if QUIT_WORDS.contains(&text) {
            break;
        }
        let replies = engine
            .handle(
                &conversation,
                InboundContent::Text {
                    text: text.to_owned(),
                },
                None,
            )
            .await?;
        print_replies(engine, &replies, output).await?;
    }
    writeln!(
        output,
        "Hasta pronto. La conversación queda guardada; `showroom chat` la retoma."
    )?;
    Ok(())
}

async fn print_replies(
    engine: &Engine,
    replies: &[Outbound],
    output: &mut impl Write,
) -> Result<(), ChatError> {
    for reply in replies {
        writeln!(output, "bot: {}", reply.reply.text)?;
        for (number, button) in reply.reply.buttons.iter().enumerate() {
            writeln!(output, "  [{}] {}", number + 1, button.title)?;
        }
    }
    writeln!(output)?;
    engine.mark_delivered(replies).await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("terminal input or output failed: {0}")]
    Io(#[from] std::io::Error),
}
