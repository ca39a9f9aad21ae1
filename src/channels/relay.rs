//! Sends what Telegram and Viber customers have not received yet: messages the bot
//! pushed (reminders, outreach) and replies a failed send left behind.
