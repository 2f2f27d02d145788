//! schemathesis (pinned, `.tools/venv-checks`) against the real `imo serve` and its served
//! `/openapi.json`, once per role and once without a key: any 5xx, undocumented status,
//! response that violates its schema, schema-valid request refused or schema-violating request
//! accepted fails (config and the expected statuses that depend on state:
//! `tests/schemathesis/schemathesis.toml`). Bounded: a fixed seed and example count per run.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::*;

fn schemathesis() -> std::path::PathBuf {
    let p = repo_root().join(".tools/venv-checks/bin/schemathesis");
    assert!(
        p.exists(),
        "{} is missing: run `scripts/install-tools.sh checks` (make test does)",
        p.display()
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_for_any_role() {
    let dir = tempfile::tempdir().unwrap();
    let env = sqlite_env(dir.path());
    let key = |n: u8, role: &str| cli_key(&env, &signer(n), role);
    let (publisher, client, admin) = (key(1, "publisher"), key(3, "client"), key(200, "admin"));
    let server = ImoProcess::serve(&env, &[]).await;
    let base = imo_client::Client::new(&server.url);
    let meta = imo_client::Upload {
        name: "tiny".into(),
        price_wei: Some("1000".into()),
        ..Default::default()
    };
    let (status, _) = base
        .with_key(publisher.clone())
        .upload_model(&meta, model_bytes("tiny_mlp.onnx"))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED);
    base.with_key(admin.clone())
        .credit(&signer(3).address().to_string(), "1000000000000")
        .await
        .unwrap();

    let config = repo_root().join("tests/schemathesis/schemathesis.toml");
    // Admin last: its run deactivates models.
    for (role, key) in [
        ("anonymous", None),
        ("client", Some(&client)),
        ("publisher", Some(&publisher)),
        ("admin", Some(&admin)),
    ] {
        let mut cmd = Command::new(schemathesis());
        cmd.current_dir(repo_root().join("tests/schemathesis"))
            .arg("--config-file")
            .arg(&config)
            .args(["run", &format!("{}/openapi.json", server.url)])
            .args([
                "--max-examples",
                "25",
                "--seed",
                "20261201",
                "--workers",
                "2",
            ])
            .args(["--no-color", "--request-timeout", "30"])
            .env("PYTHONPATH", repo_root().join("tests/schemathesis"));
        if let Some(k) = key {
            cmd.args(["-H", &format!("Authorization: Bearer {k}")]);
        }
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {role} found problems:\n{text}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.log_tail()
        );
        assert!(
            text.contains("generated"),
            "schemathesis ran no cases as {role}:\n{text}"
        );
    }
    server.stop().await;
}
