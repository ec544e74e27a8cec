//! A progress bar of bytes on stderr, cargo's way: `  Downloading litestream 0.5.17 [====>   ]
//! 3.1 MiB/12 MiB (5 MiB/s, 2s)`, drawn only where the shell draws bars (a terminal, not
//! quiet, not `CARGO_TERM_PROGRESS_WHEN=never`). The downloads and `scrub` show the same one.

use std::io::{self, Read};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::Shell;

/// A bar of bytes (or nothing, where bars are not drawn); removed when dropped.
pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Shell {
    /// A bar with `verb` right-aligned as a status line's, then `label`, of `length` bytes
    /// (`None`: not known yet, see [`Bar::set_length`]).
    pub fn bar(&self, verb: &str, label: &str, length: Option<u64>) -> Bar {
        let bar = self.progress_bars().then(|| {
            let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
            let template = if self.color() {
                "{prefix:>12.green.bold} {msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
            } else {
                "{prefix:>12} {msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(verb.to_owned());
            bar.set_message(label.to_owned());
            bar
        });
        Bar { bar: bar.filter(|bar| !bar.is_hidden()) }
    }
}

impl Bar {
    /// Whether anything is drawn (else the caller may print a status line instead).
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    pub fn set_length(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(bytes);
        }
    }

    pub fn inc(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Removes the bar now (a status line can follow it).
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    /// `inner`, with each byte read counted on the bar.
    pub fn reader<R: Read>(&self, inner: R) -> BarReader<R> {
        BarReader { inner, bar: self.bar.clone() }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.clear();
    }
}

/// A reader that counts what it reads on a [`Bar`].
pub struct BarReader<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for BarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}
