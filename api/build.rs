//! Chooses what `routes::app` embeds: the dashboard built into `web/dist` (by `make build`,
//! i.e. `scripts/build-web.sh`), or, when there is none, `api/web-fallback/` — one page saying
//! so — with a cargo warning. A plain `cargo build` therefore always compiles, and never
//! silently ships without the dashboard.

use std::path::Path;

fn main() {
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
