//! The judge's op set: output type and shape rules, and the value of one output element.
//!
//! Every operator is defined element by element: [`element`] computes output element `e` (row-
//! major index) from the operands through an [`Access`], which reads operand bytes. The
//! interpreter runs it for every element; the proof builder runs it with a recording access to
//! learn exactly which operand chunks a one-step of that element must load; the on-chain
//! `JudgeVM` (contracts/src/judge/) implements the same rules, and the differential vectors
//! (contracts/test/vectors/) check them bit for bit. docs/PROTOCOL.md §9 states the semantics.

use super::{
    float,
    value::{JType, MAX_RANK, Value, numel},
};

/// Attributes of `QLinearConv` (2-D, NCHW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvAttrs {
    pub strides: [u32; 2],
    /// top, left, bottom, right (ONNX order: begin H, begin W, end H, end W).
    pub pads: [u32; 4],
    pub dilations: [u32; 2],
    pub group: u32,
}

/// Attributes of `MaxPool` (2-D, NCHW, dilation 1, floor rounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolAttrs {
    pub kernel: [u32; 2],
    pub strides: [u32; 2],
    pub pads: [u32; 4],
}

/// An operator of the judge's op set with its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    QuantizeLinear,
    DequantizeLinear,
    QLinearMatMul,
    QLinearConv(ConvAttrs),
    MaxPool(PoolAttrs),
    Flatten { axis: i32 },
    Add,
    Relu,
}

impl Op {
    /// The on-chain opcode (first byte of the node encoding).
    pub fn opcode(&self) -> u8 {
        match self {
            Self::QuantizeLinear => 1,
            Self::DequantizeLinear => 2,
            Self::QLinearMatMul => 3,
            Self::QLinearConv(_) => 4,
            Self::MaxPool(_) => 5,
            Self::Flatten { .. } => 6,
            Self::Add => 7,
            Self::Relu => 8,
        }
    }

    /// The ONNX operator name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::QuantizeLinear => "QuantizeLinear",
            Self::DequantizeLinear => "DequantizeLinear",
            Self::QLinearMatMul => "QLinearMatMul",
            Self::QLinearConv(_) => "QLinearConv",
            Self::MaxPool(_) => "MaxPool",
            Self::Flatten { .. } => "Flatten",
            Self::Add => "Add",
            Self::Relu => "Relu",
        }
    }

    /// Number of operand positions (optional ones included).
    pub fn arity(&self) -> usize {
        match self {
            Self::QuantizeLinear | Self::DequantizeLinear => 3,
            Self::QLinearMatMul => 8,
            Self::QLinearConv(_) => 9,
            Self::MaxPool(_) | Self::Flatten { .. } | Self::Relu => 1,
            Self::Add => 2,
        }
    }

    /// Whether operand `i` may be absent.
    pub fn optional(&self, i: usize) -> bool {
        matches!(
            (self, i),
            (Self::QuantizeLinear | Self::DequantizeLinear, 2) | (Self::QLinearConv(_), 8)
        )
    }

    /// The attribute bytes of the node encoding (big-endian u32 words).
    pub fn attr_bytes(&self) -> Vec<u8> {
        let words: Vec<u32> = match self {
            Self::QLinearConv(c) => [
                &c.strides[..],
                &c.pads[..],
                &c.dilations[..],
                &[c.group][..],
            ]
            .concat(),
            Self::MaxPool(p) => [&p.kernel[..], &p.strides[..], &p.pads[..]].concat(),
            Self::Flatten { axis } => vec![*axis as u32],
            _ => vec![],
        };
        words.iter().flat_map(|w| w.to_be_bytes()).collect()
    }
}

/// Element type and shape of a tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desc {
    pub dtype: JType,
    pub shape: Vec<usize>,
}

impl Desc {
    pub fn of(v: &Value) -> Self {
        Self {
            dtype: v.dtype,
            shape: v.shape.clone(),
        }
    }

    pub fn numel(&self) -> usize {
        numel(&self.shape).unwrap_or(usize::MAX)
    }

    fn scalar(&self) -> bool {
        self.numel() == 1
    }
}

type R<T> = Result<T, String>;

fn need<'a>(ins: &'a [Option<Desc>], i: usize, what: &str) -> R<&'a Desc> {
    ins.get(i)
        .and_then(Option::as_ref)
        .ok_or_else(|| format!("operand {i} ({what}) is missing"))
}

fn is_q8(t: JType) -> bool {
    matches!(t, JType::U8 | JType::I8)
}

fn check(cond: bool, msg: impl FnOnce() -> String) -> R<()> {
    if cond { Ok(()) } else { Err(msg()) }
}

fn scalar_of(d: &Desc, t: JType, what: &str) -> R<()> {
    check(d.dtype == t && d.scalar(), || {
        format!(
            "{what} must be a one-element {} tensor, got {} {:?}",
            t.onnx_name(),
            d.dtype.onnx_name(),
            d.shape
        )
    })
}

/// A UINT8 or INT8 tensor of `rank` dimensions (`layout`: what they mean, for the message).
fn q8_of_rank(d: &Desc, rank: usize, name: &str, layout: &str) -> R<()> {
    check(is_q8(d.dtype) && d.shape.len() == rank, || {
        format!("{name} must be a {rank}-D UINT8 or INT8 tensor{layout}")
    })
}

fn q8_scalar(d: &Desc, what: &str) -> R<()> {
    check(is_q8(d.dtype) && d.scalar(), || {
        format!("{what} must be a one-element UINT8 or INT8 tensor")
    })
}

/// The output height and width of a window op over an NCHW `shape` (pads: top, left, bottom,
/// right; the kernel as it spans, dilated).
fn windows(
    shape: &[usize],
    pads: [u32; 4],
    kernel: [usize; 2],
    strides: [u32; 2],
) -> R<(usize, usize)> {
    let ho = window(shape[2], pads[0], pads[2], kernel[0], strides[0])?;
    let wo = window(shape[3], pads[1], pads[3], kernel[1], strides[1])?;
    Ok((ho, wo))
}

/// Output spatial size of a window op: `(size + pads - effective kernel) / stride + 1`.
fn window(size: usize, pad0: u32, pad1: u32, ek: usize, stride: u32) -> R<usize> {
    let padded = size + pad0 as usize + pad1 as usize;
    check(stride >= 1, || "stride must be at least 1".into())?;
    check(padded >= ek, || {
        format!("the kernel ({ek}) is larger than the padded input ({padded})")
    })?;
    Ok((padded - ek) / stride as usize + 1)
}

/// Output type and shape of `op` on operands `ins` (`None` = absent optional operand), or why
/// the operands are invalid. The on-chain rules are the same.
pub fn infer(op: &Op, ins: &[Option<Desc>]) -> R<Desc> {
    check(ins.len() == op.arity(), || {
        format!("{} takes {} operands", op.name(), op.arity())
    })?;
    for (i, d) in ins.iter().enumerate() {
        if d.is_none() && !op.optional(i) {
            return Err(format!("operand {i} of {} is required", op.name()));
        }
    }
    let out = match op {
        Op::QuantizeLinear => {
            let x = need(ins, 0, "x")?;
            check(x.dtype == JType::F32, || "x must be FLOAT".into())?;
            scalar_of(need(ins, 1, "y_scale")?, JType::F32, "y_scale")?;
            let dtype = match &ins[2] {
                Some(z) => {
                    q8_scalar(z, "y_zero_point")?;
                    z.dtype
                }
                None => JType::U8,
            };
            Desc {
                dtype,
                shape: x.shape.clone(),
            }
        }
        Op::DequantizeLinear => {
            let x = need(ins, 0, "x")?;
            check(
                matches!(x.dtype, JType::U8 | JType::I8 | JType::I32),
                || "x must be UINT8, INT8 or INT32".into(),
            )?;
            scalar_of(need(ins, 1, "x_scale")?, JType::F32, "x_scale")?;
            if let Some(z) = &ins[2] {
                scalar_of(z, x.dtype, "x_zero_point")?;
            }
            Desc {
                dtype: JType::F32,
                shape: x.shape.clone(),
            }
        }
        Op::QLinearMatMul => {
            let a = need(ins, 0, "a")?;
            let b = need(ins, 3, "b")?;
            q8_of_rank(a, 2, "a", "")?;
            q8_of_rank(b, 2, "b", "")?;
            check(a.shape[1] == b.shape[0], || {
                format!("a {:?} and b {:?} do not multiply", a.shape, b.shape)
            })?;
            scalar_of(need(ins, 1, "a_scale")?, JType::F32, "a_scale")?;
            scalar_of(need(ins, 2, "a_zero_point")?, a.dtype, "a_zero_point")?;
            scalar_of(need(ins, 4, "b_scale")?, JType::F32, "b_scale")?;
            scalar_of(need(ins, 5, "b_zero_point")?, b.dtype, "b_zero_point")?;
            scalar_of(need(ins, 6, "y_scale")?, JType::F32, "y_scale")?;
            let zy = need(ins, 7, "y_zero_point")?;
            q8_scalar(zy, "y_zero_point")?;
            Desc {
                dtype: zy.dtype,
                shape: vec![a.shape[0], b.shape[1]],
            }
        }
        Op::QLinearConv(c) => {
            let x = need(ins, 0, "x")?;
            let w = need(ins, 3, "w")?;
            q8_of_rank(x, 4, "x", " (NCHW)")?;
            q8_of_rank(w, 4, "w", "")?;
            let (m, g) = (w.shape[0], c.group as usize);
            check(g >= 1 && m % g == 0 && x.shape[1] == w.shape[1] * g, || {
                format!("x {:?}, w {:?} and group {g} do not fit", x.shape, w.shape)
            })?;
            scalar_of(need(ins, 1, "x_scale")?, JType::F32, "x_scale")?;
            scalar_of(need(ins, 2, "x_zero_point")?, x.dtype, "x_zero_point")?;
            let sw = need(ins, 4, "w_scale")?;
            check(
                sw.dtype == JType::F32
                    && (sw.scalar() || (sw.shape.len() == 1 && sw.shape[0] == m)),
                || "w_scale must be FLOAT with one element or one per output channel".into(),
            )?;
            let zw = need(ins, 5, "w_zero_point")?;
            check(
                zw.dtype == w.dtype && (zw.scalar() || (zw.shape.len() == 1 && zw.shape[0] == m)),
                || "w_zero_point must have w's type, one element or one per output channel".into(),
            )?;
            scalar_of(need(ins, 6, "y_scale")?, JType::F32, "y_scale")?;
            let zy = need(ins, 7, "y_zero_point")?;
            q8_scalar(zy, "y_zero_point")?;
            if let Some(b) = &ins[8] {
                check(
                    b.dtype == JType::I32 && b.shape.len() == 1 && b.shape[0] == m,
                    || "B must be a 1-D INT32 tensor with one element per output channel".into(),
                )?;
            }
            check(c.dilations[0] >= 1 && c.dilations[1] >= 1, || {
                "dilations must be at least 1".into()
            })?;
            let ek = |k: usize, d: u32| (k - 1) * d as usize + 1;
            check(w.shape[2] >= 1 && w.shape[3] >= 1, || "empty kernel".into())?;
            let kernel = [
                ek(w.shape[2], c.dilations[0]),
                ek(w.shape[3], c.dilations[1]),
            ];
            let (ho, wo) = windows(&x.shape, c.pads, kernel, c.strides)?;
            Desc {
                dtype: zy.dtype,
                shape: vec![x.shape[0], m, ho, wo],
            }
        }
        Op::MaxPool(p) => {
            let x = need(ins, 0, "x")?;
            q8_of_rank(x, 4, "x", " (NCHW)")?;
            check(p.kernel[0] >= 1 && p.kernel[1] >= 1, || {
                "empty kernel".into()
            })?;
            let kernel = p.kernel.map(|k| k as usize);
            let (ho, wo) = windows(&x.shape, p.pads, kernel, p.strides)?;
            Desc {
                dtype: x.dtype,
                shape: vec![x.shape[0], x.shape[1], ho, wo],
            }
        }
        Op::Flatten { axis } => {
            let x = need(ins, 0, "x")?;
            let r = x.shape.len() as i64;
            let a = if *axis < 0 {
                i64::from(*axis) + r
            } else {
                i64::from(*axis)
            };
            check((0..=r).contains(&a), || {
                format!("axis {axis} is out of range for rank {r}")
            })?;
            let a = a as usize;
            let outer = numel(&x.shape[..a]).ok_or("shape overflows")?;
            let inner = numel(&x.shape[a..]).ok_or("shape overflows")?;
            Desc {
                dtype: x.dtype,
                shape: vec![outer, inner],
            }
        }
        Op::Add => {
            let a = need(ins, 0, "A")?;
            let b = need(ins, 1, "B")?;
            check(a.dtype == JType::F32 && b.dtype == JType::F32, || {
                "Add takes FLOAT tensors".into()
            })?;
            Desc {
                dtype: JType::F32,
                shape: broadcast(&a.shape, &b.shape)?,
            }
        }
        Op::Relu => {
            let x = need(ins, 0, "x")?;
            check(x.dtype == JType::F32, || "Relu takes a FLOAT tensor".into())?;
            x.clone()
        }
    };
    check(out.shape.len() <= MAX_RANK, || {
        format!(
            "the output has rank {} (at most {MAX_RANK})",
            out.shape.len()
        )
    })?;
    check(out.shape.iter().all(|&d| d <= u32::MAX as usize), || {
        "an output dimension exceeds 2^32 - 1".into()
    })?;
    numel(&out.shape)
        .and_then(|n| n.checked_mul(out.dtype.size()))
        .filter(|&n| n <= 1 << 40)
        .ok_or("the output exceeds 2^40 bytes")?;
    Ok(out)
}

/// Multidirectional (numpy) broadcasting of two shapes.
pub fn broadcast(a: &[usize], b: &[usize]) -> R<Vec<usize>> {
    let r = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        let off = r - s.len();
        if i < off { 1 } else { s[i - off] }
    };
    (0..r)
        .map(|i| {
            let (x, y) = (dim(a, i), dim(b, i));
            if x == y || y == 1 {
                Ok(x)
            } else if x == 1 {
                Ok(y)
            } else {
                Err(format!("shapes {a:?} and {b:?} do not broadcast"))
            }
        })
        .collect()
}

/// Byte reads of operand data.
pub trait Access {
    /// Byte `offset` of operand `operand`'s canonical data.
    fn byte(&mut self, operand: usize, offset: usize) -> u8;
}

/// Direct access to operand values.
pub struct Direct<'a>(pub &'a [Option<&'a Value>]);

impl Access for Direct<'_> {
    fn byte(&mut self, operand: usize, offset: usize) -> u8 {
        self.0[operand].expect("present operand").data[offset]
    }
}

/// Element `i` of operand `k` as a signed integer (integer types).
fn int(a: &mut dyn Access, ins: &[Option<Desc>], k: usize, i: usize) -> i64 {
    let t = ins[k].as_ref().expect("present operand").dtype;
    let s = t.size();
    let mut b = [0u8; 8];
    for (j, byte) in b.iter_mut().enumerate().take(s) {
        *byte = a.byte(k, i * s + j);
    }
    match t {
        JType::U8 => i64::from(b[0]),
        JType::I8 => i64::from(b[0] as i8),
        JType::I32 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        JType::I64 => i64::from_le_bytes(b),
        JType::F32 => unreachable!("int() of FLOAT"),
    }
}

/// Element `i` of FLOAT operand `k` as its bits.
fn bits(a: &mut dyn Access, k: usize, i: usize) -> u32 {
    u32::from_le_bytes([
        a.byte(k, 4 * i),
        a.byte(k, 4 * i + 1),
        a.byte(k, 4 * i + 2),
        a.byte(k, 4 * i + 3),
    ])
}

fn opt_int(a: &mut dyn Access, ins: &[Option<Desc>], k: usize, i: usize) -> i64 {
    if ins[k].is_some() {
        int(a, ins, k, i)
    } else {
        0
    }
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// `clamp(rne(acc × m) + zp)` into `t`'s range, with `m = (sa × sb) / sy` in binary32.
fn requantize(acc: i32, sa: u32, sb: u32, sy: u32, zy: i64, t: JType) -> u64 {
    let m = float::div(float::mul(sa, sb), sy);
    let v = float::mul(float::from_int(i64::from(acc)), m);
    let (lo, hi) = t.quant_range().expect("8-bit output");
    float::quantize(v, zy, lo, hi) as u8 as u64
}

/// The value of output element `e` (row-major) of `op`, as the little-endian bits of one
/// element of `out.dtype` (in the low bytes). `ins` and `out` must come from [`infer`].
pub fn element(op: &Op, ins: &[Option<Desc>], out: &Desc, e: usize, a: &mut dyn Access) -> u64 {
    let d = |k: usize| ins[k].as_ref().expect("present operand");
    match op {
        Op::QuantizeLinear => {
            let s = bits(a, 1, 0);
            let zp = opt_int(a, ins, 2, 0);
            let (lo, hi) = out.dtype.quant_range().expect("8-bit output");
            let v = float::div(bits(a, 0, e), s);
            float::quantize(v, zp, lo, hi) as u8 as u64
        }
        Op::DequantizeLinear => {
            let s = bits(a, 1, 0);
            let zp = opt_int(a, ins, 2, 0);
            let x = int(a, ins, 0, e);
            u64::from(float::mul(float::from_int(x - zp), s))
        }
        Op::QLinearMatMul => {
            let (k_len, n_len) = (d(3).shape[0], d(3).shape[1]);
            let (m, n) = (e / n_len, e % n_len);
            let (sa, sb, sy) = (bits(a, 1, 0), bits(a, 4, 0), bits(a, 6, 0));
            let (za, zb, zy) = (int(a, ins, 2, 0), int(a, ins, 5, 0), int(a, ins, 7, 0));
            let mut acc: i32 = 0;
            for k in 0..k_len {
                let x = int(a, ins, 0, m * k_len + k) - za;
                let w = int(a, ins, 3, k * n_len + n) - zb;
                acc = acc.wrapping_add((x * w) as i32);
            }
            requantize(acc, sa, sb, sy, zy, out.dtype)
        }
        Op::QLinearConv(c) => {
            let (xs, ws) = (&d(0).shape, &d(3).shape);
            let (ho, wo) = (out.shape[2], out.shape[3]);
            let m_len = ws[0];
            let (cg, kh, kw) = (ws[1], ws[2], ws[3]);
            let nb = e / (m_len * ho * wo);
            let mo = (e / (ho * wo)) % m_len;
            let oh = (e / wo) % ho;
            let ow = e % wo;
            let g = mo / (m_len / c.group as usize);
            let sx = bits(a, 1, 0);
            let zx = int(a, ins, 2, 0);
            let ch = |desc: &Desc| if desc.scalar() { 0 } else { mo };
            let sw = bits(a, 4, ch(d(4)));
            let zw = int(a, ins, 5, ch(d(5)));
            let sy = bits(a, 6, 0);
            let zy = int(a, ins, 7, 0);
            let mut acc: i32 = if ins[8].is_some() {
                int(a, ins, 8, mo) as i32
            } else {
                0
            };
            for ci in 0..cg {
                for i in 0..kh {
                    let ih = (oh * c.strides[0] as usize + i * c.dilations[0] as usize) as i64
                        - i64::from(c.pads[0]);
                    if ih < 0 || ih >= xs[2] as i64 {
                        continue;
                    }
                    for j in 0..kw {
                        let iw = (ow * c.strides[1] as usize + j * c.dilations[1] as usize) as i64
                            - i64::from(c.pads[1]);
                        if iw < 0 || iw >= xs[3] as i64 {
                            continue;
                        }
                        let xi = ((nb * xs[1] + g * cg + ci) * xs[2] + ih as usize) * xs[3]
                            + iw as usize;
                        let wi = ((mo * cg + ci) * kh + i) * kw + j;
                        let x = int(a, ins, 0, xi) - zx;
                        let w = int(a, ins, 3, wi) - zw;
                        acc = acc.wrapping_add((x * w) as i32);
                    }
                }
            }
            requantize(acc, sx, sw, sy, zy, out.dtype)
        }
        Op::MaxPool(p) => {
            let xs = &d(0).shape;
            let (ho, wo) = (out.shape[2], out.shape[3]);
            let plane = e / (ho * wo);
            let oh = (e / wo) % ho;
            let ow = e % wo;
            let mut best = i64::MIN;
            for i in 0..p.kernel[0] as usize {
                let ih = (oh * p.strides[0] as usize + i) as i64 - i64::from(p.pads[0]);
                if ih < 0 || ih >= xs[2] as i64 {
                    continue;
                }
                for j in 0..p.kernel[1] as usize {
                    let iw = (ow * p.strides[1] as usize + j) as i64 - i64::from(p.pads[1]);
                    if iw < 0 || iw >= xs[3] as i64 {
                        continue;
                    }
                    let v = int(
                        a,
                        ins,
                        0,
                        (plane * xs[2] + ih as usize) * xs[3] + iw as usize,
                    );
                    best = best.max(v);
                }
            }
            if best == i64::MIN {
                // A window over padding only (pads as large as the kernel): the type's minimum.
                best = out.dtype.quant_range().expect("8-bit").0;
            }
            best as u8 as u64
        }
        Op::Flatten { .. } => {
            let s = out.dtype.size();
            let mut v = 0u64;
            for j in 0..s {
                v |= u64::from(a.byte(0, e * s + j)) << (8 * j);
            }
            v
        }
        Op::Add => {
            let r = out.shape.len();
            let os = strides(&out.shape);
            let index = |shape: &[usize]| {
                let st = strides(shape);
                let off = r - shape.len();
                let mut idx = 0;
                for (i, &dim) in shape.iter().enumerate() {
                    if dim != 1 {
                        idx += (e / os[off + i]) % out.shape[off + i] * st[i];
                    }
                }
                idx
            };
            let ia = index(&d(0).shape);
            let ib = index(&d(1).shape);
            u64::from(float::add(bits(a, 0, ia), bits(a, 1, ib)))
        }
        Op::Relu => u64::from(float::relu(bits(a, 0, e))),
    }
}

/// Evaluates `op` on operand values: the interpreter's whole-tensor step.
pub fn eval(op: &Op, values: &[Option<&Value>]) -> R<Value> {
    let descs: Vec<Option<Desc>> = values.iter().map(|v| v.map(Desc::of)).collect();
    let out = infer(op, &descs)?;
    let n = out.numel();
    let s = out.dtype.size();
    let mut data = vec![0u8; n * s];
    let mut access = Direct(values);
    for e in 0..n {
        let v = element(op, &descs, &out, e, &mut access);
        data[e * s..(e + 1) * s].copy_from_slice(&v.to_le_bytes()[..s]);
    }
    Value::new(out.dtype, out.shape, data)
}

/// Records which chunks (32-byte pieces of canonical data) of each operand an element reads.
pub struct Recorder<'a> {
    values: &'a [Option<&'a Value>],
    /// Per operand, the chunk indices read (sorted, unique).
    pub chunks: Vec<std::collections::BTreeSet<usize>>,
}

impl<'a> Recorder<'a> {
    pub fn new(values: &'a [Option<&'a Value>]) -> Self {
        Self {
            values,
            chunks: vec![Default::default(); values.len()],
        }
    }
}

impl Access for Recorder<'_> {
    fn byte(&mut self, operand: usize, offset: usize) -> u8 {
        self.chunks[operand].insert(offset / 32);
        self.values[operand].expect("present operand").data[offset]
    }
}
