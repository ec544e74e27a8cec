//! Databases inside a `dir` + `pattern` entry, named by path: `verify`, `restore -o`, `ltx`,
//! `restore-points` and `status` reach them (Litestream 0.5.17's own config commands answer
//! "database not found in config" for them), against a real `replicate` and a real S3 server.

use std::os::unix::fs::PermissionsExt;

use crate::s3::{S3Server, SECRET_KEY};
use crate::support::{Project, rows};

/// `tenants/` (pattern `*.db`, recursive) on S3 with literal credentials, and `flat/`
/// (not recursive) on a file replica; databases in both, and files the entries leave out.
fn project(s3: &S3Server) -> Project {
    let project = Project::new(&format!(
        "[package.metadata.litestream]\ndbs = [\n  \
         {{ dir = \"tenants\", pattern = \"*.db\", recursive = true, replica = {} }},\n  \
         {{ dir = \"flat\", pattern = \"*.db\", replica = \"replica\" }},\n]\n",
        s3.replica_toml("tenants")
    ));
    for (db, rows) in [("tenants/t5.db", "1, 2"), ("tenants/sub/deep.db", "3"), ("flat/f.db", "4")] {
        project
            .sqlite(db)
            .execute_batch(&format!(
                "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES ({});",
                rows.replace(", ", "), (")
            ))
            .unwrap();
    }
    project.sqlite("flat/sub/x.db").execute_batch("CREATE TABLE t(x INTEGER);").unwrap();
    project.write("tenants/notes.txt", "not a database\n");
    project
}

#[test]
fn commands_reach_databases_inside_a_dir_entry_by_path() {
    let s3 = S3Server::start();
    let project = project(&s3);
    let _daemon = project.replicate::<_, &str>([]);

    for db in ["tenants/t5.db", "tenants/sub/deep.db", "flat/f.db"] {
        let run = project.run(["verify", db]).success();
        assert!(run.stdout.contains(": in sync: "), "{db}\n{run}");
        // Read by pages from the database's own replica path (S3 and file), nothing restored.
        let json = project.run(["verify", "--json", db]).success().json();
        assert_eq!(json["databases"][0]["method"], "pages", "{db}\n{json}");
        // check finds the same replica natively: it is in sync.
        project.run(["check", db]).success();
        // scrub reads its own replica natively.
        let json = project.run(["scrub", "--json", db]).success().json();
        assert!(json["databases"][0]["files_read"].as_u64().unwrap() > 0, "{db}\n{json}");
    }
    // With no argument, scrub covers every database of the entries.
    let json = project.run(["scrub", "--json"]).success().json();
    assert_eq!(json["databases"].as_array().unwrap().len(), 3, "{json}");

    let run = project.run(["ltx", "-json", "tenants/sub/deep.db"]).success();
    assert!(!run.json().as_array().unwrap().is_empty(), "{run}");

    // The restore reads a config listing this database alone; the secret is in that 0600 file,
    // never on the command line `-v` prints.
    let run = project.run(["-v", "restore", "-o", "out.db", "tenants/t5.db"]).success();
    assert_eq!(rows(&project.path().join("out.db")), [1, 2]);
    assert!(!run.stderr.contains(SECRET_KEY), "{run}");
    let config = run
        .stderr
        .lines()
        .find_map(|l| l.split("-config ").nth(1))
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no -config on the Running line\n{run}"))
        .to_owned();
    assert!(config.contains("dir-databases"), "{run}");
    let mode = std::fs::metadata(&config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{config}");
    let text = std::fs::read_to_string(&config).unwrap();
    // Litestream's directory scan appends the database's relative path to the replica path.
    assert!(text.contains("path: tenants/t5.db"), "{text}");

    let json = project.run(["restore-points", "--json", "tenants/sub/deep.db"]).success().json();
    assert!(!json["databases"][0]["points"].as_array().unwrap().is_empty(), "{json}");

    let run = project.run(["status", "flat/f.db"]).success();
    assert!(run.stdout.contains(&project.p("flat/f.db")), "{run}");

    // With no argument: each database the entries replicate (not the files they leave out).
    let run = project.run(["verify"]).success();
    for db in ["tenants/t5.db", "tenants/sub/deep.db", "flat/f.db"] {
        assert!(run.stdout.contains(&format!("{}: in sync: ", project.p(db))), "{db}\n{run}");
    }
    assert_eq!(run.stdout.lines().count(), 3, "{run}");
    let json = project.run(["restore-points", "--json"]).success().json();
    assert_eq!(json["databases"].as_array().unwrap().len(), 3, "{json}");

    // Paths an entry leaves out: one line naming the rule.
    project.run(["ltx", "tenants/notes.txt"]).our_error(&["notes.txt", "does not match its pattern `*.db`"]);
    project.run(["restore", "-o", "x.db", "flat/sub/x.db"]).our_error(&["flat/sub/x.db", "not `recursive`"]);
    project.run(["verify", "tenants/notes.txt"]).code(3).our_error(&["does not match its pattern"]);
}
