//! Read a table straight from a Litestream replica, through the VFS extension.
//!
//! ```sh
//! cargo run -p cargo-litestream-api --example read_replica -- \
//!     .tools/venv/lib/python3.11/site-packages/litestream_vfs/litestream-vfs.so \
//!     file:///var/backups/app.db \
//!     "SELECT count(*) FROM users"
//! ```
//!
//! For S3, start the program with the credentials in its environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`): the extension reads them once, when the process starts.
//! The replica URL is given per connection, so one process can read several replicas.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use cargo_litestream_api::vfs::{OpenOptions, open_replica};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [extension, replica_url, query] = args.as_slice() else {
        eprintln!("usage: read_replica <litestream-vfs.so> <replica URL> <SQL returning one value>");
        return ExitCode::from(2);
    };

    // Plain SQLite connections (your application's own database) must be opened before this:
    // once the extension is loaded, plain opens in this process fail (upstream bug).
    let options = OpenOptions { timeout: Duration::from_secs(10), poll_interval: None };
    let replica = match open_replica(&PathBuf::from(extension), replica_url, &options) {
        Ok(conn) => conn,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let answer = replica.query_row(query, [], |row| row.get::<_, rusqlite::types::Value>(0));
    let position = replica.query_row("SELECT litestream_txid(), litestream_time()", [], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    });
    match (answer, position) {
        (Ok(value), Ok((txid, time))) => {
            println!("{value:?}");
            eprintln!("(replica at TXID {txid}, written {time})");
            ExitCode::SUCCESS
        }
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
