//! `cargo litestream completions`, in the real shells: bash, zsh and fish each run in tmux with
//! a clean rc (HOME is a temp folder) that installs the script as the README says; the test
//! types a line and TAB, and reads the screen.
//!
//! Cargo's own completion must keep working next to ours: rustup's files (found beside the
//! cargo that builds these tests) when this machine has them, and always a stand-in completer
//! registered before ours, which `cargo b<TAB>` must still reach.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::backends::harness::system_tool;
use crate::support::cargo_litestream_bin;

/// How long a shell may take to start or to answer a TAB (fish's cargo completion runs
/// `cargo --list` when it loads; CI machines are shared).
const TIMEOUT: Duration = Duration::from_secs(20);

/// Every prompt, in every shell.
const PROMPT: &str = "READY> ";

/// The commands starting with `re`.
const RE_COMMANDS: [&str; 4] = ["register", "replicate", "reset", "restore"];
const RESTORE_IF: [&str; 2] = ["--if-db-not-exists", "--if-replica-exists"];

/// A user's home with our script written where the README puts it.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(shell: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(cargo_litestream_bin()).args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "completions {shell}: {}", String::from_utf8_lossy(&out.stderr));
        let file = match shell {
            "bash" => ".local/share/cargo-litestream/completions.bash",
            "zsh" => ".local/share/cargo-litestream/completions.zsh",
            "fish" => ".config/fish/conf.d/cargo-litestream.fish",
            other => unreachable!("no install step for {other}"),
        };
        let path = dir.path().join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, out.stdout).unwrap();
        Home { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// The sysroot of the toolchain building these tests: rustup's completion files live there.
fn sysroot() -> PathBuf {
    Path::new(env!("CARGO")).parent().and_then(Path::parent).unwrap().to_owned()
}

/// rustup's bash completion for cargo, if this machine has it.
fn rustup_bash() -> Option<PathBuf> {
    let file = sysroot().join("etc/bash_completion.d/cargo");
    file.is_file().then_some(file)
}

/// bash-completion's helpers, which rustup's `_cargo` calls (`_get_comp_words_by_ref`).
#[track_caller]
fn bash_completion() -> PathBuf {
    let helpers = PathBuf::from("/usr/share/bash-completion/bash_completion");
    assert!(
        helpers.is_file(),
        "bash-completion is not installed: `apt-get install bash-completion` (`cargo xtask test` does it when run as root)"
    );
    helpers
}

fn rustup_zsh() -> Option<PathBuf> {
    let dir = sysroot().join("share/zsh/site-functions");
    dir.join("_cargo").is_file().then_some(dir)
}

/// A shell in a tmux server of its own, stopped on drop.
struct Term {
    tmux: PathBuf,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Term {
    /// Starts `argv` in a 200×50 pane with `home` as HOME and waits for its first prompt.
    fn start(home: &Home, argv: &[&str]) -> Term {
        let tmux = system_tool("tmux", "tmux");
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("tmux.sock");
        // PATH: this binary (as `cargo --list` finds installed subcommands), cargo and rustc
        // (cargo's completion asks them), and the system.
        let bin_dir = cargo_litestream_bin().parent().unwrap().to_owned();
        let cargo_dir = Path::new(env!("CARGO")).parent().unwrap().to_owned();
        let path = std::env::join_paths([bin_dir, cargo_dir, "/usr/bin".into(), "/bin".into()]).unwrap();
        let status = Command::new(&tmux)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", path)
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env("ZDOTDIR", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .env("XDG_DATA_HOME", home.path().join(".local/share"))
            .arg("-S")
            .arg(&socket)
            .args(["-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50", "--"])
            .args(argv)
            .current_dir(home.path())
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        let term = Term { tmux, socket, _dir: dir };
        term.wait_for("the first prompt", |screen| screen.contains(PROMPT));
        term
    }

    fn tmux(&self) -> Command {
        let mut command = Command::new(&self.tmux);
        command.arg("-S").arg(&self.socket);
        command
    }

    fn screen(&self) -> String {
        let out = self.tmux().args(["capture-pane", "-p", "-J"]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `done` holds; fails with the screen after [`TIMEOUT`].
    #[track_caller]
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(start.elapsed() < TIMEOUT, "no {what} within {TIMEOUT:?}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `line`, then TAB twice (the second lists the candidates in bash and zsh, and
    /// leaves fish's list open), and waits until every one of `expected` is on the screen.
    #[track_caller]
    fn complete(&self, line: &str, expected: &[&str]) -> String {
        let typed = self.tmux().args(["send-keys", "-l", line]).status().unwrap();
        assert!(typed.success());
        self.wait_for(&format!("echo of {line:?}"), |screen| screen.contains(line));
        let tabs = self.tmux().args(["send-keys", "Tab", "Tab"]).status().unwrap();
        assert!(tabs.success());
        let screen = self.wait_for(&format!("completion of {line:?} offering {expected:?}"), |screen| {
            expected.iter().all(|word| has_word(screen, word))
        });
        // A completer that fails halfway (a missing helper) still leaves candidates behind.
        assert!(!screen.contains("command not found"), "an error while completing {line:?}:\n{screen}");
        screen
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").status();
    }
}

/// `word` on the screen as a whole word (so `--if-` typed does not count as a candidate).
fn has_word(screen: &str, word: &str) -> bool {
    screen.match_indices(word).any(|(at, _)| {
        let before = screen[..at].chars().next_back();
        let after = screen[at + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'));
        edge(before) && edge(after)
    })
}

/// What every install must complete, for both spellings of the program.
fn our_lines(home: &Home, argv: &[&str]) {
    Term::start(home, argv).complete("cargo litestream restore --if", &RESTORE_IF);
    Term::start(home, argv).complete("cargo litestream re", &RE_COMMANDS);
    Term::start(home, argv).complete("cargo lit", &["litestream"]);
    Term::start(home, argv).complete("cargo +stable litestream re", &RE_COMMANDS);
    Term::start(home, argv).complete("cargo-litestream restore --if", &RESTORE_IF);
    Term::start(home, argv).complete("cargo-litestream re", &RE_COMMANDS);
    // A positional with possible values offers them, not file names.
    Term::start(home, argv).complete("cargo litestream completions p", &["powershell"]);
}

const BASH: [&str; 4] = ["bash", "--noprofile", "--rcfile", ".bashrc"];
const BASH_INSTALL: &str = "source ~/.local/share/cargo-litestream/completions.bash\n";

fn bash_home(before: &str) -> Home {
    system_tool("bash", "bash");
    let home = Home::new("bash");
    // Readline lists the candidates on a TAB that inserted nothing; after one that inserted a
    // common prefix (`--if-`) it takes a third TAB. Listing at once keeps the test to two.
    let readline = "bind 'set bell-style none'\nbind 'set show-all-if-ambiguous on'\n";
    home.write(".bashrc", &format!("PS1='{PROMPT}'\n{readline}{before}{BASH_INSTALL}"));
    home
}

/// A completer for `cargo` registered before ours: ours must hand `cargo b` to it.
#[test]
fn bash_completes_cargo_litestream_and_delegates_to_an_earlier_cargo_completer() {
    let stand_in = "_x() { COMPREPLY=($(compgen -W 'bench build check' -- \"${COMP_WORDS[COMP_CWORD]}\")); }\n\
                    complete -F _x cargo\n";
    let home = bash_home(stand_in);
    our_lines(&home, &BASH);
    Term::start(&home, &BASH).complete("cargo b", &["bench", "build"]);
}

/// No completion for cargo at all: ours still completes `cargo litestream …`.
#[test]
fn bash_completes_cargo_litestream_without_cargo_completion() {
    let home = bash_home("");
    our_lines(&home, &BASH);
}

/// rustup's completion for cargo, sourced before ours, and loaded by ours on demand when the
/// rc only loads bash-completion.
#[test]
fn bash_keeps_rustups_cargo_completion() {
    let Some(rustup) = rustup_bash() else {
        // Nothing of rustup's to keep: the stand-in test covers delegation.
        eprintln!(
            "no rustup completion for cargo beside {}: the stand-in test covers delegation",
            env!("CARGO")
        );
        return;
    };
    let helpers = bash_completion();
    let (helpers, rustup) = (helpers.display(), rustup.display());
    let eager = bash_home(&format!("source {helpers}\nsource {rustup}\n"));
    our_lines(&eager, &BASH);
    Term::start(&eager, &BASH).complete("cargo b", &["bench", "build"]);
    let on_demand = bash_home(&format!("source {helpers}\n"));
    Term::start(&on_demand, &BASH).complete("cargo b", &["bench", "build"]);
    Term::start(&on_demand, &BASH).complete("cargo litestream restore --if", &RESTORE_IF);
}

const ZSH: [&str; 2] = ["zsh", "-i"];

fn zsh_home(fpath: Option<&Path>) -> Home {
    system_tool("zsh", "zsh");
    let home = Home::new("zsh");
    let fpath = fpath.map(|d| format!("fpath=({} $fpath)\n", d.display())).unwrap_or_default();
    home.write(
        ".zshrc",
        &format!(
            "PS1='{PROMPT}'\nunsetopt beep\n{fpath}autoload -Uz compinit\ncompinit -u -d ~/.zcompdump\n\
             source ~/.local/share/cargo-litestream/completions.zsh\n"
        ),
    );
    home
}

#[test]
fn zsh_completes_cargo_litestream_and_keeps_cargo_completion() {
    // rustup's `_cargo` when this machine has it; otherwise a stand-in `_cargo` in fpath.
    let stand_in = tempfile::tempdir().unwrap();
    let fpath = rustup_zsh().unwrap_or_else(|| {
        std::fs::write(stand_in.path().join("_cargo"), "#compdef cargo\ncompadd bench build check\n")
            .unwrap();
        stand_in.path().to_owned()
    });
    let home = zsh_home(Some(&fpath));
    our_lines(&home, &ZSH);
    Term::start(&home, &ZSH).complete("cargo b", &["bench", "build"]);
    // No completion for cargo at all.
    let bare = zsh_home(None);
    our_lines(&bare, &ZSH);
}

const FISH: [&str; 2] = ["fish", "-i"];

#[test]
fn fish_completes_cargo_litestream_and_keeps_cargo_completion() {
    system_tool("fish", "fish");
    let home = Home::new("fish");
    home.write(
        ".config/fish/config.fish",
        &format!("set -g fish_greeting\nfunction fish_prompt; printf '{PROMPT}'; end\n"),
    );
    our_lines(&home, &FISH);
    // fish's own completion for cargo (from the fish package) still answers.
    Term::start(&home, &FISH).complete("cargo b", &["bench", "build"]);
}
