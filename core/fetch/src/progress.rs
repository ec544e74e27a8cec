//! Download progress: a bar (bytes, rate, ETA) on a terminal, otherwise one status line.

use std::io::Read;
use std::time::Instant;

use cargo_litestream_shell::{Bar, BarReader, Shell};

pub(crate) struct Progress {
    bar: Bar,
    started: Instant,
}

impl Progress {
    /// Announces a download of `what` from `url`; the bar shows the shorter `label`.
    pub(crate) fn start(shell: &Shell, what: &str, label: &str, url: &str, length: Option<u64>) -> Progress {
        let bar = shell.bar("Downloading", label, length);
        if !bar.is_drawn() {
            shell.status("Downloading", format!("{what} from {url}"));
        }
        Progress { bar, started: Instant::now() }
    }

    pub(crate) fn wrap<R: Read>(&self, inner: R) -> BarReader<R> {
        self.bar.reader(inner)
    }

    /// Removes the bar and, when there was one, leaves a line saying what it did.
    pub(crate) fn finish(&self, shell: &Shell, what: &str, bytes: u64) {
        if self.bar.is_drawn() {
            self.bar.clear();
            let seconds = self.started.elapsed().as_secs_f64();
            shell.status("Downloaded", format!("{what} ({:.1} MB in {seconds:.1} s)", bytes as f64 / 1e6));
        }
    }
}
