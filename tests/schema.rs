//! The committed `schema.graphql` must be exactly what the server serves, and every part of the
//! schema must carry a description, so the schema documents itself in GraphiQL.

use serde_json::Value;

#[test]
fn schema_file_matches_server() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = stockroom::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date with the server's schema; regenerate it with:\n    cargo run --quiet -- schema > schema.graphql"
    );
}

const INTROSPECTION: &str = r#"{
  __schema {
    types {
      name kind description
      fields { name description args { name description } }
      inputFields { name description }
      enumValues { name description }
    }
  }
}"#;

#[tokio::test]
async fn schema_documents_every_item() {
    let response = stockroom::graphql::bare_schema().execute(INTROSPECTION).await;
    assert!(response.errors.is_empty(), "introspection failed: {:?}", response.errors);
    let data = response.data.into_json().expect("introspection result is JSON");

    let mut missing = Vec::new();
    for kind in data["__schema"]["types"].as_array().expect("types list") {
        let type_name = kind["name"].as_str().unwrap_or_default();
        if type_name.starts_with("__") || kind["kind"] == "SCALAR" {
            continue;
        }
        // async-graphql generates the `…Connection` types and offers no way to describe them;
        // their fields (`edges`, `nodes`, `pageInfo`) are described by the library.
        let generated_connection = type_name.ends_with("Connection");
        if !described(kind) && !generated_connection {
            missing.push(type_name.to_owned());
        }
        for field in list(kind, "fields").iter().chain(list(kind, "inputFields").iter()) {
            let field_name = field["name"].as_str().unwrap_or_default();
            if !described(field) {
                missing.push(format!("{type_name}.{field_name}"));
            }
            for arg in list(field, "args") {
                if !described(&arg) {
                    missing.push(format!("{type_name}.{field_name}({})", arg["name"].as_str().unwrap_or_default()));
                }
            }
        }
        for value in list(kind, "enumValues") {
            if !described(&value) {
                missing.push(format!("{type_name}.{}", value["name"].as_str().unwrap_or_default()));
            }
        }
    }
    assert!(missing.is_empty(), "schema items without a description:\n{}", missing.join("\n"));
}

fn described(item: &Value) -> bool {
    item["description"].as_str().is_some_and(|text| !text.trim().is_empty())
}

fn list(item: &Value, key: &str) -> Vec<Value> {
    item[key].as_array().cloned().unwrap_or_default()
}
