//! Colours of the text reports. Reports are built with ANSI styles and printed through
//! `anstream`, which removes them unless stdout is a terminal that supports colours; it also
//! honours `NO_COLOR` and `CLICOLOR_FORCE`. `--color` overrides all of that.

use anstyle::{AnsiColor, Color, Style};

pub const HUMAN: Style = Style::new().bold();
pub const USER_ID: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Green)));
pub const REALM_ID: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Yellow)));
/// Events that end something: access removed, user revoked, realm deleted.
pub const ENDING: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Red)));

/// `text` wrapped in `style`'s codes.
pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorMode {
    /// Colours on a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorMode {
    /// Sets the choice for every `anstream` stream of the process.
    pub fn apply(self) {
        let choice = match self {
            ColorMode::Auto => anstream::ColorChoice::Auto,
            ColorMode::Always => anstream::ColorChoice::Always,
            ColorMode::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
    }
}
