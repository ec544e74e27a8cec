//! An axum service whose SQLite database is replicated by Litestream, through
//! `cargo-litestream-api`, configured by `[package.metadata.litestream]` in this crate's
//! `Cargo.toml` (embedded at build time).
//!
//! At start-up it restores the database if this machine has none and the replica has a backup,
//! opens its connection, then starts replication. On SIGTERM or Ctrl-C it stops accepting
//! requests, lets the ones in flight finish, and stops replication gracefully (a final sync,
//! then litestream's own shutdown). If litestream dies, the service shuts down too and exits 1,
//! so a supervisor (systemd, a container runtime) restarts both.
//!
//! ```sh
//! cargo run -p cargo-litestream-example-axum          # listens on 127.0.0.1:3000
//! curl -d 'hello' localhost:3000/notes                # add a note
//! curl localhost:3000/notes                           # list them
//! open http://localhost:3000/litestream/               # the status page
//! ```
//!
//! Deployed (no Cargo.toml beside the binary): relative paths resolve against
//! `CARGO_LITESTREAM_PROJECT_DIR` (else the working directory); `PORT` and `BIND` choose the
//! address.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use cargo_litestream_api::config::Env;
use cargo_litestream_api::dashboard::tower::DashboardService;
use cargo_litestream_api::dashboard::{Dashboard, Options};
use cargo_litestream_api::rusqlite::Connection;
use cargo_litestream_api::{
    ReplicateOptions, RestoreAction, RestoreOptions, locate_litestream, restore_if_missing, spawn_replicate,
};

type Db = Arc<Mutex<Connection>>;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let env = Env::capture()?;
    let project = cargo_litestream_api::manifest!().load(&env)?;
    let litestream = locate_litestream(&project, &env)?;

    // 1. Before the database is opened: bring it back if this machine has none.
    for report in restore_if_missing(&project, &env, &litestream, &RestoreOptions::default())? {
        match report.action {
            RestoreAction::Restored => eprintln!("restored {} from its replica", report.path.display()),
            RestoreAction::NoBackup => {
                eprintln!("no backup of {} yet: starting fresh", report.path.display())
            }
            RestoreAction::Present | RestoreAction::Skipped { .. } => {}
        }
    }

    // 2. The application's own connection (a pool in a larger service).
    let path = project.alias("default").ok_or("no `default` database in the configuration")?.path.clone();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // WAL, a busy timeout, and no checkpoints of its own: Litestream checkpoints once it has
    // copied the frames (see `cargo_litestream_api::sqlite` for why each matters).
    let conn = cargo_litestream_api::sqlite::open(&path)?;
    conn.execute_batch("CREATE TABLE IF NOT EXISTS notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)")?;
    let db: Db = Arc::new(Mutex::new(conn));

    // 3. Replication for the life of the process (returns after the first sync).
    let replication = spawn_replicate(&project, &env, &litestream, &ReplicateOptions::default())?;
    eprintln!("replicating {} (litestream process {})", path.display(), replication.pid());

    // The status page at /litestream (`cargo litestream dashboard`'s, as a tower service). A
    // real application puts it behind its own authentication layer; this example has none, so
    // the page answers only to loopback Host names unless DASHBOARD_TOKEN is set, which every
    // request must then present.
    let token = env.non_empty("DASHBOARD_TOKEN").map(str::to_owned);
    let options = Options {
        base_path: "/litestream".to_owned(),
        loopback_hosts_only: token.is_none(),
        token,
        ..Options::default()
    };
    let dashboard =
        DashboardService::new(Dashboard::new(project.clone(), env.clone(), litestream.clone(), options)?);

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let address = format!(
        "{}:{}",
        env.non_empty("BIND").unwrap_or("127.0.0.1"),
        env.non_empty("PORT").unwrap_or("3000")
    );
    let watch = replication.watch();
    let died = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&address).await?;
        eprintln!("listening on http://{}", listener.local_addr()?);
        let app = Router::new()
            .route("/notes", get(list).post(add))
            .route("/health", get(|| async { "ok" }))
            .with_state(db)
            .nest_service("/litestream", dashboard);

        // Litestream dying ends the service: nothing it writes would be backed up any more.
        let (died_tx, died_rx) = tokio::sync::oneshot::channel();
        tokio::task::spawn_blocking(move || {
            let exit = watch.wait();
            if !exit.requested {
                let _ = died_tx.send(exit.status);
            }
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let died = tokio::spawn(async move {
            let died = tokio::select! {
                status = died_rx => status.ok(),
                () = shutdown_signal() => None,
            };
            drop(stop_tx); // starts the graceful shutdown
            died
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await?;
        Ok::<_, std::io::Error>(died.await.ok().flatten())
    })?;

    // 4. After the last request: the final sync, then litestream's shutdown (bounded).
    if let Some(status) = died {
        eprintln!("error: litestream exited ({status}); stopping: writes would no longer be backed up");
        return Ok(ExitCode::FAILURE);
    }
    let stopped = replication.stop()?;
    match &stopped.final_sync {
        Ok(synced) => {
            eprintln!("replication stopped: {} database(s) synced ({})", synced.len(), stopped.status)
        }
        Err(error) => eprintln!("warning: the final sync failed: {error}"),
    }
    Ok(if stopped.final_sync.is_ok() && !stopped.killed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// SIGTERM (systemd, `docker stop`) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(_) => return,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn list(State(db): State<Db>) -> Result<String, (StatusCode, String)> {
    blocking(db, |conn| {
        let mut stmt = conn.prepare("SELECT body FROM notes ORDER BY id")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.map(|r| r.map(|body| body + "\n")).collect::<Result<String, _>>()
    })
    .await
}

async fn add(State(db): State<Db>, body: String) -> Result<(StatusCode, String), (StatusCode, String)> {
    let id = blocking(db, move |conn| {
        conn.execute("INSERT INTO notes(body) VALUES (?1)", [&body])?;
        Ok(conn.last_insert_rowid())
    })
    .await?;
    Ok((StatusCode::CREATED, format!("{id}\n")))
}

/// Runs a query on the blocking pool (SQLite calls block).
async fn blocking<T: Send + 'static>(
    db: Db,
    query: impl FnOnce(&Connection) -> cargo_litestream_api::rusqlite::Result<T> + Send + 'static,
) -> Result<T, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    tokio::task::spawn_blocking(move || {
        let conn = db.lock().map_err(|e| e.to_string())?;
        query(&conn).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| internal(e.to_string()))?
    .map_err(internal)
}
