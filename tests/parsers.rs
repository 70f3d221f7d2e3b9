//! Readers of files from strangers never panic or abort on damaged input:
//! 10,000 mutated files per reader (see `support/fuzz.rs`; a longer run is
//! `cargo run --release --example fuzz_parsers -- 200000`). And a write to a
//! full disk fails in one line, leaving neither the output nor a temporary
//! file.

#[path = "support/fuzz.rs"]
mod fuzz;

const CASES: u32 = 10_000;

fn fuzz_reader(index: usize) {
    let readers = fuzz::readers();
    fuzz::fuzz(&readers[index], CASES, &format!("case-{index}.bin"), Some(index as u64)).unwrap();
}

#[test]
fn vgg_weights_reader_survives_damaged_files() {
    fuzz_reader(0);
}

#[test]
fn gan_model_reader_survives_damaged_files() {
    fuzz_reader(1);
}

#[test]
fn gan_checkpoint_reader_survives_damaged_files() {
    fuzz_reader(2);
}

#[test]
fn onnx_reader_survives_damaged_files() {
    fuzz_reader(3);
}

#[test]
fn image_reader_survives_damaged_files() {
    fuzz_reader(4);
}

/// Mounts a 64 KiB tmpfs (root only; skipped with the reason elsewhere) and
/// writes a picture and a weights file bigger than that into it.
#[test]
fn a_full_disk_leaves_no_partial_file() {
    let dir = std::env::temp_dir().join(format!("fresco-full-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mounted =
        std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(&dir).output();
    match mounted {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            eprintln!("skipped: cannot mount a tmpfs here: {}", String::from_utf8_lossy(&out.stderr).trim());
            return;
        }
        Err(e) => {
            eprintln!("skipped: cannot run mount: {e}");
            return;
        }
    }
    let noise = tensor::Tensor::rand_uniform(&[1, 3, 256, 256], 0.0, 1.0, 3, tensor::DType::F32);
    let image = dir.join("out.png");
    let image_error = style::image_io::save_image(&image, &noise).map_err(|e| e.to_string());
    let weights = dir.join("vgg.safetensors");
    let big = tensor::Tensor::zeros(&[64, 3, 3, 3], tensor::DType::F32);
    let convs: Vec<_> = (0..13).map(|_| (big.clone(), tensor::Tensor::zeros(&[64], tensor::DType::F32))).collect();
    let weights_error = nn::Vgg::write_weights(
        &weights,
        nn::VggKind::Vgg16,
        &convs,
        nn::InputConvention::Torchvision,
        tensor::DType::F32,
        "test",
    )
    .map_err(|e| e.to_string());
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let _ = std::process::Command::new("umount").arg(&dir).status();
    let image_error = image_error.expect_err("a 256x256 noise PNG does not fit in 64 KiB");
    assert!(image_error.contains("out.png") && !image_error.contains('\n'), "{image_error}");
    let weights_error = weights_error.expect_err("a 0.9 MB weights file does not fit in 64 KiB");
    assert!(weights_error.contains("vgg.safetensors") && !weights_error.contains('\n'), "{weights_error}");
    assert!(left.is_empty(), "left behind: {left:?}");
}
