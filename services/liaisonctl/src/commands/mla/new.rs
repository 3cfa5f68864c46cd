//! Where `mla new` gets a request from: a TOML or a JSON file (by extension), or answers
//! to prompts on a terminal. Each gives the same JSON value, which `content_from_json`
//! turns into the request content; the hub validates it.

use std::{
    io::{BufRead, Write},
    path::Path,
};

use serde_json::{Map, Value};

use crate::failure::{EXIT_USAGE, Failure};

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(EXIT_USAGE, message)
}

/// The request described by a `.toml` or `.json` file.
pub fn from_file(path: &Path) -> Result<Value, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| usage(format!("{}: {error}", path.display())))?;
    let extension = path
        .extension()
        .map(|extension| extension.to_string_lossy().to_ascii_lowercase());
    match extension.as_deref() {
        Some("json") => serde_json::from_str(&text)
            .map_err(|error| usage(format!("{}: not valid JSON: {error}", path.display()))),
        Some("toml") => text
            .parse::<toml::Table>()
            .map(|table| toml_to_json(toml::Value::Table(table)))
            .map_err(|error| usage(format!("{}: not valid TOML: {error}", path.display()))),
        _ => Err(usage(format!(
            "{}: a request file must end in .toml or .json",
            path.display()
        ))),
    }
}

/// TOML as the JSON `mla new` reads; TOML dates and times become RFC 3339 text.
fn toml_to_json(value: toml::Value) -> Value {
    match value {
        toml::Value::String(text) => Value::String(text),
        toml::Value::Integer(number) => Value::from(number),
        toml::Value::Float(number) => Value::from(number),
        toml::Value::Boolean(flag) => Value::Bool(flag),
        toml::Value::Datetime(time) => Value::String(time.to_string()),
        toml::Value::Array(items) => Value::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, toml_to_json(value)))
                .collect(),
        ),
    }
}

/// Asks for each field of a request on `output` and reads the answers from `input`, one
/// line each; choices are listed and may be answered by number or name. A wrong answer is
/// asked again; the end of the input is a usage error.
pub fn from_prompts(input: &mut dyn BufRead, output: &mut dyn Write) -> Result<Value, Failure> {
    let mut prompter = Prompter { input, output };
    let mut request = Map::new();
    let mut put = |key: &str, value: Value| {
        request.insert(key.to_owned(), value);
    };
    prompter.say("A new mutual legal assistance request (a draft: nothing is sent yet).")?;
    put(
        "requested_agency",
        prompter
            .text("Requested agency (AGENCY-ID, e.g. RS-MUP)", None)?
            .into(),
    );
    let basis = prompter.choice(
        "Legal basis",
        &[
            "BUDAPEST_ART_29_PRESERVATION",
            "BUDAPEST_ART_30_DISCLOSURE_OF_PRESERVED_TRAFFIC_DATA",
            "BUDAPEST_ART_31_ACCESS_TO_STORED_DATA",
            "BUDAPEST_ART_33_REAL_TIME_TRAFFIC_DATA",
            "BUDAPEST_ART_34_INTERCEPTION_OF_CONTENT",
            "PROTOCOL_ART_9_EMERGENCY_DISCLOSURE",
            "PROTOCOL_ART_10_EMERGENCY_ASSISTANCE",
            "BILATERAL_TREATY",
        ],
    )?;
    if basis == "BILATERAL_TREATY" {
        put(
            "bilateral_treaty",
            prompter.text("The treaty (name, date)", None)?.into(),
        );
    }
    put("legal_basis", basis.clone().into());
    let urgency = prompter.choice("Urgency", &["ROUTINE", "URGENT", "EMERGENCY"])?;
    if urgency == "EMERGENCY" {
        put(
            "emergency_justification",
            prompter
                .text(
                    "Why is this an emergency (imminent risk to life or safety)?",
                    None,
                )?
                .into(),
        );
    }
    put("urgency", urgency.into());
    put(
        "case_reference",
        prompter.text("Case reference", None)?.into(),
    );
    put(
        "language",
        prompter
            .text("Language of the texts (BCP 47)", Some("en"))?
            .into(),
    );
    put(
        "requesting_authority",
        prompter.text("Requesting authority", None)?.into(),
    );
    put("offence", prompter.text("Offence", None)?.into());
    put(
        "summary_of_facts",
        prompter.text("Summary of facts", None)?.into(),
    );
    let preservation = prompter.yes_no(
        "Preservation requested (Art. 29)?",
        basis == "BUDAPEST_ART_29_PRESERVATION",
    )?;
    put("preservation_requested", preservation.into());
    if preservation {
        put(
            "preservation_necessity",
            prompter.text("Why is preservation needed?", None)?.into(),
        );
        put(
            "full_request_to_follow",
            prompter.yes_no("Will a full request follow?", true)?.into(),
        );
    }
    let data_sought = data_sought(&mut prompter)?;
    put("data_sought", data_sought);
    Ok(Value::Object(request))
}

/// The items of data sought, one after another until the user says there is no other.
fn data_sought(prompter: &mut Prompter<'_>) -> Result<Value, Failure> {
    let mut data_sought = Vec::new();
    loop {
        prompter.say(&format!("Data sought, item {}:", data_sought.len() + 1))?;
        let mut item = Map::new();
        item.insert(
            "category".into(),
            prompter
                .choice("  Category", &["SUBSCRIBER", "TRAFFIC", "CONTENT"])?
                .into(),
        );
        item.insert(
            "description".into(),
            prompter.text("  Description", None)?.into(),
        );
        item.insert(
            "relation_to_offence".into(),
            prompter.text("  Relation to the offence", None)?.into(),
        );
        item.insert(
            "provider".into(),
            prompter.text("  Service provider holding it", None)?.into(),
        );
        let kind = prompter.choice(
            "  Identifier type",
            &[
                "IP_ADDRESS",
                "DOMAIN",
                "URL",
                "EMAIL",
                "PHONE",
                "ACCOUNT",
                "IBAN",
                "CRYPTO_WALLET",
                "DEVICE",
                "OTHER",
            ],
        )?;
        let value = prompter.text("  Identifier value", None)?;
        let time = prompter.text("  Its time (RFC 3339, e.g. 2025-10-09T08:53:20Z)", None)?;
        let zone = prompter.text("  Its time zone (IANA, e.g. Europe/Kyiv)", None)?;
        item.insert(
            "identifiers".into(),
            serde_json::json!([{ "type": kind, "value": value, "time": time, "time_zone": zone }]),
        );
        data_sought.push(Value::Object(item));
        if !prompter.yes_no("Another item of data sought?", false)? {
            break;
        }
    }
    Ok(Value::Array(data_sought))
}

struct Prompter<'a> {
    input: &'a mut dyn BufRead,
    output: &'a mut dyn Write,
}

impl Prompter<'_> {
    fn say(&mut self, text: &str) -> Result<(), Failure> {
        writeln!(self.output, "{text}").map_err(|error| usage(format!("prompt: {error}")))
    }

    /// One answer line, trimmed; the end of the input is an error.
    fn answer(&mut self, question: &str) -> Result<String, Failure> {
        write!(self.output, "{question}: ")
            .and_then(|()| self.output.flush())
            .map_err(|error| usage(format!("prompt: {error}")))?;
        let mut line = String::new();
        let read = self
            .input
            .read_line(&mut line)
            .map_err(|error| usage(format!("reading the answer: {error}")))?;
        if read == 0 {
            return Err(usage(format!(
                "the input ended before the answer to {:?}",
                question.trim()
            )));
        }
        Ok(line.trim().to_owned())
    }

    /// A required text, or `default` when the answer is empty.
    fn text(&mut self, question: &str, default: Option<&str>) -> Result<String, Failure> {
        let asked = match default {
            Some(default) => format!("{question} [{default}]"),
            None => question.to_owned(),
        };
        loop {
            let answer = self.answer(&asked)?;
            match (answer.is_empty(), default) {
                (false, _) => return Ok(answer),
                (true, Some(default)) => return Ok(default.to_owned()),
                (true, None) => self.say("  (required)")?,
            }
        }
    }

    /// One of `choices`, by number or name (case-insensitive).
    fn choice(&mut self, question: &str, choices: &[&str]) -> Result<String, Failure> {
        self.say(&format!("{question}:"))?;
        for (index, choice) in choices.iter().enumerate() {
            self.say(&format!("  {}) {choice}", index + 1))?;
        }
        loop {
            let answer = self.answer(&format!("{question} (1-{})", choices.len()))?;
            let by_number = answer
                .parse::<usize>()
                .ok()
                .and_then(|number| number.checked_sub(1))
                .and_then(|index| choices.get(index));
            let by_name = choices
                .iter()
                .find(|choice| choice.eq_ignore_ascii_case(&answer));
            match by_number.or(by_name) {
                Some(choice) => return Ok((*choice).to_owned()),
                None => self.say(&format!("  {answer:?} is not one of the choices"))?,
            }
        }
    }

    fn yes_no(&mut self, question: &str, default: bool) -> Result<bool, Failure> {
        let hint = if default { "Y/n" } else { "y/N" };
        loop {
            let answer = self.answer(&format!("{question} [{hint}]"))?;
            match answer.to_ascii_lowercase().as_str() {
                "" => return Ok(default),
                "y" | "yes" => return Ok(true),
                "n" | "no" => return Ok(false),
                _ => self.say("  answer y or n")?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_dates_become_rfc_3339_text() {
        let table: toml::Table = "time = 2025-10-09T08:53:20Z\nn = 3\n[[items]]\nx = true"
            .parse()
            .unwrap();
        assert_eq!(
            toml_to_json(toml::Value::Table(table)),
            serde_json::json!({"time": "2025-10-09T08:53:20Z", "n": 3, "items": [{"x": true}]})
        );
    }

    #[test]
    fn wrong_answers_are_asked_again_and_the_end_of_input_is_an_error() {
        let mut output = Vec::new();
        let mut input: &[u8] = b"RS-MUP\n99\nbilateral_treaty\n";
        let failure = from_prompts(&mut input, &mut output).unwrap_err();
        let said = String::from_utf8(output).unwrap();
        assert!(said.contains("\"99\" is not one of the choices"), "{said}");
        assert!(said.contains("The treaty"), "{said}");
        assert_eq!(failure.exit_code, EXIT_USAGE);
        assert!(
            failure.message.contains("input ended"),
            "{}",
            failure.message
        );
    }
}
