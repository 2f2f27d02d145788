//! Scans ONNX files and prints their weights commitment, tensor count and scan time:
//! `cargo run --release -p imo-oracle --example scan -- model.onnx [more.onnx ...]`.
//! Pair with `/usr/bin/time -v` to see the scanner's peak memory on large files.

use std::{path::Path, time::Instant};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    if files.is_empty() {
        eprintln!("usage: scan FILE.onnx [FILE.onnx ...]");
        std::process::exit(2);
    }
    let mut failed = false;
    for path in files {
        let t0 = Instant::now();
        match imo_oracle::onnx::scan_model(Path::new(&path)) {
            Ok(s) => println!(
                "{path}: {} tensors, {} weight bytes, weights_root {} in {:?}",
                s.tensors.len(),
                s.total_weight_bytes(),
                hex::encode(s.weights_root),
                t0.elapsed()
            ),
            Err(e) => {
                failed = true;
                println!("{path}: {e} (after {:?})", t0.elapsed());
            }
        }
    }
    std::process::exit(i32::from(failed));
}
