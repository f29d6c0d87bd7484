//! The OpenAPI document as a contract fuzzer or a client generator reads it: one operation per
//! id, every error an operation can give listed with the problem schema, example bodies.

use std::collections::HashSet;

use serde_json::Value;

use super::apps;

/// A response as listed, its `$ref` into `components.responses` followed.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap();
            &doc["components"]["responses"][name]
        }
        None => response,
    }
}

#[tokio::test]
async fn every_operation_lists_its_errors_as_problems_under_a_unique_id() {
    let app = apps().await.remove(0);
    let doc: Value = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids = HashSet::new();
    let mut with_examples = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let here = format!("{method} {path}");
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "{here}: operationId {id} twice");
            let responses = operation["responses"].as_object().unwrap();
            let mut expected = vec!["401", "403"];
            let has_parameters = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["in"] == "query" || p["in"] == "path");
            let body = &operation["requestBody"];
            if has_parameters || !body.is_null() {
                expected.push("400");
            }
            if !body.is_null() {
                expected.extend(["413", "422"]);
                if body["content"]
                    .as_object()
                    .unwrap()
                    .values()
                    .any(|c| !c["example"].is_null())
                {
                    with_examples += 1;
                }
            }
            for status in expected {
                let response = responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{here} does not list {status}"));
                let problem = &resolve(&doc, response)["content"]["application/problem+json"];
                assert_eq!(
                    problem["schema"]["$ref"], "#/components/schemas/Problem",
                    "{here} {status}"
                );
            }
            for (status, response) in responses {
                if !status.starts_with('2') {
                    assert!(
                        !resolve(&doc, response)["content"]["application/problem+json"].is_null(),
                        "{here} {status} is not a problem"
                    );
                }
            }
        }
    }
    let create = &doc["paths"]["/api/v1/orders"]["post"]["requestBody"]["content"];
    assert_eq!(
        create["application/json"]["example"]["lines"][0]["sku"],
        "SKU-1"
    );
    assert!(
        with_examples >= 20,
        "{with_examples} request bodies with an example"
    );
}
