//! The frames between the service and a model worker process, over the worker's stdin/stdout.
//!
//! A frame is `u32 LE length || u8 tag || payload` (the length counts tag and payload). Integers
//! are little-endian. Tensors travel as `u32 count` then, per tensor, `u32 len || name`,
//! `u8 datatype` (index in [`DataType::ALL`]), `u32 ndims || u64 dims…`, and either
//! `u64 len || bytes` (fixed-size types) or `u64 count || (u32 len || bytes)…` (BYTES).
//! Both sides decode defensively: every length is checked against what is left, so a truncated
//! or corrupt frame is an error, never a panic or an allocation the frame does not back.

use crate::{
    engine::ModelSignature,
    tensor::{DataType, Tensor, TensorData},
};

/// The largest frame either side accepts (2 GiB): bounds what a corrupt length prefix can ask
/// the reader to allocate.
pub const MAX_FRAME: usize = 1 << 31;

const RUN: u8 = 1;
const STATS: u8 = 2;
const READY: u8 = 10;
const DONE_OK: u8 = 11;
const DONE_ERR: u8 = 12;
const STATS_REPLY: u8 = 13;
const FATAL: u8 = 14;

/// Service → worker.
#[derive(Debug, Clone, PartialEq)]
pub enum ToWorker {
    /// Run the model on `inputs`; answer `Done { id }` with the outputs named in `wanted`
    /// (all when empty). `timeout_ms` 0 means no limit.
    Run {
        id: u64,
        timeout_ms: u64,
        wanted: Vec<String>,
        inputs: Vec<Tensor>,
    },
    /// Report memory use.
    Stats,
}

/// Why a run failed, as the worker classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFailure {
    /// ONNX Runtime refused the request's data (a kernel's argument check, a shape that does
    /// not broadcast, …): the caller's fault.
    Rejected,
    /// An allocation failed under the worker's memory limit.
    Memory,
    /// The run passed its time limit and was terminated.
    Timeout,
    /// Anything else (an output the protocol cannot carry, an internal error).
    Internal,
}

impl RunFailure {
    fn code(self) -> u8 {
        match self {
            Self::Rejected => 0,
            Self::Memory => 1,
            Self::Timeout => 2,
            Self::Internal => 3,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => Self::Rejected,
            1 => Self::Memory,
            2 => Self::Timeout,
            3 => Self::Internal,
            _ => return None,
        })
    }
}

/// The worker's memory, from `/proc/self/status` (0 where unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemStats {
    /// Resident set size now.
    pub rss_bytes: u64,
    /// Peak resident set size since the worker started.
    pub peak_rss_bytes: u64,
    /// Address space in use now.
    pub vm_bytes: u64,
    /// The address-space limit the worker set on itself (0: none).
    pub limit_bytes: u64,
}

/// The worker's first frame, once the model is loaded.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub signature: ModelSignature,
    /// `cpu` or `cuda`: what the sessions actually run on.
    pub execution_provider: String,
    pub sessions: u32,
    pub memory: MemStats,
}

/// Worker → service.
#[derive(Debug, Clone, PartialEq)]
pub enum FromWorker {
    Ready(Ready),
    Done {
        id: u64,
        result: Result<Vec<Tensor>, (RunFailure, String)>,
    },
    Stats(MemStats),
    /// The worker cannot serve (the model did not load); it exits after this frame.
    Fatal(String),
}

/// A decoding failure: the frame is not what the protocol says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed worker frame: {0}")]
pub struct WireError(pub String);

fn err(msg: impl Into<String>) -> WireError {
    WireError(msg.into())
}

struct Writer(Vec<u8>);

impl Writer {
    fn frame(tag: u8) -> Self {
        let mut v = Vec::with_capacity(256);
        v.extend_from_slice(&[0; 4]);
        v.push(tag);
        Self(v)
    }
    fn u8(&mut self, x: u8) {
        self.0.push(x);
    }
    fn u32(&mut self, x: u32) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn u64(&mut self, x: u64) {
        self.0.extend_from_slice(&x.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn tensors(&mut self, ts: &[Tensor]) {
        self.u32(ts.len() as u32);
        for t in ts {
            self.str(t.name());
            let dt = DataType::ALL
                .iter()
                .position(|d| *d == t.datatype())
                .expect("every datatype is in ALL");
            self.u8(dt as u8);
            self.u32(t.shape().len() as u32);
            for d in t.shape() {
                self.u64(*d);
            }
            match t.data() {
                TensorData::Fixed(b) => {
                    self.u64(b.len() as u64);
                    self.0.extend_from_slice(b);
                }
                TensorData::Bytes(items) => {
                    self.u64(items.len() as u64);
                    for i in items {
                        self.bytes(i);
                    }
                }
            }
        }
    }
    fn mem(&mut self, m: &MemStats) {
        self.u64(m.rss_bytes);
        self.u64(m.peak_rss_bytes);
        self.u64(m.vm_bytes);
        self.u64(m.limit_bytes);
    }
    fn finish(mut self) -> Vec<u8> {
        let len = (self.0.len() - 4) as u32;
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], WireError> {
        if n > self.0.len() {
            return Err(err(format!(
                "{what}: {n} bytes declared, {} left",
                self.0.len()
            )));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self, what: &str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> Result<u32, WireError> {
        Ok(u32::from_le_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self, what: &str) -> Result<u64, WireError> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }
    fn bytes(&mut self, what: &str) -> Result<&'a [u8], WireError> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    fn str(&mut self, what: &str) -> Result<String, WireError> {
        String::from_utf8(self.bytes(what)?.to_vec()).map_err(|_| err(format!("{what}: not UTF-8")))
    }
    /// A count of items that each take at least `min_size` bytes: refused when the rest of the
    /// frame cannot hold them (so a corrupt count never drives a huge allocation).
    fn count(&mut self, min_size: usize, what: &str) -> Result<usize, WireError> {
        let n = self.u64(what)?;
        if n.saturating_mul(min_size as u64) > self.0.len() as u64 {
            return Err(err(format!(
                "{what}: {n} items cannot fit in {} bytes",
                self.0.len()
            )));
        }
        Ok(n as usize)
    }
    fn tensors(&mut self) -> Result<Vec<Tensor>, WireError> {
        let n = self.u32("tensor count")? as usize;
        // Each tensor takes at least 4 + 1 + 4 + 8 bytes.
        if n.saturating_mul(17) > self.0.len() {
            return Err(err(format!("{n} tensors cannot fit in the frame")));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.str("tensor name")?;
            let dt = *DataType::ALL
                .get(self.u8("datatype")? as usize)
                .ok_or_else(|| err("unknown datatype"))?;
            let ndims = self.u32("ndims")? as usize;
            if ndims.saturating_mul(8) > self.0.len() {
                return Err(err(format!("tensor `{name}`: {ndims} dimensions")));
            }
            let shape = (0..ndims)
                .map(|_| self.u64("dim"))
                .collect::<Result<Vec<_>, _>>()?;
            let data = if dt == DataType::Bytes {
                let count = self.count(4, "BYTES elements")?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.bytes("BYTES element")?.to_vec());
                }
                TensorData::Bytes(items)
            } else {
                let len = self.count(1, "tensor data")?;
                TensorData::Fixed(self.take(len, "tensor data")?.to_vec())
            };
            out.push(Tensor::new(name, dt, shape, data).map_err(|e| err(format!("tensor: {e}")))?);
        }
        Ok(out)
    }
    fn mem(&mut self) -> Result<MemStats, WireError> {
        Ok(MemStats {
            rss_bytes: self.u64("rss")?,
            peak_rss_bytes: self.u64("peak rss")?,
            vm_bytes: self.u64("vm")?,
            limit_bytes: self.u64("limit")?,
        })
    }
    fn end(&self) -> Result<(), WireError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(err(format!("{} trailing bytes", self.0.len())))
        }
    }
}

impl ToWorker {
    /// The whole frame, length prefix included.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Run {
                id,
                timeout_ms,
                wanted,
                inputs,
            } => {
                let mut w = Writer::frame(RUN);
                w.u64(*id);
                w.u64(*timeout_ms);
                w.u32(wanted.len() as u32);
                for n in wanted {
                    w.str(n);
                }
                w.tensors(inputs);
                w.finish()
            }
            Self::Stats => Writer::frame(STATS).finish(),
        }
    }

    /// Decodes a frame body (tag and payload, without the length prefix).
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader(body);
        let msg = match r.u8("tag")? {
            RUN => {
                let id = r.u64("id")?;
                let timeout_ms = r.u64("timeout")?;
                let n = r.u32("wanted count")? as usize;
                if n.saturating_mul(4) > r.0.len() {
                    return Err(err("wanted count"));
                }
                let wanted = (0..n)
                    .map(|_| r.str("wanted name"))
                    .collect::<Result<_, _>>()?;
                let inputs = r.tensors()?;
                Self::Run {
                    id,
                    timeout_ms,
                    wanted,
                    inputs,
                }
            }
            STATS => Self::Stats,
            t => return Err(err(format!("unknown tag {t} from the service"))),
        };
        r.end()?;
        Ok(msg)
    }
}

impl FromWorker {
    /// The whole frame, length prefix included.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Ready(r) => {
                let mut w = Writer::frame(READY);
                w.bytes(&serde_json::to_vec(&r.signature).expect("signature serializes"));
                w.str(&r.execution_provider);
                w.u32(r.sessions);
                w.mem(&r.memory);
                w.finish()
            }
            Self::Done { id, result } => match result {
                Ok(outputs) => {
                    let mut w = Writer::frame(DONE_OK);
                    w.u64(*id);
                    w.tensors(outputs);
                    w.finish()
                }
                Err((kind, message)) => {
                    let mut w = Writer::frame(DONE_ERR);
                    w.u64(*id);
                    w.u8(kind.code());
                    w.str(message);
                    w.finish()
                }
            },
            Self::Stats(m) => {
                let mut w = Writer::frame(STATS_REPLY);
                w.mem(m);
                w.finish()
            }
            Self::Fatal(message) => {
                let mut w = Writer::frame(FATAL);
                w.str(message);
                w.finish()
            }
        }
    }

    /// Decodes a frame body (tag and payload, without the length prefix).
    pub fn decode(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader(body);
        let msg = match r.u8("tag")? {
            READY => {
                let signature = serde_json::from_slice(r.bytes("signature")?)
                    .map_err(|e| err(format!("signature: {e}")))?;
                Self::Ready(Ready {
                    signature,
                    execution_provider: r.str("execution provider")?,
                    sessions: r.u32("sessions")?,
                    memory: r.mem()?,
                })
            }
            DONE_OK => Self::Done {
                id: r.u64("id")?,
                result: Ok(r.tensors()?),
            },
            DONE_ERR => {
                let id = r.u64("id")?;
                let kind = RunFailure::from_code(r.u8("failure")?)
                    .ok_or_else(|| err("unknown failure kind"))?;
                Self::Done {
                    id,
                    result: Err((kind, r.str("message")?)),
                }
            }
            STATS_REPLY => Self::Stats(r.mem()?),
            FATAL => Self::Fatal(r.str("message")?),
            t => return Err(err(format!("unknown tag {t} from the worker"))),
        };
        r.end()?;
        Ok(msg)
    }
}

/// Splits the length prefix off a frame header; refuses lengths over [`MAX_FRAME`] or zero.
pub fn frame_len(header: [u8; 4]) -> Result<usize, WireError> {
    let n = u32::from_le_bytes(header) as usize;
    if n == 0 || n > MAX_FRAME {
        return Err(err(format!("frame length {n}")));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TensorSpec;

    fn sample() -> Vec<Tensor> {
        vec![
            Tensor::new(
                "x",
                DataType::Fp32,
                vec![2],
                TensorData::Fixed(vec![0, 0, 128, 63, 0, 0, 0, 64]),
            )
            .unwrap(),
            Tensor::new(
                "s",
                DataType::Bytes,
                vec![2],
                TensorData::Bytes(vec![b"ab".to_vec(), vec![]]),
            )
            .unwrap(),
            Tensor::new("e", DataType::Int64, vec![0, 3], TensorData::Fixed(vec![])).unwrap(),
        ]
    }

    fn body(frame: &[u8]) -> &[u8] {
        let n = frame_len(frame[..4].try_into().unwrap()).unwrap();
        assert_eq!(n, frame.len() - 4);
        &frame[4..]
    }

    #[test]
    fn every_message_round_trips() {
        let to = [
            ToWorker::Run {
                id: 7,
                timeout_ms: 1500,
                wanted: vec!["y".into()],
                inputs: sample(),
            },
            ToWorker::Stats,
        ];
        for m in to {
            assert_eq!(ToWorker::decode(body(&m.encode())).unwrap(), m);
        }
        let mem = MemStats {
            rss_bytes: 1,
            peak_rss_bytes: 2,
            vm_bytes: 3,
            limit_bytes: 4,
        };
        let from = [
            FromWorker::Ready(Ready {
                signature: ModelSignature {
                    inputs: vec![TensorSpec {
                        name: "x".into(),
                        datatype: "FP32".into(),
                        shape: vec![-1, 3],
                    }],
                    outputs: vec![],
                },
                execution_provider: "cpu".into(),
                sessions: 2,
                memory: mem,
            }),
            FromWorker::Done {
                id: 9,
                result: Ok(sample()),
            },
            FromWorker::Done {
                id: 10,
                result: Err((RunFailure::Memory, "out of memory".into())),
            },
            FromWorker::Stats(mem),
            FromWorker::Fatal("no".into()),
        ];
        for m in from {
            assert_eq!(FromWorker::decode(body(&m.encode())).unwrap(), m);
        }
    }

    #[test]
    fn truncated_and_corrupt_frames_are_errors() {
        let frame = ToWorker::Run {
            id: 1,
            timeout_ms: 0,
            wanted: vec![],
            inputs: sample(),
        }
        .encode();
        let b = body(&frame);
        for cut in 0..b.len() {
            assert!(ToWorker::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        // A huge declared element count with nothing behind it.
        let mut w = Writer::frame(DONE_OK);
        w.u64(1);
        w.u32(1);
        w.str("t");
        w.u8(12); // BYTES
        w.u32(1);
        w.u64(u64::MAX);
        w.u64(u64::MAX);
        let f = w.finish();
        assert!(FromWorker::decode(body(&f)).is_err());
        assert!(frame_len([0, 0, 0, 0]).is_err());
        assert!(frame_len([255, 255, 255, 255]).is_err());
    }
}
