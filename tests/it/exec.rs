//! `replicate -exec CMD`, supervised by cargo-litestream: CMD's exit code, a CMD that exits
//! within litestream's first second, signals, and no process left behind. Real litestream
//! 0.5.17, a `file` replica, real signals; waiting is on events (a line the command prints,
//! process exits), never on sleeps.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{ChildStdout, Stdio};
use std::time::{Duration, Instant};

use crate::procs;
use crate::support::{Project, rows};

/// A project replicating `app.db` (alias `default`, table `t`) to `replica/`.
fn project(extra: &str) -> Project {
    let project = Project::new(&format!(
        "[package.metadata.litestream]\nreplica = \"replica\"\n{extra}\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n"
    ));
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER)").unwrap();
    project
}

fn restored(project: &Project) -> Vec<i64> {
    let out = project.path().join(format!("restored-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&out);
    project.run(["restore", "-o", out.to_str().unwrap(), "default"]).success();
    let found = rows(&out);
    std::fs::remove_file(&out).unwrap();
    found
}

/// `cargo litestream replicate …` running in the background, its stdout (the command's) piped.
struct Supervisor {
    child: Option<std::process::Child>,
    stdout: BufReader<ChildStdout>,
    log: tempfile::NamedTempFile,
}

impl Supervisor {
    fn start(project: &Project, args: &[&str]) -> Supervisor {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut command = project.cmd(std::iter::once("replicate").chain(args.iter().copied()));
        command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(log.reopen().unwrap());
        let mut child = command.spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Supervisor { child: Some(child), stdout, log }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Blocks until the command prints `line` (it runs then).
    fn wait_for_line(&mut self, line: &str) {
        let mut got = String::new();
        let read = self.stdout.read_line(&mut got).unwrap();
        assert!(
            read > 0 && got.trim_end() == line,
            "expected {line:?} on stdout, got {got:?}\n{}",
            self.log()
        );
    }

    /// The litestream and command processes it runs.
    fn children(&self) -> (u32, u32) {
        let children = procs::children(self.pid());
        let litestream = children.iter().find(|(_, name)| name == "litestream").map(|(pid, _)| *pid);
        let command = children.iter().find(|(_, name)| name != "litestream").map(|(pid, _)| *pid);
        match (litestream, command) {
            (Some(l), Some(c)) => (l, c),
            _ => {
                panic!("expected litestream and the command as children, found {children:?}\n{}", self.log())
            }
        }
    }

    /// Waits (bounded) for the exit code.
    fn wait(&mut self) -> Option<i32> {
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                use std::os::unix::process::ExitStatusExt;
                return status.code().or_else(|| status.signal().map(|s| 128 + s));
            }
            assert!(Instant::now() < deadline, "replicate -exec did not exit\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            for (pid, _) in procs::children(child.id()) {
                procs::kill(pid, libc::SIGKILL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn exec_exits_with_the_command_exit_code() {
    let project = project("");
    for code in [0, 3, 42] {
        let run = project.run(["replicate", "-exec", &format!("sh -c 'exit {code}'")]);
        assert_eq!(run.code, Some(code), "{run}");
        assert!(!run.stderr.contains("error:"), "{run}");
    }
    // A command killed by a signal: 128 + the signal, as a shell reports it.
    project.run(["replicate", "-exec", "sh -c 'kill -USR1 $$'"]).code(128 + libc::SIGUSR1);
}

/// Litestream 0.5.17 on its own replicates nothing of a command that exits within its first
/// second (#436: it opens databases on its first tick and skips its shutdown sync before it);
/// through cargo-litestream every row of a command that writes and exits at once is restored.
/// (Not contrasted with litestream's own `-exec` here: that outcome depends on the command
/// finishing within a second, a timing this suite does not assert.)
#[test]
fn exec_replicates_a_command_that_exits_at_once() {
    let project = project("");
    project.run(["replicate", "-exec", "sqlite3 app.db 'INSERT INTO t VALUES (1), (2), (3)'"]).success();
    assert_eq!(restored(&project), [1, 2, 3]);
}

/// SIGTERM to `cargo litestream replicate -exec` reaches the command (which writes a last row
/// and exits 7), then litestream; the exit code is the command's; no process is left.
#[test]
fn exec_sigterm_reaches_the_command_then_litestream() {
    let project = project("");
    let script = r#"trap 'sqlite3 app.db \"INSERT INTO t VALUES (99)\"; exit 7' TERM; sqlite3 app.db 'INSERT INTO t VALUES (1)'; echo ready; while :; do sleep 0.05; done"#;
    let mut supervisor = Supervisor::start(&project, &["-exec", &format!("sh -c \"{script}\"")]);
    supervisor.wait_for_line("ready");
    let (litestream, command) = supervisor.children();

    // While it runs, a second replicator is refused, naming the litestream process.
    project.run(["replicate"]).our_error(&["already being replicated", &format!("by process {litestream}")]);

    procs::kill(supervisor.pid(), libc::SIGTERM);
    let code = supervisor.wait();
    assert_eq!(code, Some(7), "{}", supervisor.log());
    assert!(procs::wait_gone(command, Duration::from_secs(10)), "the command still runs");
    assert!(procs::wait_gone(litestream, Duration::from_secs(10)), "litestream still runs");
    assert!(supervisor.log().contains("signal received, litestream shutting down"), "{}", supervisor.log());
    assert_eq!(restored(&project), [1, 99], "the row written on SIGTERM is replicated");
}

/// The configuration's `exec` is the same as `-exec` (and `-exec` overrides it); the generated
/// file keeps it, the supervised litestream gets a copy without it.
#[test]
fn exec_from_the_configuration() {
    let project = project("exec = \"sh -c 'sqlite3 app.db \\\"INSERT INTO t VALUES (5)\\\"; exit 5'\"\n");
    project.run(["replicate"]).code(5);
    assert_eq!(restored(&project), [5]);
    project.run(["replicate", "-exec", "sh -c 'exit 6'"]).code(6);
    project.run(["config"]).success().stdout_has("exec:");
    let supervised =
        std::fs::read_to_string(project.path().join("target/litestream/app/litestream-supervised.yml"))
            .unwrap();
    assert!(!supervised.contains("exec"), "{supervised}");
}

/// With the user's own `-config FILE` (written by `config -o`, as a deployment does), the
/// socket, databases and `exec` come from that file.
#[test]
fn exec_with_an_own_config_file() {
    let project = project("exec = \"sh -c 'sqlite3 app.db \\\"INSERT INTO t VALUES (8)\\\"; exit 8'\"\n");
    let file = project.p("deploy.yml");
    project.run(["config", "-o", &file]).success();
    project.run(["replicate", "-config", &file]).code(8);
    project
        .run([
            "replicate",
            "-config",
            &file,
            "-exec",
            "sh -c 'sqlite3 app.db \"INSERT INTO t VALUES (9)\"; exit 9'",
        ])
        .code(9);
    assert_eq!(restored(&project), [8, 9]);

    // A file without a control socket cannot be supervised: said before anything starts.
    project.write("nosocket.yml", "dbs:\n  - path: app.db\n    replica:\n      path: replica2\n");
    project
        .run(["replicate", "-config", "nosocket.yml", "-exec", "true"])
        .our_error(&["needs the control socket", "socket: {enabled: true"]);
}

/// Single-database mode (`DB_PATH REPLICA_URL`) gets a private control socket.
#[test]
fn exec_in_single_database_mode() {
    let project = project("");
    let url = format!("file://{}", project.p("single"));
    project
        .run([
            "replicate",
            "-exec",
            "sh -c 'sqlite3 app.db \"INSERT INTO t VALUES (4)\"; exit 4'",
            "app.db",
            &url,
        ])
        .code(4);
    let out = project.p("single.db");
    project.run(["restore", "-o", &out, &url]).success();
    assert_eq!(rows(Path::new(&out)), [4]);
}

/// Litestream killed under a running command: the command is stopped (its writes would no
/// longer be replicated) and the exit code is litestream's.
#[test]
fn exec_stops_the_command_when_litestream_dies() {
    let project = project("");
    let mut supervisor =
        Supervisor::start(&project, &["-exec", "sh -c 'echo ready; while :; do sleep 0.05; done'"]);
    supervisor.wait_for_line("ready");
    let (litestream, command) = supervisor.children();
    procs::kill(litestream, libc::SIGKILL);
    assert_eq!(supervisor.wait(), Some(128 + libc::SIGKILL), "{}", supervisor.log());
    assert!(procs::wait_gone(command, Duration::from_secs(10)), "the command still runs");
    let log = supervisor.log();
    assert_eq!(log.lines().filter(|l| l.starts_with("error:")).count(), 1, "{log}");
    assert!(log.contains("litestream exited while the command was running"), "{log}");
}

/// `kill -9` of cargo-litestream itself: the kernel sends litestream and the command SIGTERM
/// (parent-death signal), so neither is orphaned.
#[cfg(target_os = "linux")]
#[test]
fn exec_leaves_no_orphan_when_killed() {
    let project = project("");
    let mut supervisor =
        Supervisor::start(&project, &["-exec", "sh -c 'echo ready; while :; do sleep 0.05; done'"]);
    supervisor.wait_for_line("ready");
    let (litestream, command) = supervisor.children();
    procs::kill(supervisor.pid(), libc::SIGKILL);
    assert_eq!(supervisor.wait(), Some(128 + libc::SIGKILL));
    assert!(procs::wait_gone(command, Duration::from_secs(10)), "the command was orphaned");
    assert!(procs::wait_gone(litestream, Duration::from_secs(15)), "litestream was orphaned");
}

#[test]
fn exec_refusals_start_nothing() {
    let project = project("");
    project.run(["replicate", "-exec", "migrate; serve"]).our_error(&["shell syntax", "sh -c"]);
    project.run(["replicate", "-exec", "no-such-program-cl5"]).code(127).our_error(&["no-such-program-cl5"]);
    // Litestream's own rule, with its own error.
    project
        .run(["replicate", "-once", "-exec", "true"])
        .code(1)
        .stderr_has("cannot specify -once flag with -exec");
    // Nothing is left answering, and the lock is free again.
    assert_ne!(project.run(["info", "-timeout", "2"]).code, Some(0));
    project.run(["replicate", "-exec", "true"]).success();

    let disabled = self::project("socket = { enabled = false }\n");
    disabled
        .run(["replicate", "-exec", "true"])
        .our_error(&["needs the control socket", "socket.enabled = false"]);
}

/// A replica that cannot be reached: the command still starts, after `-first-sync-timeout`
/// (not 30 s in silence), with a line saying what it waits for, then one saying it gave up.
#[test]
fn an_unreachable_replica_delays_the_command_by_first_sync_timeout_and_says_so() {
    let project = Project::new(
        "[package.metadata.litestream]\nshutdown-sync-timeout = \"2s\"\nreplica = { type = \"s3\", bucket = \"b\", path = \"p\", \
         endpoint = \"http://127.0.0.1:9\", region = \"us-east-1\", force-path-style = true, access-key-id = \"k\", \
         secret-access-key = \"s\" }\n[package.metadata.litestream.databases]\ndefault = \"app.db\"\n",
    );
    project.sqlite("app.db").execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);").unwrap();
    let run = project.run(["replicate", "-first-sync-timeout", "4", "-exec", "true"]);
    assert_eq!(run.code, Some(0), "the command ran and its exit code is the exit code\n{run}");
    assert!(run.stderr.contains("Waiting for the first sync to reach the replica"), "{run}");
    assert!(run.stderr.contains("at most 4 s"), "{run}");
    assert!(run.stderr.contains("starting the command anyway"), "{run}");
    project
        .run(["replicate", "-first-sync-timeout", "0", "-exec", "true"])
        .our_error(&["-first-sync-timeout"]);
}

/// `wait.sh`: waits (60 s at most) until the history holds a verify, a scrub and a drill.
fn write_wait_for_one_of_each_check(project: &Project) {
    project.write(
        "wait.sh",
        "for i in $(seq 1 600); do\n\
         h=target/litestream/app/history.jsonl\n\
         grep -q '\"kind\":\"verify\"' $h 2>/dev/null && grep -q '\"kind\":\"scrub\"' $h && \
         grep -q '\"kind\":\"drill\"' $h && exit 0\n\
         sleep 0.1\ndone\nexit 1\n",
    );
}

/// Under `replicate -exec`, the project's `verify-every`, `scrub-every` and `drill-every` run
/// while the command does: here the command waits until the history holds one of each.
#[test]
fn exec_runs_the_scheduled_checks_while_the_command_runs() {
    let project = project("verify-every = \"1s\"\nscrub-every = \"1s\"\ndrill-every = \"1s\"\n");
    write_wait_for_one_of_each_check(&project);
    let run = project.run(["replicate", "-exec", "sh wait.sh"]);
    let run = run.success();
    for kind in ["verify default: in sync", "scrub default: sound", "drill default: passed"] {
        assert!(run.stderr.contains(&format!("Assured {kind}")), "{kind}\n{run}");
    }
    project.run(["drill"]).success();
}

/// The schedule checks a `dir` entry's databases too, as the commands do with no argument
/// (it used to pass over every `dir` entry, so their backups were never proved).
#[test]
fn the_schedule_checks_the_databases_of_a_dir_entry() {
    let project = Project::new(
        "[package.metadata.litestream]\nreplica = \"replica\"\nverify-every = \"1s\"\nscrub-every = \"1s\"\n\
         drill-every = \"1s\"\ndbs = [{ dir = \"tenants\", pattern = \"*.db\" }]\n",
    );
    project
        .sqlite("tenants/a.db")
        .execute_batch("CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1);")
        .unwrap();
    write_wait_for_one_of_each_check(&project);
    let run = project.run(["replicate", "-exec", "sh wait.sh"]).success();
    let database = project.path().join("tenants/a.db");
    let database = database.display();
    for kind in [
        format!("verify {database}: in sync"),
        format!("scrub {database}: sound"),
        format!("drill {database}: passed"),
    ] {
        assert!(run.stderr.contains(&format!("Assured {kind}")), "{kind}\n{run}");
    }
}
