//! The environment checks: every `$VAR` the configuration references is set (names only, never
//! values), `AWS_CA_BUNDLE` left out of litestream's environment, settings that switch a
//! feature off, and credentials written literally into `Cargo.toml`.

use std::collections::BTreeMap;

use cargo_litestream_config::{
    Env, Generate, Project, SECRET_KEYS, TomlValue, is_env_reference, parse_go_duration, redact_url_password,
};
use cargo_litestream_runner::Litestream;

use super::{Check, Status};

/// Keys whose `$VAR` may stay empty: Litestream then uses the AWS credential chain.
const AWS_FALLBACK: &[(&str, &str)] =
    [("access-key-id", "AWS_ACCESS_KEY_ID"), ("secret-access-key", "AWS_SECRET_ACCESS_KEY")].as_slice();

/// Settings Litestream reads as "off" that are a documented choice (so accepted), but rarely
/// the one wanted.
fn switched_off(project: &Project, checks: &mut Vec<Check>) {
    let zero = |key: &str| {
        project
            .globals
            .get(key)
            .and_then(TomlValue::as_str)
            .and_then(parse_go_duration)
            .is_some_and(|d| d.is_zero())
    };
    if zero("l0-retention") {
        checks.push(
            Check::new(
                "environment",
                "l0-retention",
                Status::Warn,
                "l0-retention = \"0s\" switches L0 retention off (db.go skips it): level-0 files are never removed \
                 by age, so the replica and the local state grow with every sync",
            )
            .fix("leave it out (Litestream's default: 5m), or give the window point-in-time restores need"),
        );
    }
}

pub(super) fn check(project: &Project, env: &Env, checks: &mut Vec<Check>) {
    switched_off(project, checks);
    // Every `$VAR` of the generated configuration, with the keys that use it.
    let mut references: BTreeMap<String, Vec<String>> = BTreeMap::new();
    match project.litestream_config(env, Generate::default()) {
        Ok(config) => collect_references(&TomlValue::Table(config), "", &mut references),
        Err(error) => {
            checks.push(Check::new("environment", "configuration", Status::Fail, error.to_string()))
        }
    }
    for (name, keys) in &references {
        if name == "PID" {
            continue; // Litestream's own: its process ID
        }
        let used_by = keys.join(", ");
        if env.non_empty(name).is_some() {
            checks.push(Check::new("environment", name, Status::Pass, format!("set (used by {used_by})")));
            continue;
        }
        let fallback = keys.iter().find_map(|key| {
            AWS_FALLBACK.iter().find(|(k, _)| key.rsplit('.').next() == Some(*k)).map(|(_, var)| *var)
        });
        let check = match fallback {
            Some(var) if env.non_empty(var).is_some() => Check::new(
                "environment",
                name,
                Status::Pass,
                format!("not set; litestream uses {var}, which is (used by {used_by})"),
            ),
            Some(var) => Check::new(
                "environment",
                name,
                Status::Warn,
                format!("not set, nor {var} (used by {used_by}): litestream falls back to the AWS credential chain (profile, instance role)"),
            )
            .fix(format!("set {name} where litestream runs, unless the machine has an IAM role")),
            None => Check::new("environment", name, Status::Fail, format!("not set (used by {used_by}): litestream reads it as empty"))
                .fix(format!("set {name} in the environment litestream runs in (e.g. the service's EnvironmentFile)")),
        };
        checks.push(check);
    }

    // Left out of litestream's environment by `Litestream::command` (litestream 0.5.17 fails
    // every S3 call with it): say so, as that is a change to the user's environment.
    for name in Litestream::removed_variables(env) {
        checks.push(Check::new(
            "environment",
            name,
            Status::Info,
            "set: cargo-litestream leaves it out of litestream's environment (litestream 0.5.17 fails every S3 call \
             with it, \"unable to add custom RootCAs HTTPClient\"; it verifies against the system roots instead); an \
             application opening replicas through the VFS in its own process must unset it itself",
        ));
    }

    let mut literal = Vec::new();
    collect_literal_secrets(&TomlValue::Table(project.globals.clone()), "", &mut literal);
    for db in &project.databases {
        collect_literal_secrets(
            &TomlValue::Table(db.replica.clone()),
            &format!("{}.replica", db.name()),
            &mut literal,
        );
    }
    if literal.is_empty() {
        checks.push(Check::new(
            "environment",
            "credentials",
            Status::Pass,
            "no credential is written literally in Cargo.toml",
        ));
    }
    for key in literal {
        checks.push(
            Check::new(
                "environment",
                "credentials",
                Status::Warn,
                format!("`{key}` is written literally in {} (and in its git history)", project.manifest_path.display()),
            )
            .fix("replace the value with a $VARIABLE reference, set that variable where litestream runs, and rotate the credential"),
        );
    }
}

fn collect_references(value: &TomlValue, key: &str, out: &mut BTreeMap<String, Vec<String>>) {
    match value {
        TomlValue::String(text) => {
            for name in references(text) {
                let keys = out.entry(name).or_default();
                if !keys.contains(&key.to_owned()) {
                    keys.push(key.to_owned());
                }
            }
        }
        TomlValue::Array(items) => {
            for item in items {
                collect_references(item, key, out);
            }
        }
        TomlValue::Table(table) => {
            for (k, v) in table {
                // `dbs` entries are named by their path, not their index.
                let name = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
                collect_references(v, &name, out);
            }
        }
        _ => {}
    }
}

/// The variable names `text` references as Litestream expands them (`$NAME`, `${NAME}`).
fn references(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let name = if let Some(braced) = rest.strip_prefix('{') {
            braced.split_once('}').map(|(name, _)| name).unwrap_or("")
        } else {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        };
        if !name.is_empty() && is_env_reference(&format!("${name}")) {
            names.push(name.to_owned());
        }
    }
    names
}

fn collect_literal_secrets(value: &TomlValue, key: &str, out: &mut Vec<String>) {
    let TomlValue::Table(table) = value else { return };
    for (k, v) in table {
        let path = if key.is_empty() { k.clone() } else { format!("{key}.{k}") };
        match v {
            TomlValue::String(text)
                if SECRET_KEYS.contains(&k.as_str()) && !text.is_empty() && references(text).is_empty() =>
            {
                out.push(path)
            }
            TomlValue::String(text)
                if redact_url_password(text) != *text && text.contains("://") && !text.contains('$') =>
            {
                out.push(format!("{path} (a password in the URL)"));
            }
            TomlValue::Table(_) => collect_literal_secrets(v, &path, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_references() {
        assert_eq!(references("$A/${B_1}/$$/x$"), ["A", "B_1"]);
        assert_eq!(references("no vars"), Vec::<String>::new());
        assert_eq!(references("${1}"), Vec::<String>::new());
    }
}
