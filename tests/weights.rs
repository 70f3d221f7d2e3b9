//! `fresco weights`: downloads from a local HTTP server (complete, resumed
//! after a cut, corrupted), and the command's one-line errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fresco::weights::{fetch_url, sha256_file};
use nn::{InputConvention, Vgg, VggKind};
use tensor::{DType, Tensor};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fresco-weights-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A small VGG-16 weights file, as bytes.
fn weights_file(name: &str) -> Vec<u8> {
    let mut convs = Vec::new();
    let mut inputs = 3;
    for (b, count) in VggKind::Vgg16.blocks().into_iter().enumerate() {
        for i in 0..count {
            let w = Tensor::randn(&[8, inputs, 3, 3], 0.0, 0.1, (b * 10 + i) as u64, DType::F32);
            convs.push((w, Tensor::zeros(&[8], DType::F32)));
            inputs = 8;
        }
    }
    let path = temp(name).join("source.safetensors");
    Vgg::write_weights(&path, VggKind::Vgg16, &convs, InputConvention::Torchvision, DType::F16, "test").unwrap();
    std::fs::read(path).unwrap()
}

/// Serves `body` over HTTP/1.1 on 127.0.0.1, honouring `Range: bytes=N-`.
/// The first `cut_first` connections stop after half the body.
fn serve(body: Vec<u8>, cut_first: usize) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/vgg.safetensors", listener.local_addr().unwrap());
    let served = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut start = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some(range) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    start = range.trim().trim_end_matches('-').parse().unwrap();
                }
            }
            let n = count.fetch_add(1, Ordering::SeqCst);
            let rest = &body[start..];
            let status = if start > 0 { "206 Partial Content" } else { "200 OK" };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", rest.len());
            stream.write_all(head.as_bytes()).unwrap();
            let send = if n < cut_first { &rest[..rest.len() / 2] } else { rest };
            let _ = stream.write_all(send);
            let _ = stream.flush();
            let mut sink = Vec::new();
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.read_to_end(&mut sink);
        }
    });
    (url, served)
}

fn digest(bytes: &[u8]) -> String {
    let path = temp("digest").join(format!("{}.bytes", bytes.len()));
    std::fs::write(&path, bytes).unwrap();
    sha256_file(&path).unwrap()
}

#[test]
fn downloads_and_verifies() {
    let body = weights_file("plain");
    let (url, _) = serve(body.clone(), 0);
    let output = temp("plain").join("vgg16.safetensors");
    let fetched = fetch_url(&url, &output, Some(&digest(&body)), |_, _| {}).unwrap();
    assert_eq!((fetched.bytes, fetched.resumed_from, fetched.verified), (body.len() as u64, 0, Some(true)));
    assert_eq!(std::fs::read(&output).unwrap(), body);
    assert_eq!(Vgg::inspect(&output).unwrap().kind, VggKind::Vgg16);
}

#[test]
fn an_interrupted_download_resumes_where_it_stopped() {
    let body = weights_file("resume");
    let (url, served) = serve(body.clone(), 1);
    let output = temp("resume").join("vgg16.safetensors");
    let first = fetch_url(&url, &output, None, |_, _| {});
    assert!(first.is_err(), "the first connection is cut");
    assert!(!output.exists(), "no half-written output under the final name");
    let fetched = fetch_url(&url, &output, Some(&digest(&body)), |_, _| {}).unwrap();
    assert_eq!(fetched.resumed_from, (body.len() / 2) as u64);
    assert_eq!(fetched.verified, Some(true));
    assert_eq!(std::fs::read(&output).unwrap(), body);
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

#[test]
fn a_wrong_digest_discards_the_download() {
    let body = weights_file("digest-mismatch");
    let (url, _) = serve(body, 0);
    let output = temp("digest-mismatch").join("vgg16.safetensors");
    let error = fetch_url(&url, &output, Some(&"0".repeat(64)), |_, _| {}).unwrap_err().to_string();
    assert!(error.contains("SHA-256 mismatch"), "{error}");
    assert!(!output.exists() && !output.with_extension("safetensors.part").exists());
}

#[test]
fn the_command_reports_a_bad_file_in_one_line() {
    let dir = temp("cli");
    let bad = dir.join("notes.safetensors");
    std::fs::write(&bad, "not weights").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fresco")).args(["weights", "info"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("notes.safetensors") && stderr.contains("not a valid safetensors"), "{stderr}");
}
