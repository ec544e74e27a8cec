//! `cargo litestream config`: the Litestream YAML generated from Cargo.toml.
//!
//! Printed with secrets redacted (`--show-secrets` shows them); `-o FILE` writes the real
//! thing (mode 0600), e.g. for a container image that runs litestream directly.

use std::io::Write;
use std::path::PathBuf;

use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgAction, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_config::Generate;

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
            Arg::new("no-expand-env")
                .long("no-expand-env")
                .action(ArgAction::SetTrue)
                .help("Generate for litestream -no-expand-env (no $VAR references of our own)"),
        )
}

fn run(matches: &ArgMatches, ctx: &Ctx) -> anyhow::Result<u8> {
    let project = ctx.project()?;
    let options = Generate { no_expand_env: matches.get_flag("no-expand-env"), ..Default::default() };
    if let Some(path) = matches.get_one::<PathBuf>("o") {
        let path = ctx.env.absolute(path);
        project.write_config(&path, &ctx.env, options)?;
        ctx.shell.status("Wrote", path.display());
        return Ok(0);
    }
    let redact = !matches.get_flag("show-secrets");
    let yaml = project.config_yaml(&ctx.env, options, redact)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(yaml.as_bytes()).and_then(|()| stdout.flush()).context("could not write to stdout")?;
    Ok(0)
}

register_command!(CommandSpec {
    name: "config",
    about: "Print the Litestream YAML generated from Cargo.toml (secrets redacted), or write it with -o",
    cli,
    run,
});
