//! Every flag of every passthrough command, in every spelling Go's flag package accepts, run
//! through `cargo litestream` and given to litestream 0.5.17 itself (with the same config or
//! control socket): both accept it or both refuse it.
//!
//! The table is the commands' own declarations (`CommandSpec::passthrough`), so a flag declared
//! there is compared with Litestream without anyone adding it here (only its test value, below).
//! The comparison is cheap: success, a flag error, another failure (e.g. no daemon: both get
//! past parsing and fail alike), or still running. The spelling of a boolean's value is checked
//! for meaning too: `-f=false` on `restore -dry-run` plans, `-f=true` is refused by Litestream's
//! own "cannot use -dry-run with -f", whichever program parsed it; `replicate -once=false -exec
//! true` runs, `-once=true` is refused; and whether stdout is JSON must agree (`-json=false`).

// Linked so that every command registers itself in this process too.
use cargo_litestream as _; // links every command (src/lib.rs)

use std::cell::Cell;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cargo_litestream_command::passthrough::{Flag, Needs, Passthrough, Role};

use crate::support::{Project, litestream_bin};

/// What a run came to, as far as parsing is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    /// Refused while parsing the flags.
    FlagError,
    /// Parsed, then failed (no daemon, an existing output, Litestream's own checks).
    Failed,
    /// Still running after [`LIMIT`] (a daemon): killed.
    Running,
}

const LIMIT: Duration = Duration::from_secs(30);

/// Go's flag package's refusals, and ours (clap's usage errors exit 2).
fn outcome(code: Option<i32>, stderr: &str, ours: bool) -> Outcome {
    let go_flag_error = [
        "flag provided but not defined",
        "for flag -",
        "invalid boolean value",
        "flag needs an argument",
        "bad flag syntax",
    ]
    .iter()
    .any(|m| stderr.contains(m));
    let our_flag_error = ours
        && (code == Some(2)
            || stderr.contains("is not a Litestream 0.5 flag")
            || (stderr.contains("invalid value") && stderr.contains(" for -")));
    match code {
        Some(0) => Outcome::Success,
        _ if go_flag_error || our_flag_error => Outcome::FlagError,
        _ => Outcome::Failed,
    }
}

/// The outcome, stderr, and whether stdout was JSON (the meaning of `-json` and its spellings).
fn run_bounded(command: &mut Command, ours: bool) -> (Outcome, String, bool) {
    let output = tempfile::NamedTempFile::new().unwrap();
    let stdout = tempfile::NamedTempFile::new().unwrap();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(stdout.reopen().unwrap())
        .stderr(output.reopen().unwrap())
        .spawn()
        .expect("start");
    let deadline = Instant::now() + LIMIT;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return (Outcome::Running, std::fs::read_to_string(output.path()).unwrap_or_default(), false);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = std::fs::read_to_string(output.path()).unwrap_or_default();
    let json =
        std::fs::read_to_string(stdout.path()).unwrap_or_default().trim_start().starts_with(['{', '[']);
    (outcome(code, &stderr, ours), stderr, json)
}

/// A valid value for each value flag (a new flag needs one here: the test says so).
fn value_of(flag: &str, project: &Project, fresh: &dyn Fn() -> String) -> String {
    match flag {
        "config" => project.p("target/litestream/app/litestream.yml"),
        "socket" => project.p("target/litestream/app/litestream.sock"),
        "timeout" | "first-sync-timeout" | "parallelism" => "2".to_owned(),
        "o" => fresh(),
        "txid" => "0000000000000001".to_owned(),
        "timestamp" | "at" => "2000-01-01T00:00:00Z".to_owned(),
        "follow-interval" => "1s".to_owned(),
        "integrity-check" => "quick".to_owned(),
        "level" => "all".to_owned(),
        "exec" => "true".to_owned(),
        "log-level" => "info".to_owned(),
        "replica" => format!("file://{}", project.p("registered")),
        "index" => "1".to_owned(),
        "generation" => "0123456789abcdef".to_owned(),
        other => panic!("-{other} has no test value: add one to `value_of` in tests/it/flags.rs"),
    }
}

/// Go's flag package's spellings: `(tokens, whether the flag is set)`; a refused spelling
/// (`-b=maybe`) must be refused by both.
fn spellings(flag: &Flag, value: &dyn Fn() -> String) -> Vec<Vec<String>> {
    let name = flag.name;
    match flag.value {
        None => ["-{}", "--{}", "-{}=true", "--{}=true", "-{}=false", "--{}=F", "-{}=maybe"]
            .iter()
            .map(|form| vec![form.replace("{}", name)])
            .collect(),
        Some(_) => vec![
            vec![format!("-{name}"), value()],
            vec![format!("--{name}"), value()],
            vec![format!("-{name}={}", value())],
            vec![format!("--{name}={}", value())],
        ],
    }
}

/// The flags a run needs beside the one tested, so that it neither runs forever nor fails
/// for a reason that has nothing to do with the flag.
fn base(command: &str, tested: &str, project: &Project, fresh: &dyn Fn() -> String) -> Vec<String> {
    match (command, tested) {
        // `-once=false` would leave the daemon running: `-exec true` ends it; with `-once`
        // Litestream refuses it ("cannot specify -once flag with -exec").
        ("replicate", "once") => vec!["-exec".into(), "true".into()],
        ("replicate", _) => vec!["-once".into()],
        // Follow mode never ends: with -dry-run Litestream refuses it instead.
        ("restore", "f") => vec!["-dry-run".into(), "-o".into(), fresh()],
        ("restore", "o") => vec![],
        ("restore", _) => vec!["-o".into(), fresh()],
        ("register", "replica") => vec![],
        ("register", _) => vec!["-replica".into(), format!("file://{}", project.p("registered"))],
        _ => vec![],
    }
}

fn passthroughs() -> Vec<(&'static str, &'static Passthrough)> {
    let commands = cargo_litestream_command::commands().unwrap();
    // Every command crate is linked through the tool's library: the root manifest lists each.
    let manifest = include_str!("../../Cargo.toml");
    let crates = manifest.lines().filter(|l| l.starts_with("cargo-litestream-cmd-")).count();
    assert_eq!(commands.len(), crates, "src/lib.rs must `use` every command crate");
    commands.iter().filter_map(|(name, spec)| spec.passthrough.map(|p| (*name, p))).collect()
}

fn project() -> Project {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\n\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    // A backup to restore and list; the generated config for litestream itself.
    project.run(["replicate", "-once"]).success();
    project
}

#[test]
fn every_flag_is_accepted_as_litestream_accepts_it() {
    let project = project();
    let counter = Cell::new(0);
    let fresh = || {
        counter.set(counter.get() + 1);
        project.p(&format!("out/{}.db", counter.get()))
    };
    let mut differences = Vec::new();
    let mut compared = 0;
    let mut json_outputs = 0;
    for (name, passthrough) in passthroughs() {
        let positionals: Vec<(String, String)> = passthrough
            .positionals
            .iter()
            .filter(|p| p.required)
            .map(|_| ("app.db".to_owned(), project.p("app.db")))
            .collect();
        for flag in passthrough.all_flags() {
            // Each side gets its own values (a fresh `-o` each), spelled alike.
            let value = || value_of(flag.name, &project, &fresh);
            for (tokens, our_tokens) in spellings(flag, &value).into_iter().zip(spellings(flag, &value)) {
                let extra = base(passthrough.command, flag.name, &project, &fresh);
                let our_extra = base(passthrough.command, flag.name, &project, &fresh);
                let mut raw = Command::new(litestream_bin());
                raw.arg(passthrough.command);
                let tested_is = |n: &str| flag.name == n;
                match passthrough.needs {
                    Needs::Config if !tested_is("config") => {
                        raw.args(["-config", &value_of("config", &project, &fresh)]);
                    }
                    Needs::Socket(_) if !tested_is("socket") => {
                        raw.args(["-socket", &value_of("socket", &project, &fresh)]);
                    }
                    _ => {}
                }
                raw.args(&extra).args(&tokens).args(positionals.iter().map(|p| &p.1));
                project.hermetic(&mut raw);
                let (theirs, their_err, their_json) = run_bounded(&mut raw, false);

                let mut ours_cmd = project.cmd([name]);
                ours_cmd.args(&our_extra).args(&our_tokens).args(positionals.iter().map(|p| &p.0));
                let (ours, our_err, our_json) = run_bounded(&mut ours_cmd, true);
                compared += 1;
                json_outputs += usize::from(their_json);

                let expected_ours = match flag.role {
                    // Litestream's flags: alike.
                    Role::Pass | Role::Database | Role::Convert(_) => theirs,
                    // Ours, or old spellings we still take: Litestream refuses them, we do not.
                    Role::Local | Role::Rename(..) => {
                        if theirs != Outcome::FlagError {
                            differences.push(format!(
                                "{name} {tokens:?}: declared as ours, but litestream accepts it ({theirs:?})"
                            ));
                        }
                        if ours == Outcome::FlagError { Outcome::Failed } else { ours }
                    }
                    // Dropped by Litestream 0.5: refused by both (ours says why).
                    Role::Refuse(_) => Outcome::FlagError,
                };
                let refused_spelling = tokens[0].ends_with("=maybe");
                let expected_ours = if refused_spelling { Outcome::FlagError } else { expected_ours };
                let same_output = their_json == our_json || !matches!(flag.role, Role::Pass);
                if ours != expected_ours || (refused_spelling && theirs != Outcome::FlagError) || !same_output
                {
                    differences.push(format!(
                        "{name} {extra:?} {tokens:?}: litestream {theirs:?} (JSON: {their_json}), cargo litestream {ours:?} (JSON: {our_json})\n  litestream: {}\n  ours: {}",
                        their_err.lines().find(|l| l.contains("rror")).unwrap_or_default(),
                        our_err.lines().find(|l| l.contains("rror")).unwrap_or_default(),
                    ));
                }
            }
        }
    }
    assert!(compared > 200, "only {compared} runs compared");
    // The JSON comparison saw JSON (databases, status, ltx, wal, restore: `-json` and `=true`).
    assert!(json_outputs >= 20, "only {json_outputs} runs printed JSON");
    assert!(differences.is_empty(), "{} differences:\n{}", differences.len(), differences.join("\n"));
}

/// A mistyped flag: refused by both; ours in one line with the nearest flag, as Litestream
/// names it (one dash).
#[test]
fn a_mistyped_flag_gets_the_nearest_one() {
    let project = project();
    for (name, passthrough) in passthroughs() {
        let Some(flag) = passthrough.flags.iter().find(|f| f.name.len() > 3 && matches!(f.role, Role::Pass))
        else {
            continue;
        };
        let mut letters: Vec<char> = flag.name.chars().collect();
        letters.swap(1, 2);
        let typo: String = letters.into_iter().collect();

        let mut raw = Command::new(litestream_bin());
        raw.arg(passthrough.command).arg(format!("-{typo}"));
        project.hermetic(&mut raw);
        let (theirs, _, _) = run_bounded(&mut raw, false);
        assert_eq!(theirs, Outcome::FlagError, "litestream {name} -{typo}");

        let run = project.run([name, &format!("-{typo}")]);
        let run = run
            .our_error(&[&format!("flag provided but not defined: -{typo}; did you mean -{}?", flag.name)]);
        assert_eq!(run.stderr.lines().count(), 1, "{run}");
    }
}

/// An unknown command: the nearest first, in one line.
#[test]
fn a_mistyped_command_gets_the_nearest_first() {
    let project = Project::empty();
    let run = project.run(["restor"]).code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
    assert!(run.stderr.starts_with("error: no such command: `restor`; did you mean `restore`?"), "{run}");
    let run = project.run(["replicat"]).code(2);
    assert!(run.stderr.contains("did you mean `replicate`?"), "{run}");
}
