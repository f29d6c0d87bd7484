//! Every file in `tests/flows/`: `NAME.yaml` (or `.json`) compiles when there is no
//! `NAME.expected`; otherwise it fails with exactly the errors listed there, one per line as
//! `LINE:COLUMN: a fragment of the message`.

use std::path::Path;

#[test]
fn flow_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/flows");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            )
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the cases are found");
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let expected_file = file.with_extension("expected");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let result = iom_flow::compile(&text);
        if !expected_file.exists() {
            if let Err(errors) = result {
                failures.push(format!("{name}: expected to compile, got\n{errors}"));
            }
            continue;
        }
        let expected: Vec<(usize, usize, String)> = std::fs::read_to_string(&expected_file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let mut parts = l.splitn(3, ':');
                let line = parts.next().unwrap().trim().parse().unwrap();
                let column = parts.next().unwrap().trim().parse().unwrap();
                (line, column, parts.next().unwrap().trim().to_owned())
            })
            .collect();
        let errors = match result {
            Ok(_) => {
                failures.push(format!("{name}: compiled, expected errors"));
                continue;
            }
            Err(errors) => errors.0,
        };
        let got: Vec<String> = errors
            .iter()
            .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
            .collect();
        let matches = errors.len() == expected.len()
            && errors
                .iter()
                .zip(&expected)
                .all(|(e, (line, column, fragment))| {
                    e.line == *line && e.column == *column && e.message.contains(fragment.as_str())
                });
        if !matches {
            failures.push(format!(
                "{name}: expected\n  {}\ngot\n  {}",
                expected
                    .iter()
                    .map(|(l, c, f)| format!("{l}:{c}: {f}"))
                    .collect::<Vec<_>>()
                    .join("\n  "),
                got.join("\n  ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn errors_carry_the_path_of_the_offending_key() {
    let errors = iom_flow::compile(
        "name: x\ntype: order\ntrigger: order.received\nsteps:\n  - id: a\n    uses: hold\n  - id: b\n    uses: plan-fulfillment\n    with:\n      profile: 7\n",
    )
    .unwrap_err();
    assert_eq!(errors.0.len(), 1);
    assert_eq!(errors.0[0].path, "steps[1].with.profile");
    assert_eq!((errors.0[0].line, errors.0[0].column), (10, 16));
}
