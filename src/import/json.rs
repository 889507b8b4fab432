//! Parsing of a JSON file that contains an array of objects. The line where each object starts
//! is kept, so messages can point at it.

use serde_json::{Map, Value};

use super::problem::Problem;

/// One object of the top-level array.
pub struct JsonRecord {
    /// The 1-based line of the object's opening brace.
    pub line: u64,
    /// The 1-based position of the object in the array.
    pub number: usize,
    /// The object's fields.
    pub fields: Map<String, Value>,
}

/// Parses `text` as an array of objects. Elements that are not objects are reported with
/// their line and skipped.
pub fn parse_records(file: &str, text: &str, problems: &mut Vec<Problem>) -> Vec<JsonRecord> {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => {
            let line = u64::try_from(err.line()).ok().filter(|line| *line > 0);
            problems.push(Problem::at(file, line, format!("is not valid JSON: {err}")));
            return Vec::new();
        }
    };
    let Value::Array(elements) = value else {
        problems.push(Problem::in_file(
            file,
            format!(
                "must hold a JSON array of objects, but its top level is {}",
                kind_of(&value)
            ),
        ));
        return Vec::new();
    };

    let lines = array_element_lines(text);
    let mut records = Vec::with_capacity(elements.len());
    for (index, element) in elements.into_iter().enumerate() {
        let line = lines.get(index).copied();
        match element {
            Value::Object(fields) => records.push(JsonRecord {
                line: line.expect("BUG: a parsed array has a start line for every element"),
                number: index + 1,
                fields,
            }),
            other => problems.push(Problem::at(
                file,
                line,
                format!(
                    "element {} is {}, but an object is expected",
                    index + 1,
                    kind_of(&other)
                ),
            )),
        }
    }
    records
}

/// Finds the line where each element of the top-level array starts.
///
/// `text` must already have parsed as a JSON array: the scan tracks only nesting depth and
/// string literals, which is enough for valid JSON. serde_json does not report positions of
/// parsed values, hence this second pass.
fn array_element_lines(text: &str) -> Vec<u64> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expecting_element = false;

    for byte in text.bytes() {
        // JSON strings cannot hold a raw line break, so every one counts.
        if byte == b'\n' {
            line += 1;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        if expecting_element && !byte.is_ascii_whitespace() && byte != b']' {
            lines.push(line);
            expecting_element = false;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expecting_element = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expecting_element = true,
            _ => {}
        }
    }
    lines
}

/// Reads an optional text field. Numbers are accepted and kept as written, because postal
/// codes and region codes are sometimes stored as numbers.
pub fn text(fields: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(other) => Err(format!("{key} is {}, but a text is expected", shown(other))),
    }
}

/// Reads an optional whole number. `60.0` counts as 60; `60.5` and `"60"` are rejected.
pub fn whole_number(fields: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    let Some(value) = fields.get(key).filter(|value| !value.is_null()) else {
        return Ok(None);
    };
    let number = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15)
            .map(|float| float as i64)
    });
    number
        .map(Some)
        .ok_or_else(|| format!("{key} is {}, but a whole number is expected", shown(value)))
}

/// Reads an optional number with decimals, such as a latitude.
pub fn decimal(fields: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(other) => Err(format!(
            "{key} is {}, but a number is expected",
            shown(other)
        )),
    }
}

/// Reads an optional `true` or `false`.
pub fn boolean(fields: &Map<String, Value>, key: &str) -> Result<Option<bool>, String> {
    match fields.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(format!(
            "{key} is {}, but true or false is expected",
            shown(other)
        )),
    }
}

/// Formats a value as written in JSON, shortened so one huge field cannot flood the report.
pub fn shown(value: &Value) -> String {
    const MAX_CHARS: usize = 60;
    let text = value.to_string();
    if text.chars().count() <= MAX_CHARS {
        return text;
    }
    let head: String = text.chars().take(MAX_CHARS).collect();
    format!("{head}…")
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_lines_skip_nested_values_and_strings() {
        let text = "[\n  {\"a\": [1, 2], \"b\": \"x, {y}\"},\n  {\"c\": \"\\\"\"}\n,\n3]";
        assert_eq!(array_element_lines(text), vec![2, 3, 5]);
    }

    #[test]
    fn element_lines_of_empty_array() {
        assert!(array_element_lines(" [ ] ").is_empty());
    }

    #[test]
    fn records_report_non_objects() {
        let mut problems = Vec::new();
        let records = parse_records("f.json", "[{\"a\": 1},\n 7]", &mut problems);
        assert_eq!(records.len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(2));
    }

    #[test]
    fn invalid_json_names_its_line() {
        let mut problems = Vec::new();
        parse_records("f.json", "[\n{\"a\": }\n]", &mut problems);
        assert_eq!(problems[0].line, Some(2));
    }

    #[test]
    fn whole_number_accepts_integral_floats_only() {
        let fields: Map<String, Value> =
            serde_json::from_str(r#"{"a": 60.0, "b": 60.5, "c": "60", "d": -3}"#).unwrap();
        assert_eq!(whole_number(&fields, "a"), Ok(Some(60)));
        assert!(whole_number(&fields, "b").is_err());
        assert!(whole_number(&fields, "c").is_err());
        assert_eq!(whole_number(&fields, "d"), Ok(Some(-3)));
        assert_eq!(whole_number(&fields, "missing"), Ok(None));
    }
}
