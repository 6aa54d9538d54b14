//! Plain layers over candle `Var`s, registered in a `VarMap` under readable names.

use candle_core::{DType, Device, Result, Tensor, Var};
use candle_nn::{Init, VarMap};

/// Creates parameters in a `VarMap`. Values are set afterwards by `Network::initialise`.
pub struct Builder<'a> {
    varmap: &'a VarMap,
    device: &'a Device,
}

impl<'a> Builder<'a> {
    pub fn new(varmap: &'a VarMap, device: &'a Device) -> Self {
        Builder { varmap, device }
    }

    fn var(&mut self, name: &str, dims: &[usize]) -> Result<Var> {
        self.varmap
            .get(dims, name, Init::Const(0.0), DType::F32, self.device)?;
        // `VarMap::get` hands back the tensor of the Var it stored; find the Var itself.
        let data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| candle_core::Error::Msg("parameter map lock poisoned".into()))?;
        let var = data
            .get(name)
            .cloned()
            .ok_or_else(|| candle_core::Error::Msg(format!("parameter '{name}' not stored")))?;
        Ok(var)
    }

    pub fn linear(&mut self, name: &str, inputs: usize, outputs: usize) -> Result<Linear> {
        Ok(Linear {
            weight: self.var(&format!("{name}.weight"), &[outputs, inputs])?,
            bias: self.var(&format!("{name}.bias"), &[outputs])?,
        })
    }

    /// A convolution with a `kh × kw` kernel; `padding` = (rows, columns) of zeros each side.
    pub fn conv(
        &mut self,
        name: &str,
        inputs: usize,
        outputs: usize,
        kernel: (usize, usize),
        stride: usize,
        padding: (usize, usize),
    ) -> Result<Conv2d> {
        Ok(Conv2d {
            weight: self.var(
                &format!("{name}.weight"),
                &[outputs, inputs, kernel.0, kernel.1],
            )?,
            bias: self.var(&format!("{name}.bias"), &[outputs])?,
            stride,
            padding,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Linear {
    /// `[outputs, inputs]`
    pub weight: Var,
    pub bias: Var,
}

impl Linear {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.as_tensor().t()?)?
            .broadcast_add(self.bias.as_tensor())
    }
}

#[derive(Clone, Debug)]
pub struct Conv2d {
    /// `[outputs, inputs, kh, kw]`
    pub weight: Var,
    pub bias: Var,
    pub stride: usize,
    pub padding: (usize, usize),
}

impl Conv2d {
    /// Convolution plus bias. On the CPU (f32) one fused op from `crate::kernels` (im2col +
    /// GEMM, with its own backward); elsewhere candle's `conv2d` and a broadcast add.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        crate::kernels::conv2d_bias(
            x,
            self.weight.as_tensor(),
            self.bias.as_tensor(),
            self.stride,
            self.padding,
            false,
        )
    }

    /// `relu(self.forward(x))` as one op on the CPU (the ReLU and its backward fused into the
    /// convolution's), the same values as `forward(x)?.relu()`.
    pub fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        crate::kernels::conv2d_bias(
            x,
            self.weight.as_tensor(),
            self.bias.as_tensor(),
            self.stride,
            self.padding,
            true,
        )
    }

    /// `max_pool2d(self.forward_relu(x), pool)` (windows `pool × pool`, stride `pool`) as one
    /// op on the CPU: the unpooled output is never stored.
    pub fn forward_relu_pool(&self, x: &Tensor, pool: usize) -> Result<Tensor> {
        crate::kernels::conv2d_bias_relu_pool(
            x,
            self.weight.as_tensor(),
            self.bias.as_tensor(),
            self.stride,
            self.padding,
            pool,
        )
    }
}
