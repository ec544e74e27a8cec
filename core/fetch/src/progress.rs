//! Download progress: a bar (bytes, rate, ETA) on a terminal, otherwise one status line.

use std::io::{self, Read};
use std::time::Instant;

use cargo_litestream_shell::Shell;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// Announces a download of `what` from `url`; the bar shows the shorter `label`.
    pub(crate) fn start(shell: &Shell, what: &str, label: &str, url: &str, length: Option<u64>) -> Progress {
        let bar = shell.progress_bars().then(|| {
            let bar = ProgressBar::with_draw_target(length, ProgressDrawTarget::stderr());
            let template = if shell.color() {
                "{prefix:>12.green.bold} {msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
            } else {
                "{prefix:>12} {msg} [{wide_bar}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix("Downloading");
            bar.set_message(label.to_owned());
            bar
        });
        let bar = bar.filter(|bar| !bar.is_hidden());
        if bar.is_none() {
            shell.status("Downloading", format!("{what} from {url}"));
        }
        Progress { bar, started: Instant::now() }
    }

    pub(crate) fn wrap<R: Read>(&self, inner: R) -> ProgressReader<R> {
        ProgressReader { inner, bar: self.bar.clone() }
    }

    /// Removes the bar and, when there was one, leaves a line saying what it did.
    pub(crate) fn finish(&self, shell: &Shell, what: &str, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
            let seconds = self.started.elapsed().as_secs_f64();
            shell.status("Downloaded", format!("{what} ({:.1} MB in {seconds:.1} s)", bytes as f64 / 1e6));
        }
    }
}

pub(crate) struct ProgressReader<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
