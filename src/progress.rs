//! Progress display: indicatif bars on a terminal, calm plain lines elsewhere (logs, cron,
//! CI), nothing with `--quiet`. Everything goes to stderr; stdout keeps the final summary.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Like `eprintln!`, but a closed stderr (`2>&1 | head`) is ignored instead of panicking.
pub fn stderr_line(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Plain,
    Quiet,
}

impl Mode {
    /// Bars only when stderr is a terminal.
    pub fn detect(quiet: bool) -> Self {
        if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Plain
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Items,
}

#[derive(Clone)]
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    plain_interval: Duration,
}

impl Progress {
    pub fn new(mode: Mode) -> Self {
        let multi = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stderr(),
            _ => ProgressDrawTarget::hidden(),
        });
        Progress {
            mode,
            multi,
            plain_interval: Duration::from_secs(10),
        }
    }

    /// A status line, printed above the bars so it does not garble them.
    pub fn message(&self, text: &str) {
        match self.mode {
            Mode::Bars => {
                let _ = self.multi.println(text);
            }
            Mode::Plain => stderr_line(text),
            Mode::Quiet => {}
        }
    }

    /// A status line that belongs to the next step: on a terminal it stays between the bars
    /// already shown and the next one, instead of going above them all.
    pub fn line(&self, text: &str) {
        match self.mode {
            Mode::Bars => {
                let line = self.multi.add(ProgressBar::new(1));
                if let Ok(style) = ProgressStyle::with_template("{msg}") {
                    line.set_style(style);
                }
                line.finish_with_message(text.to_owned());
            }
            Mode::Plain => stderr_line(text),
            Mode::Quiet => {}
        }
    }

    pub fn step(&self, index: u8, label: &str, total: u64, unit: Unit) -> Step {
        self.task(format!("{index}/4 {label}"), total, unit)
    }

    /// A bar titled `title` (commands other than export have no numbered steps).
    pub fn task(&self, title: String, total: u64, unit: Unit) -> Step {
        let bar = (self.mode == Mode::Bars).then(|| {
            let template = match unit {
                Unit::Bytes => "{prefix:.bold} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                Unit::Items => "{prefix:.bold} [{bar:30.cyan/blue}] {pos}/{len}",
            };
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            let bar = self.multi.add(ProgressBar::new(total));
            bar.set_style(style);
            bar.set_prefix(title.clone());
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        if self.mode == Mode::Plain {
            stderr_line(&format!("{title}: starting ({})", amount(0, total, unit)));
        }
        Step {
            inner: Arc::new(StepInner {
                title,
                unit,
                total,
                bar,
                plain: (self.mode == Mode::Plain).then(|| {
                    Mutex::new(PlainState {
                        done: 0,
                        start: Instant::now(),
                        last_print: Instant::now(),
                    })
                }),
                interval: self.plain_interval,
            }),
        }
    }
}

fn amount(done: u64, total: u64, unit: Unit) -> String {
    match unit {
        Unit::Bytes => format!("{} / {}", HumanBytes(done), HumanBytes(total)),
        Unit::Items => format!("{done} / {total}"),
    }
}

struct PlainState {
    done: u64,
    start: Instant,
    last_print: Instant,
}

struct StepInner {
    title: String,
    unit: Unit,
    total: u64,
    bar: Option<ProgressBar>,
    plain: Option<Mutex<PlainState>>,
    interval: Duration,
}

/// One step's bar; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct Step {
    inner: Arc<StepInner>,
}

impl Step {
    pub fn set(&self, done: u64) {
        if let Some(bar) = &self.inner.bar {
            bar.set_position(done);
        }
        if let Some(plain) = &self.inner.plain {
            let Ok(mut state) = plain.lock() else { return };
            state.done = done;
            if state.last_print.elapsed() >= self.inner.interval {
                state.last_print = Instant::now();
                stderr_line(&self.plain_line(&state));
            }
        }
    }

    fn plain_line(&self, state: &PlainState) -> String {
        let inner = &self.inner;
        let pct = if inner.total == 0 {
            100.0
        } else {
            state.done as f64 * 100.0 / inner.total as f64
        };
        let secs = state.start.elapsed().as_secs_f64().max(0.001);
        let rate = match inner.unit {
            Unit::Bytes => format!(", {}/s", HumanBytes((state.done as f64 / secs) as u64)),
            Unit::Items => String::new(),
        };
        format!(
            "{}: {} ({pct:.1}%{rate})",
            inner.title,
            amount(state.done, inner.total, inner.unit)
        )
    }

    pub fn finish(&self, done: u64) {
        if let Some(bar) = &self.inner.bar {
            bar.set_position(done);
            bar.finish();
        }
        if let Some(plain) = &self.inner.plain {
            if let Ok(mut state) = plain.lock() {
                state.done = done;
                stderr_line(&format!("{} — done", self.plain_line(&state)));
            }
        }
    }

    /// Leaves the bar where it is (interrupted or failed step).
    pub fn abandon(&self) {
        if let Some(bar) = &self.inner.bar {
            bar.abandon();
        }
    }
}
