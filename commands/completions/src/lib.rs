//! `cargo litestream completions SHELL`: a completion script on stdout
//! (`cargo_litestream_completions` writes it from the clap tree).

use std::io::Write;

use cargo_litestream_command::anyhow::{self, Context as _};
use cargo_litestream_command::clap::{Arg, ArgMatches, Command, value_parser};
use cargo_litestream_command::{CommandSpec, Ctx, register_command};
use cargo_litestream_completions::Shell;

fn cli() -> Command {
    Command::new("completions").arg(
        Arg::new("shell")
            .value_name("SHELL")
            .required(true)
            .value_parser(value_parser!(Shell))
            .help("bash, zsh, fish, powershell or elvish"),
    )
}

fn run(matches: &ArgMatches, _ctx: &Ctx) -> anyhow::Result<u8> {
    let shell = *matches.get_one::<Shell>("shell").expect("required by clap");
    let mut root = cargo_litestream_command::cli().map_err(anyhow::Error::msg)?;
    let script = cargo_litestream_completions::script(shell, &mut root);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(script.as_bytes()).and_then(|()| stdout.flush()).context("could not write to stdout")?;
    Ok(0)
}

register_command!(CommandSpec {
    name: "completions",
    about: "Print a shell completion script (bash, zsh, fish, powershell, elvish)",
    cli,
    run,
    passthrough: None,
    usage_error: cargo_litestream_command::USAGE_ERROR,
});
