//! The one module that touches the YAML crate.
//!
//! `serde_yaml` is archived upstream (0.9.34+deprecated); keeping every call here means a
//! maintained fork (`serde_norway`, `serde-saphyr`) can replace it by editing one file.
//! The consumer is Go's `gopkg.in/yaml.v2` (YAML 1.1). serde_yaml quotes every string that
//! YAML 1.2 would read as something else (`true`, `0600`, `1e3`, `null`) but leaves YAML 1.1's
//! extra booleans (`yes`, `on`) bare. That is harmless here: every Litestream key that takes a
//! string is a Go `string`, and yaml.v2 stores a scalar's raw text into a string field whatever
//! it resolves to; booleans are emitted as real booleans. The integration tests feed generated
//! files holding such values to `litestream databases -config` to keep this true.

/// Serializes a configuration tree (built as TOML values, which keep their order) as YAML.
pub fn to_string(value: &toml::Value) -> Result<String, String> {
    serde_yaml::to_string(&plain(value)).map_err(|e| e.to_string())
}

/// Parses YAML into JSON values: for tests and for reading Litestream's own files.
pub fn parse(text: &str) -> Result<serde_json::Value, String> {
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

/// TOML datetimes have no YAML counterpart Litestream reads: they become strings.
fn plain(value: &toml::Value) -> serde_json::Value {
    match value {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(n) => serde_json::Value::from(*n),
        toml::Value::Float(f) => serde_json::Value::from(*f),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(items) => serde_json::Value::Array(items.iter().map(plain).collect()),
        toml::Value::Table(table) => {
            serde_json::Value::Object(table.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_read_as_other_types_are_quoted() {
        let mut table = toml::Table::new();
        for (i, text) in
            ["0600", "1e3", "null", "~", "true", "False", "12", "0x1f", ".inf"].iter().enumerate()
        {
            table.insert(format!("k{i}"), (*text).into());
        }
        let yaml = to_string(&toml::Value::Table(table)).unwrap();
        for line in yaml.lines() {
            let value = line.split_once(": ").unwrap().1;
            assert!(value.starts_with('\'') || value.starts_with('"'), "unquoted: {line}");
        }
    }

    #[test]
    fn order_is_kept() {
        let table: toml::Table = "b = 1\na = 2\n".parse().unwrap();
        assert_eq!(to_string(&toml::Value::Table(table)).unwrap(), "b: 1\na: 2\n");
    }
}
