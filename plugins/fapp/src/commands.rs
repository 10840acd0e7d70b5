//! Operator command plumbing: reading arguments, writing answers.
//!
//! Owns: [`Args`] (the argument forms every command accepts) and the
//! answer helpers ([`table`], [`Answer`]). The commands themselves live
//! with their role (`therapist`, `patient`, `relay`).
//!
//! Arguments (`weft ctl call fapp COMMAND [ARGS]`) may be
//! - nothing;
//! - a JSON object, e.g. `'{"specialism": "cbt", "plz": "80", "json": true}'`;
//! - a bare word, for commands that take one id (`reserve 3f2a9c1d-29654820`);
//! - for `publish`, TOML text, so a slot file can be passed with the shell:
//!   `weft ctl call fapp publish "$(cat slots.toml)"` (or a JSON file the same way).
//!
//! Every command answers text for people by default and JSON with
//! `"json": true` (combine with `weft ctl --json`, which wraps the answer
//! and sets the exit code). A failed command answers `ok = false`, so the
//! CLI exits with status 1.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Parsed command arguments.
#[derive(Debug, Clone, Default)]
pub struct Args {
    /// The named fields (empty for a bare word).
    pub fields: Map<String, Value>,
    /// The bare word, when the arguments were not JSON or TOML.
    pub word: Option<String>,
}

impl Args {
    /// Parses the argument text of a command that takes JSON or one word.
    pub fn parse(text: &str) -> Result<Args, String> {
        let text = text.trim();
        if text.is_empty() || text == "null" {
            return Ok(Args::default());
        }
        if text.starts_with(['{', '[']) {
            return match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(fields)) => Ok(Args { fields, word: None }),
                Ok(_) => Err("arguments must be a JSON object".into()),
                Err(e) => Err(format!("bad JSON arguments: {e}")),
            };
        }
        if text.split_whitespace().count() == 1 {
            return Ok(Args { fields: Map::new(), word: Some(text.trim_matches('"').to_string()) });
        }
        Err(format!("cannot read the arguments {text:?}: give a JSON object or a single word"))
    }

    /// Parses JSON, or else TOML (for `publish` with a slot file).
    pub fn parse_document(text: &str) -> Result<Args, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('{') {
            return Args::parse(trimmed);
        }
        let table: toml::Table =
            toml::from_str(trimmed).map_err(|e| format!("arguments are neither JSON nor TOML: {e}"))?;
        match toml_to_json(toml::Value::Table(table)) {
            Value::Object(fields) => Ok(Args { fields, word: None }),
            _ => Err("arguments must be a table".into()),
        }
    }

    /// Whether the answer should be JSON.
    pub fn json(&self) -> bool {
        self.fields.get("json").and_then(Value::as_bool).unwrap_or(false)
    }

    /// Deserialises the fields (without `json`) into `T`.
    pub fn to<T: DeserializeOwned>(&self) -> Result<T, String> {
        let mut fields = self.fields.clone();
        fields.remove("json");
        serde_json::from_value(Value::Object(fields)).map_err(|e| format!("bad arguments: {e}"))
    }

    /// The bare word, or the string field `key`.
    pub fn word_or(&self, key: &str) -> Option<String> {
        self.word.clone().or_else(|| self.fields.get(key).and_then(Value::as_str).map(str::to_string))
    }
}

fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => Value::from(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        // An unquoted TOML date-time reads as its text, as if it were quoted.
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(table.into_iter().map(|(k, v)| (k, toml_to_json(v))).collect()),
    }
}

/// A command's answer: success flag, text for people, JSON for scripts.
pub struct Answer {
    /// Whether the command succeeded.
    pub ok: bool,
    /// Text form.
    pub text: String,
    /// JSON form.
    pub json: Value,
}

impl Answer {
    /// A successful answer.
    pub fn ok(text: impl Into<String>, json: Value) -> Answer {
        Answer { ok: true, text: text.into(), json }
    }

    /// A failure: the same message in both forms.
    pub fn fail(message: impl Into<String>) -> Answer {
        let message = message.into();
        Answer { ok: false, json: serde_json::json!({ "error": message }), text: message }
    }

    /// The body to send: JSON text when asked for, else the text form.
    pub fn body(&self, json: bool) -> String {
        if json { self.json.to_string() } else { self.text.clone() }
    }
}

/// The id a patient uses for a slot: the first 8 hex digits of the
/// therapist's address and the slot's start minute, e.g. `3f2a9c1d-29654820`.
pub fn slot_id(therapist: &weft_plugin_api::Address, start: u32) -> String {
    format!("{}-{start}", &therapist.to_string()[..8])
}

/// Splits a slot id into (address prefix in hex, start minute). The prefix
/// may be longer than 8 digits, up to the whole address.
pub fn parse_slot_id(text: &str) -> Option<(String, u32)> {
    let (prefix, start) = text.trim().rsplit_once('-')?;
    let prefix = prefix.to_ascii_lowercase();
    let ok = (8..=32).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then_some(())?;
    Some((prefix, start.parse().ok()?))
}

/// Lays out rows under headers in aligned columns.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(rows.iter().map(|r| line(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_come_as_json_a_word_or_toml() {
        let a = Args::parse(r#"{"plz": "80", "json": true}"#).unwrap();
        assert!(a.json() && a.fields["plz"] == "80");
        assert_eq!(Args::parse(" 3f2a9c1d-29654820 ").unwrap().word.as_deref(), Some("3f2a9c1d-29654820"));
        assert!(Args::parse("two words").is_err());
        assert!(Args::parse("[1]").is_err());
        let toml = "[[slots]]\nstart = 2026-06-01T09:00:00Z\nduration = 50\n";
        let d = Args::parse_document(toml).unwrap();
        assert_eq!(d.fields["slots"][0]["start"], "2026-06-01T09:00:00Z");
        assert!(Args::parse_document("= nonsense").unwrap_err().contains("neither JSON nor TOML"));
    }

    #[test]
    fn slot_ids_name_the_therapist_and_the_minute() {
        let a = weft_plugin_api::Address([0x3f; 16]);
        assert_eq!(slot_id(&a, 29_654_820), "3f3f3f3f-29654820");
        assert_eq!(parse_slot_id("3F3F3F3F-29654820"), Some(("3f3f3f3f".into(), 29_654_820)));
        assert_eq!(parse_slot_id("3f3f-1"), None);
        assert_eq!(parse_slot_id("zzzzzzzz-1"), None);
    }

    #[test]
    fn tables_align() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    LONGER\nxyz  1");
    }
}
