//! Chooses what `routes::app` embeds: the dashboard built into `web/dist` (by `make build`,
//! i.e. `scripts/build-web.sh`), or, when there is none, `api/web-fallback/` — one page saying
//! so — with a cargo warning. A plain `cargo build` therefore always compiles, and never
//! silently ships without the dashboard.
//!
//! It also generates the Open Inference Protocol's gRPC messages and service from
//! `proto/grpc_predict_v2.proto`: protox (pure Rust) parses it, so no `protoc` is needed.

use std::path::Path;

fn main() {
    grpc();
    println!("cargo::rustc-check-cfg=cfg(imo_dashboard)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=web-fallback");
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/dist");
    // web/dist/.gitkeep is committed, so the folder exists in every checkout and cargo notices
    // a build appearing, changing or going away (a missing path would rerun this every time).
    println!("cargo::rerun-if-changed=../web/dist");
    if dist.join("index.html").is_file() {
        println!("cargo::rustc-cfg=imo_dashboard");
    } else {
        println!(
            "cargo::warning=the dashboard is not built ({} has no index.html): this binary's /app/ \
             will say so (503); run `make build` (or scripts/build-web.sh) and build again",
            dist.display()
        );
    }
}

fn grpc() {
    let proto = "proto/grpc_predict_v2.proto";
    println!("cargo::rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["proto"]).unwrap_or_else(|e| panic!("{proto}: {e}"));
    tonic_prost_build::configure()
        .build_client(false)
        // Tensor contents stay `Bytes` slices of the request buffer (no copy per tensor).
        .bytes(".inference")
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("generating the gRPC code from {proto}: {e}"));
}
