//! Gateways as real processes: the release-style binary started on a free loopback port with a
//! config file, stopped by SIGTERM.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MASTER: &str = "sk-master-process-test";

pub struct Served {
    pub child: Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub async fn serve(dir: &Path, config: &str) -> Served {
    std::fs::write(dir.join("switchyard.toml"), config).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args([
            "serve",
            "--config",
            "switchyard.toml",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("SY_TEST_MASTER", MASTER)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if reqwest::get(format!("{url}/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(Instant::now() < deadline, "the gateway did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Served { child, url }
}

pub fn terminate(mut s: Served) {
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = s.child.wait().unwrap();
    assert!(
        status.success(),
        "SIGTERM should end the gateway cleanly: {status}"
    );
}

/// Sends a signal (`HUP`, `TERM`, ...) to a served gateway.
pub fn signal(s: &Served, sig: &str) {
    let pid = s.child.id().to_string();
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &pid])
        .status()
        .unwrap()
        .success());
}

/// `GET url` with a bearer key, read as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str, bearer: &str) -> serde_json::Value {
    http.get(url)
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `POST /api/v1/keys` with the master key: the answer, whose `key` is the secret (shown once).
pub async fn create_key(
    http: &reqwest::Client,
    gw: &Served,
    body: &serde_json::Value,
) -> serde_json::Value {
    http.post(format!("{}/api/v1/keys", gw.url))
        .bearer_auth(MASTER)
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The calling key's usage in USD, as `GET /api/v1/key` reports it.
pub async fn usage(http: &reqwest::Client, gw: &Served, secret: &str) -> f64 {
    let v = get_json(http, &format!("{}/api/v1/key", gw.url), secret).await;
    v["data"]["usage"].as_f64().unwrap()
}
