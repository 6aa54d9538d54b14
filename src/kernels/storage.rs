//! Reading a CPU storage's elements, shared by the kernels.

use candle_core::{CpuStorage, Layout, Result, bail};
use std::borrow::Cow;

/// The f32 elements of a storage in row-major order of `layout`, borrowed when contiguous.
pub fn f32_data<'a>(storage: &'a CpuStorage, layout: &Layout) -> Result<Cow<'a, [f32]>> {
    let CpuStorage::F32(data) = storage else {
        bail!("conv kernels take f32 tensors")
    };
    if let Some((start, end)) = layout.contiguous_offsets() {
        return Ok(Cow::Borrowed(&data[start..end]));
    }
    // Strided: walk the index like an odometer.
    let dims = layout.dims();
    let strides = layout.stride();
    let total: usize = dims.iter().product();
    let mut out = Vec::with_capacity(total);
    if total == 0 {
        return Ok(Cow::Owned(out));
    }
    let mut index = vec![0usize; dims.len()];
    let mut offset = layout.start_offset();
    for _ in 0..total {
        out.push(data[offset]);
        for axis in (0..dims.len()).rev() {
            index[axis] += 1;
            offset += strides[axis];
            if index[axis] < dims[axis] {
                break;
            }
            offset -= strides[axis] * dims[axis];
            index[axis] = 0;
        }
    }
    Ok(Cow::Owned(out))
}
