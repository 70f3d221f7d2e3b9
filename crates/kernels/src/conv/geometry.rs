//! The shape arithmetic of a 2-D convolution, checked once.

/// Everything that fixes the shapes of a 2-D convolution (NCHW, groups = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input channels.
    pub in_channels: usize,
    /// Input height.
    pub in_height: usize,
    /// Input width.
    pub in_width: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height.
    pub kernel_height: usize,
    /// Kernel width.
    pub kernel_width: usize,
    /// Step between output pixels, (vertical, horizontal).
    pub stride: (usize, usize),
    /// Zero padding on each side, (vertical, horizontal).
    pub padding: (usize, usize),
    /// Spacing of kernel taps, (vertical, horizontal).
    pub dilation: (usize, usize),
}

impl Conv2dGeometry {
    /// Output height, or `None` when the dilated kernel does not fit.
    pub fn checked_out_height(&self) -> Option<usize> {
        out_extent(self.in_height, self.kernel_height, self.stride.0, self.padding.0, self.dilation.0)
    }

    /// Output width, or `None` when the dilated kernel does not fit.
    pub fn checked_out_width(&self) -> Option<usize> {
        out_extent(self.in_width, self.kernel_width, self.stride.1, self.padding.1, self.dilation.1)
    }

    /// Output height.
    ///
    /// # Panics
    /// If the kernel does not fit; call [`Conv2dGeometry::validate`] first.
    pub fn out_height(&self) -> usize {
        self.checked_out_height().expect("conv2d: kernel larger than padded input")
    }

    /// Output width.
    ///
    /// # Panics
    /// If the kernel does not fit; call [`Conv2dGeometry::validate`] first.
    pub fn out_width(&self) -> usize {
        self.checked_out_width().expect("conv2d: kernel larger than padded input")
    }

    /// Describes what is wrong with the geometry, if anything.
    pub fn validate(&self) -> Result<(), String> {
        if self.stride.0 == 0 || self.stride.1 == 0 || self.dilation.0 == 0 || self.dilation.1 == 0 {
            return Err(format!("stride {:?} and dilation {:?} must be at least 1", self.stride, self.dilation));
        }
        if self.kernel_height == 0 || self.kernel_width == 0 {
            return Err("kernel must be at least 1x1".into());
        }
        if self.checked_out_height().is_none() || self.checked_out_width().is_none() {
            return Err(format!(
                "kernel {}x{} with dilation {:?} does not fit input {}x{} padded by {:?}",
                self.kernel_height, self.kernel_width, self.dilation, self.in_height, self.in_width, self.padding
            ));
        }
        Ok(())
    }

    /// Elements in the input, `N·C·H·W`.
    pub fn input_len(&self) -> usize {
        self.batch * self.in_channels * self.in_height * self.in_width
    }

    /// Elements in the weight, `Cout·Cin·KH·KW`.
    pub fn weight_len(&self) -> usize {
        self.out_channels * self.in_channels * self.kernel_height * self.kernel_width
    }

    /// Elements in the output, `N·Cout·OH·OW`.
    pub fn output_len(&self) -> usize {
        self.batch * self.out_channels * self.out_height() * self.out_width()
    }

    /// Multiply-adds of one forward pass times two.
    pub fn forward_flops(&self) -> f64 {
        2.0 * (self.output_len() * self.in_channels * self.kernel_height * self.kernel_width) as f64
    }

    pub(crate) fn assert_lengths(&self, op: &str, input: usize, weight: usize, output: usize) {
        if let Err(message) = self.validate() {
            panic!("{op}: {message}");
        }
        assert!(
            input == self.input_len() && weight == self.weight_len() && output == self.output_len(),
            "{op}: buffers of {input}/{weight}/{output} elements for input/weight/output, geometry {self:?} needs {}/{}/{}",
            self.input_len(),
            self.weight_len(),
            self.output_len()
        );
    }
}

fn out_extent(input: usize, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Option<usize> {
    let span = dilation.checked_mul(kernel.checked_sub(1)?)? + 1;
    let padded = input + 2 * padding;
    if stride == 0 || padded < span {
        return None;
    }
    Some((padded - span) / stride + 1)
}
