//! Colour: keeping the content's colours by transferring luminance only.
//!
//! In YIQ, `Y` carries brightness and `I`, `Q` the chroma. "Preserve
//! colours" takes Y from the stylised image and I, Q from the content.

use tensor::{DType, Tensor};

const TO_YIQ: [[f64; 3]; 3] =
    [[0.299, 0.587, 0.114], [0.595_716, -0.274_453, -0.321_263], [0.211_456, -0.522_591, 0.311_135]];

/// Applies a 3×3 colour matrix to an `[N, 3, H, W]` image.
fn transform(image: &Tensor, m: &[[f64; 3]; 3]) -> Tensor {
    let channel = |c| image.narrow(1, c, 1);
    let (r, g, b) = (channel(0), channel(1), channel(2));
    let rows: Vec<Tensor> =
        m.iter().map(|row| r.mul_scalar(row[0]) + g.mul_scalar(row[1]) + b.mul_scalar(row[2])).collect();
    Tensor::cat(&rows.iter().collect::<Vec<_>>(), 1)
}

/// The inverse of a 3×3 matrix (by cofactors).
fn invert(m: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let c = |r: usize, k: usize| {
        let (r1, r2) = ((r + 1) % 3, (r + 2) % 3);
        let (k1, k2) = ((k + 1) % 3, (k + 2) % 3);
        m[r1][k1] * m[r2][k2] - m[r1][k2] * m[r2][k1]
    };
    let det = m[0][0] * c(0, 0) + m[0][1] * c(0, 1) + m[0][2] * c(0, 2);
    let mut inv = [[0.0; 3]; 3];
    for (r, row) in inv.iter_mut().enumerate() {
        for (k, v) in row.iter_mut().enumerate() {
            *v = c(k, r) / det;
        }
    }
    inv
}

/// RGB → YIQ.
pub fn rgb_to_yiq(image: &Tensor) -> Tensor {
    transform(&image.to_dtype(DType::F32), &TO_YIQ)
}

/// YIQ → RGB.
pub fn yiq_to_rgb(image: &Tensor) -> Tensor {
    transform(image, &invert(&TO_YIQ))
}

/// The luminance of `stylised` with the chroma of `content` (same size).
pub fn transfer_luminance(stylised: &Tensor, content: &Tensor) -> Tensor {
    let (s, c) = (rgb_to_yiq(stylised), rgb_to_yiq(content));
    let yiq = Tensor::cat(&[&s.narrow(1, 0, 1), &c.narrow(1, 1, 2)], 1);
    yiq_to_rgb(&yiq).clamp(0.0, 1.0)
}
