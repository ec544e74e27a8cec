//! The replica checks: each replica answers `litestream ltx`, and takes writes ([`super::writable`]),
//! at most [`PARALLEL_CHECKS`] databases at once.

use std::path::Path;
use std::time::Duration;

use cargo_litestream_config::{Env, Generate, Project};
use cargo_litestream_runner::Litestream;

use super::pool::bounded_map;
use super::{Check, Status, writable};
use crate::process::{BoundedError, last_error_line, output_within};

pub(super) fn check(
    project: &Project,
    env: &Env,
    litestream: Option<&Litestream>,
    timeout: Duration,
    checks: &mut Vec<Check>,
) {
    let config = project.config_path();
    if litestream.is_some()
        && let Err(error) = project.write_config(&config, env, Generate::default())
    {
        checks.push(Check::new("replica", "", Status::Fail, error.to_string()));
        return;
    }
    let results = bounded_map(&project.databases, PARALLEL_CHECKS, |db| {
        // Listed by litestream when there is one to run; probed for writes either way.
        let listed = litestream
            .zip(db.path())
            .map(|(litestream, path)| replica_check(&db.name(), path, &config, env, litestream, timeout));
        // An unreachable replica is said once, by its listing.
        let reachable = listed.as_ref().is_none_or(|check| check.status != Status::Fail);
        let writable = reachable.then(|| writable::check(db, &project.globals, env, timeout)).flatten();
        listed.into_iter().chain(writable).collect::<Vec<Check>>()
    });
    for result in results {
        match result {
            Some(found) => checks.extend(found),
            None => checks.push(Check::new("replica", "", Status::Fail, "the check panicked")),
        }
    }
}

/// How many replicas doctor lists at once: each is a `litestream ltx` process, and a project
/// may have thousands of databases.
const PARALLEL_CHECKS: usize = 8;

fn replica_check(
    name: &str,
    path: &Path,
    config: &Path,
    env: &Env,
    litestream: &Litestream,
    timeout: Duration,
) -> Check {
    let mut command = litestream.command(env);
    command.arg("ltx").arg("-config").arg(config).args(["-level", "all", "-json"]).arg(path);
    match output_within(&mut command, None, timeout) {
        Ok(done) if done.status.success() => match crate::backups::parse_listing(&done.stdout) {
            Err(error) => Check::new("replica", name, Status::Fail, error.to_string())
                .fix("report it: litestream's listing is not what cargo-litestream reads"),
            Ok(files) => match files.iter().max_by_key(|f| f.max_txid) {
                Some(newest) => Check::new(
                    "replica",
                    name,
                    Status::Pass,
                    format!(
                        "reachable: {} LTX files, newest TXID {} written {}",
                        files.len(),
                        crate::json::txid(newest.max_txid),
                        newest.created
                    ),
                ),
                None => Check::new("replica", name, Status::Warn, "reachable, but it holds no backup yet")
                    .fix("start `cargo litestream replicate` (the first sync writes a snapshot)"),
            },
        },
        Ok(done) => {
            let error = last_error_line(&done.stderr);
            // The AWS SDK's chain ends at the instance metadata service: its error hides that no
            // credentials were found anywhere before it.
            let fix = if ["IMDS", "ec2imds", "no EC2 IMDS role", "failed to refresh cached credentials"]
                .iter()
                .any(|needle| error.contains(needle))
            {
                "no S3 credentials were found: set the replica's `access-key-id` and `secret-access-key` (best as \
                 \"$VAR\" references), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials) for \
                 litestream; the instance metadata service is only the last resort, on EC2/ECS"
            } else {
                "check the replica's address, bucket and credentials (`cargo litestream config` shows what litestream gets)"
            };
            Check::new("replica", name, Status::Fail, format!("cannot be listed: {error}")).fix(fix)
        }
        Err(BoundedError::TimedOut(after)) => Check::new(
            "replica",
            name,
            Status::Fail,
            format!("did not answer within {} s", after.as_secs()),
        )
        .fix("check that the endpoint is reachable from this machine (firewall, DNS, endpoint URL); raise --timeout for a slow one"),
        Err(error) => Check::new("replica", name, Status::Fail, error.to_string()),
    }
}
