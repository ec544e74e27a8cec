//! `cargo litestream config`: the Litestream YAML generated from Cargo.toml.
//!
//! Printed with secrets redacted (`--show-secrets` shows them); `-o FILE` writes the real
//! thing (mode 0600), e.g. for a container image that runs litestream directly; `--json` prints
//! the same tree as JSON, for tools, under `config` in a document of our own (README.md, "JSON
//! output"): the tree is Litestream's format, versioned by Litestream, so it stays untouched (no
//! `version` key of ours inside what Litestream would read) and `version` is the envelope's.

use std::io::Write;
use std::path::PathBuf;

use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_config::{Generate, TomlValue, redact_secrets};
use serde::Serialize;

/// The schema version of `config --json` (README.md, "JSON output").
const JSON_VERSION: u32 = 1;

fn cli() -> Command {
    Command::new("config")
        .arg(
            Arg::new("o")
                .short('o')
                .long("output")
                .value_name("FILE")
                .value_parser(value_parser!(PathBuf))
                .help("Write the YAML to FILE (mode 0600, secrets included) instead of printing it"),
        )
        .arg(
            Arg::new("show-secrets")
                .long("show-secrets")
                .action(ArgAction::SetTrue)
                .help("Print secrets instead of <redacted>"),
        )
        .arg(
            Arg::new("json")
                .long("json")
                .action(ArgAction::SetTrue)
                .conflicts_with("o")
                .help("Print the configuration as JSON (secrets redacted unless --show-secrets)"),
        )
        .arg(
            Arg::new("no-expand-env")
                .long("no-expand-env")
                .action(ArgAction::SetTrue)
                .help("Generate for litestream -no-expand-env (no $VAR references of our own)"),
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let json = ctx.json(matches, JSON_VERSION);
    let project = ctx.project()?;
    let options = Generate { no_expand_env: matches.get_flag("no-expand-env"), ..Default::default() };
    if let Some(path) = matches.get_one::<PathBuf>("o") {
        let path = ctx.env.absolute(path);
        project.write_config(&path, &ctx.env, options)?;
        ctx.shell.status("Wrote", path.display());
        return Ok(0);
    }
    let redact = !matches.get_flag("show-secrets");
    if let Some(json) = json {
        let mut config = TomlValue::Table(project.litestream_config(&ctx.env, options)?);
        if redact {
            redact_secrets(&mut config);
        }
        json.print(&Output { litestream_version: &project.version, config: &config })?;
        return Ok(0);
    }
    let text = project.config_yaml(&ctx.env, options, redact)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()).context("could not write to stdout")?;
    Ok(0)
}

/// `config --json`'s fields after `version`.
#[derive(Serialize)]
struct Output<'a> {
    /// The Litestream version the configuration is generated for: its format is Litestream's.
    litestream_version: &'a str,
    /// The YAML's tree.
    config: &'a TomlValue,
}

register_command!(CommandSpec {
    name: "config",
    about: "Print the Litestream YAML generated from Cargo.toml (secrets redacted), or write it with -o",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
