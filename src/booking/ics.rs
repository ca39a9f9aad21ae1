//! The calendar file (`.ics`, RFC 5545) a booking confirmation links to, so customers
//! add the appointment to their phone's calendar in one tap. Times are written in UTC
//! (`…Z`), which every calendar converts to the reader's zone, so no VTIMEZONE block is
//! needed. The renderer is pure; the route that serves it lives in `booking::routes`.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::calendar::Calendar;
use super::{Booking, BookingKind, BookingStatus};
use crate::config::{RawModel, model_name};
use crate::engine::Language;

/// Longest content line in octets, line break excluded (RFC 5545 §3.1).
const MAX_LINE_OCTETS: usize = 75;

/// One appointment as a calendar event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsEvent {
    pub uid: String,
    /// When this file was made.
    pub stamp: Timestamp,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub location: String,
    pub description: String,
    /// Grows with each change (a reschedule), so calendars replace the old copy.
    pub sequence: u32,
    pub cancelled: bool,
}

impl IcsEvent {
    /// The event of a booking, in the booking's language. `sequence`: how many times it
    /// was moved.
    pub fn for_booking(
        booking: &Booking,
        calendar: &Calendar,
        models: &[RawModel],
        bot_name: &str,
        sequence: u32,
        stamp: Timestamp,
    ) -> Self {
        let language = booking.language;
        let model = booking
            .model
            .as_deref()
            .map(|id| model_name(models, id).to_owned());
        let service = booking
            .service_type
            .as_deref()
            .and_then(|id| calendar.service_type(id))
            .map(|s| s.title.get(language).to_owned());
        let what = match (booking.kind, language) {
            (BookingKind::TestDrive, Language::Es) => "Prueba de manejo",
            (BookingKind::TestDrive, Language::En) => "Test drive",
            (BookingKind::Service, Language::Es) => "Cita de taller",
            (BookingKind::Service, Language::En) => "Service appointment",
        };
        let detail = match booking.kind {
            BookingKind::TestDrive => model.clone(),
            BookingKind::Service => service.clone().or(model.clone()),
        };
        let summary = match detail {
            Some(detail) => format!("{what}: {detail} · {bot_name}"),
            None => format!("{what} · {bot_name}"),
        };
        let location = match calendar.branch(&booking.slot.unit.branch) {
            Some(branch) if !branch.address.is_empty() => {
                format!("{}, {}", branch.name, branch.address)
            }
            Some(branch) => format!("{}, {}", branch.name, branch.city),
            None => booking.slot.unit.branch.clone(),
        };
        let mut lines = vec![match language {
            Language::Es => format!("Código de tu cita: {}", booking.code),
            Language::En => format!("Your booking code: {}", booking.code),
        }];
        if booking.kind == BookingKind::Service
            && let Some(model) = &model
        {
            let car = match &booking.plate {
                Some(plate) => format!("{model} ({plate})"),
                None => model.clone(),
            };
            lines.push(match language {
                Language::Es => format!("Vehículo: {car}"),
                Language::En => format!("Vehicle: {car}"),
            });
        }
        lines.push(match language {
            Language::Es => format!(
                "Para cambiarla o cancelarla, escríbenos en el chat de {bot_name} con tu código."
            ),
            Language::En => {
                format!("To change or cancel it, write to {bot_name} in the chat with your code.")
            }
        });
        Self {
            uid: format!("{}@showroom", booking.code),
            stamp,
            start: booking.slot.start,
            end: booking.slot.end,
            summary,
            location,
            description: lines.join("\n"),
            sequence,
            cancelled: booking.status == BookingStatus::Cancelled,
        }
    }

    /// The whole `VCALENDAR`, CRLF line ends, long lines folded.
    pub fn render(&self) -> String {
        let status = if self.cancelled {
            "CANCELLED"
        } else {
            "CONFIRMED"
        };
        let lines = [
            "BEGIN:VCALENDAR".to_owned(),
            "VERSION:2.0".to_owned(),
            "PRODID:-//showroom//bookings//ES".to_owned(),
            "CALSCALE:GREGORIAN".to_owned(),
            "METHOD:PUBLISH".to_owned(),
            "BEGIN:VEVENT".to_owned(),
            format!("UID:{}", self.uid),
            format!("DTSTAMP:{}", utc(self.stamp)),
            format!("DTSTART:{}", utc(self.start)),
            format!("DTEND:{}", utc(self.end)),
            format!("SEQUENCE:{}", self.sequence),
            format!("STATUS:{status}"),
            format!("SUMMARY:{}", escape_text(&self.summary)),
            format!("LOCATION:{}", escape_text(&self.location)),
            format!("DESCRIPTION:{}", escape_text(&self.description)),
            "END:VEVENT".to_owned(),
            "END:VCALENDAR".to_owned(),
        ];
        let mut out = String::new();
        for line in &lines {
            out.push_str(&fold(line));
        }
        out
    }
}

/// `20261128T150000Z`.
fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT value escaping (RFC 5545 §3.3.11): backslash, semicolon, comma and newlines.
pub fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push_str("\\n");
                }
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds one content line at 75 octets (never inside a UTF-8 character) and ends it,
/// and each continuation, with CRLF; continuations start with a space (RFC 5545 §3.1).
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / MAX_LINE_OCTETS * 3 + 2);
    let mut used = 0;
    for c in line.chars() {
        let width = c.len_utf8();
        if used + width > MAX_LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += width;
    }
    out.push_str("\r\n");
    out
}

/// Unfolds and splits rendered text back into logical lines (for tests and debugging).
pub fn unfold(ics: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for physical in ics.split("\r\n") {
        match physical.strip_prefix(' ') {
            Some(rest) => {
                if let Some(last) = lines.last_mut() {
                    let _ = write!(last, "{rest}");
                }
            }
            None if physical.is_empty() => {}
            None => lines.push(physical.to_owned()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> IcsEvent {
        IcsEvent {
            uid: "PM-7K3QX@showroom".into(),
            stamp: "2026-11-23T12:00:00Z".parse().unwrap(),
            start: "2026-11-28T15:00:00Z".parse().unwrap(),
            end: "2026-11-28T15:45:00Z".parse().unwrap(),
            summary: "Prueba de manejo: Tiguan · Autos del Valle".into(),
            location: "Sede Norte, Av. 6N # 28N-10, Cali".into(),
            description: "Código de tu cita: PM-7K3QX\nPara cambiarla; escríbenos".into(),
            sequence: 0,
            cancelled: false,
        }
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(
            escape_text("one\ntwo\r\nthree\rfour"),
            r"one\ntwo\nthree\nfour"
        );
        assert_eq!(
            escape_text("tab\there"),
            "tabhere",
            "control characters are dropped"
        );
        assert_eq!(escape_text("mañana: 10:00"), "mañana: 10:00", "colons stay");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let line = format!("DESCRIPTION:{}", "ñ".repeat(100));
        let folded = fold(&line);
        assert!(folded.ends_with("\r\n"));
        let physical: Vec<&str> = folded.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(physical.len() > 2, "{physical:?}");
        for (i, part) in physical.iter().enumerate() {
            assert!(part.len() <= 75, "line {i} has {} octets", part.len());
            if i > 0 {
                assert!(part.starts_with(' '), "continuations start with a space");
            }
        }
        // Folding never cut a two-byte character: every part is valid on its own.
        assert_eq!(unfold(&folded), vec![line]);

        let short = "SUMMARY:corto";
        assert_eq!(fold(short), "SUMMARY:corto\r\n");
        let exactly = "X".repeat(75);
        assert_eq!(fold(&exactly), format!("{exactly}\r\n"), "75 octets fit");
        assert_eq!(fold(&"X".repeat(76)), format!("{exactly}\r\n X\r\n"));
    }

    #[test]
    fn renders_a_complete_event_in_utc() {
        let ics = event().render();
        assert!(
            ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"),
            "{ics}"
        );
        assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(
            !ics.replace("\r\n", "").contains('\n'),
            "only CRLF line ends"
        );
        let lines = unfold(&ics);
        for expected in [
            "UID:PM-7K3QX@showroom",
            "DTSTAMP:20261123T120000Z",
            "DTSTART:20261128T150000Z",
            "DTEND:20261128T154500Z",
            "STATUS:CONFIRMED",
            r"LOCATION:Sede Norte\, Av. 6N # 28N-10\, Cali",
            r"DESCRIPTION:Código de tu cita: PM-7K3QX\nPara cambiarla\; escríbenos",
        ] {
            assert!(
                lines.iter().any(|l| l == expected),
                "{expected} in {lines:#?}"
            );
        }
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
    }

    #[test]
    fn cancelled_events_say_so() {
        let ics = IcsEvent {
            cancelled: true,
            sequence: 2,
            ..event()
        }
        .render();
        let lines = unfold(&ics);
        assert!(lines.contains(&"STATUS:CANCELLED".to_owned()));
        assert!(lines.contains(&"SEQUENCE:2".to_owned()));
    }
}
