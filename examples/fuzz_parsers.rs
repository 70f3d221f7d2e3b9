//! A longer run of the parser fuzzing in `tests/parsers.rs`: every reader
//! of files from strangers (VGG weights, GAN models and checkpoints, ONNX,
//! images) gets N damaged files (default 200,000) and must never panic.
//!
//! ```sh
//! cargo run --release --example fuzz_parsers -- 200000
//! ```

#[path = "../tests/support/fuzz.rs"]
mod fuzz;

fn main() {
    let cases: u32 = std::env::args().nth(1).map_or(200_000, |n| n.parse().expect("a number of cases"));
    let mut failed = false;
    for (index, reader) in fuzz::readers().iter().enumerate() {
        let start = std::time::Instant::now();
        match fuzz::fuzz(reader, cases, &format!("example-{index}.bin"), None) {
            Ok(()) => println!("{}: {cases} cases, no panic ({:.1} s)", reader.name, start.elapsed().as_secs_f64()),
            Err(e) => {
                println!("FAILED {e}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}
