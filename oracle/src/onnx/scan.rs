//! The ONNX walker: ModelProto → GraphProto / FunctionProto / TrainingInfoProto → NodeProto →
//! AttributeProto → TensorProto, collecting every constant tensor (see `docs/WEIGHTS.md`).

use std::io::{BufRead, Seek};

use sha2::{Digest, Sha256};

use super::wire::{Tag, Wire, WireType, malformed};
use super::{ModelScan, ScanError, WeightTensor, data_type_name, leaf_hash, merkle_root};

/// Subgraph nesting limit (keeps recursion bounded on hostile input).
const MAX_DEPTH: usize = 32;
/// Longest tensor / attribute / opset name read into memory.
const MAX_NAME: usize = 64 * 1024;
/// Most weight tensors per model, and most bytes of per-tensor metadata in total (canonical
/// names plus 8 bytes per dimension): together they bound the scanner's memory use.
const MAX_TENSORS: usize = 250_000;
const MAX_META_BYTES: usize = 16 << 20;
/// Longest opset domain / producer string kept.
const MAX_SHORT: usize = 4096;
const MAX_RANK: usize = 64;
const MAX_OPSETS: usize = 256;

pub(crate) fn scan<R: BufRead + Seek>(r: R) -> Result<ModelScan, ScanError> {
    let mut s = Scanner {
        w: Wire::new(r)?,
        found: Vec::new(),
        meta_bytes: 0,
    };
    s.model()
}

struct Scanner<R> {
    w: Wire<R>,
    /// Tensors with the offset of their TensorProto (for duplicate-name errors).
    found: Vec<(WeightTensor, u64)>,
    meta_bytes: usize,
}

/// Where a tensor sits; decides its canonical name.
enum Site<'a> {
    /// An initializer of the main graph: keeps its own name.
    TopLevel,
    /// Anything else: `<prefix>/<tensor name>`.
    Path(&'a str),
}

fn wrong_wire_type(tag: &Tag, what: &str) -> ScanError {
    malformed(
        tag.offset,
        format!(
            "{what} (field {}) has wire type {}, which does not match the ONNX schema",
            tag.field,
            tag.wt.describe()
        ),
    )
}

fn expect(tag: &Tag, wt: WireType, what: &str) -> Result<(), ScanError> {
    if tag.wt == wt {
        Ok(())
    } else {
        Err(wrong_wire_type(tag, what))
    }
}

impl<R: BufRead + Seek> Scanner<R> {
    fn model(&mut self) -> Result<ModelScan, ScanError> {
        let end = self.w.total_len();
        if end == 0 {
            return Err(ScanError::NotAModel("the file is empty".into()));
        }
        let mut ir_version = 0i64;
        let mut opsets = Vec::new();
        let mut producer = String::new();
        let mut producer_version = String::new();
        let mut graph_seen = false;
        let (mut n_functions, mut n_training) = (0usize, 0usize);
        while let Some(tag) = self.w.tag(end)? {
            // Wire types of ModelProto's fields; a mismatch at the top level means this is some
            // other protobuf message (or not protobuf at all).
            let want = match tag.field {
                1 | 5 => Some(WireType::Varint),
                2 | 3 | 4 | 6 | 7 | 8 | 14 | 20 | 25 | 26 => Some(WireType::Len),
                _ => None,
            };
            if want.is_some_and(|w| w != tag.wt) {
                return Err(ScanError::NotAModel(format!(
                    "protobuf field {} at byte {} is {}, which an ONNX ModelProto never uses there",
                    tag.field,
                    tag.offset,
                    tag.wt.describe()
                )));
            }
            match tag.field {
                1 => ir_version = self.w.varint(end)? as i64,
                2 => producer = self.lossy_string(&tag, end, "producer_name")?,
                3 => producer_version = self.lossy_string(&tag, end, "producer_version")?,
                7 => {
                    if graph_seen {
                        return Err(malformed(tag.offset, "the model has more than one graph"));
                    }
                    graph_seen = true;
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.graph(fend, "@", 0, true)?;
                }
                8 => {
                    if opsets.len() >= MAX_OPSETS {
                        return Err(ScanError::Unsupported(format!(
                            "more than {MAX_OPSETS} opset imports"
                        )));
                    }
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    opsets.push(self.opset(fend)?);
                }
                20 => {
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.training_info(fend, n_training)?;
                    n_training += 1;
                }
                25 => {
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.function(fend, n_functions)?;
                    n_functions += 1;
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        if !graph_seen {
            return Err(ScanError::NotAModel(
                "it is a protobuf message without a graph (no ModelProto.graph field)".into(),
            ));
        }

        let mut found = std::mem::take(&mut self.found);
        found.sort_by(|a, b| a.0.name.as_bytes().cmp(b.0.name.as_bytes()));
        if let Some(pair) = found.windows(2).find(|p| p[0].0.name == p[1].0.name) {
            return Err(malformed(
                pair[0].1.max(pair[1].1),
                format!(
                    "two weight tensors have the same canonical name '{}'",
                    pair[0].0.name
                ),
            ));
        }
        let tensors: Vec<WeightTensor> = found.into_iter().map(|(t, _)| t).collect();
        let leaves: Vec<[u8; 32]> = tensors.iter().map(leaf_hash).collect();
        Ok(ModelScan {
            ir_version,
            opsets,
            producer,
            producer_version,
            weights_root: merkle_root(&leaves),
            tensors,
        })
    }

    fn lossy_string(&mut self, tag: &Tag, end: u64, what: &str) -> Result<String, ScanError> {
        let b = self.w.small_bytes(tag, end, MAX_SHORT, what)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// OperatorSetIdProto { domain = 1, version = 2 }.
    fn opset(&mut self, end: u64) -> Result<(String, i64), ScanError> {
        let (mut domain, mut version) = (String::new(), 0i64);
        while let Some(tag) = self.w.tag(end)? {
            match tag.field {
                1 => {
                    expect(&tag, WireType::Len, "OperatorSetIdProto.domain")?;
                    domain = self.lossy_string(&tag, end, "opset domain")?;
                }
                2 => {
                    expect(&tag, WireType::Varint, "OperatorSetIdProto.version")?;
                    version = self.w.varint(end)? as i64;
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        Ok((domain, version))
    }

    /// TrainingInfoProto { initialization = 1, algorithm = 2 } (both GraphProto).
    fn training_info(&mut self, end: u64, index: usize) -> Result<(), ScanError> {
        while let Some(tag) = self.w.tag(end)? {
            let which = match tag.field {
                1 => "initialization",
                2 => "algorithm",
                _ => {
                    self.w.skip(&tag, end)?;
                    continue;
                }
            };
            expect(&tag, WireType::Len, "TrainingInfoProto graph")?;
            let fend = self.w.len_prefix(tag.offset, end)?;
            self.graph(fend, &format!("@train[{index}].{which}"), 1, false)?;
        }
        Ok(())
    }

    /// FunctionProto { node = 7, attribute_proto = 11 }.
    fn function(&mut self, end: u64, index: usize) -> Result<(), ScanError> {
        let path = format!("@fn[{index}]");
        let mut node_index = 0usize;
        while let Some(tag) = self.w.tag(end)? {
            match tag.field {
                7 => {
                    expect(&tag, WireType::Len, "FunctionProto.node")?;
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.node(fend, &format!("{path}/{node_index}"), 1)?;
                    node_index += 1;
                }
                11 => {
                    expect(&tag, WireType::Len, "FunctionProto.attribute_proto")?;
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.attribute(fend, &format!("{path}/default"), 1)?;
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        Ok(())
    }

    /// GraphProto { node = 1, initializer = 5, sparse_initializer = 15 }.
    fn graph(&mut self, end: u64, path: &str, depth: usize, main: bool) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::Unsupported(format!(
                "subgraphs nested more than {MAX_DEPTH} levels deep"
            )));
        }
        let (mut node_index, mut init_index) = (0usize, 0usize);
        while let Some(tag) = self.w.tag(end)? {
            match tag.field {
                1 => {
                    expect(&tag, WireType::Len, "GraphProto.node")?;
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.node(fend, &format!("{path}/{node_index}"), depth)?;
                    node_index += 1;
                }
                5 => {
                    expect(&tag, WireType::Len, "GraphProto.initializer")?;
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    if main {
                        self.tensor(tag.offset, fend, Site::TopLevel)?;
                    } else {
                        let prefix = format!("{path}/init[{init_index}]");
                        self.tensor(tag.offset, fend, Site::Path(&prefix))?;
                    }
                    init_index += 1;
                }
                15 => {
                    return Err(ScanError::Unsupported(format!(
                        "sparse initializers (GraphProto.sparse_initializer, at byte {}); \
                         store the weights as dense initializers",
                        tag.offset
                    )));
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        Ok(())
    }

    /// NodeProto { attribute = 5 }; `prefix` is `<graph path>/<node index>`.
    fn node(&mut self, end: u64, prefix: &str, depth: usize) -> Result<(), ScanError> {
        while let Some(tag) = self.w.tag(end)? {
            if tag.field == 5 {
                expect(&tag, WireType::Len, "NodeProto.attribute")?;
                let fend = self.w.len_prefix(tag.offset, end)?;
                self.attribute(fend, prefix, depth)?;
            } else {
                self.w.skip(&tag, end)?;
            }
        }
        Ok(())
    }

    /// AttributeProto { name = 1, t = 5, g = 6, tensors = 10, graphs = 11, sparse_tensor = 22,
    /// sparse_tensors = 23 }. Two passes: the name first (it may follow the values on the
    /// wire), then the values.
    fn attribute(&mut self, end: u64, prefix: &str, depth: usize) -> Result<(), ScanError> {
        let start = self.w.pos();
        let mut name = String::new();
        let mut has_values = false;
        while let Some(tag) = self.w.tag(end)? {
            match tag.field {
                1 => {
                    expect(&tag, WireType::Len, "AttributeProto.name")?;
                    name = self.w.small_string(&tag, end, MAX_NAME, "attribute name")?;
                }
                5 | 6 | 10 | 11 | 22 | 23 => {
                    has_values = true;
                    self.w.skip(&tag, end)?;
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        if !has_values {
            return Ok(());
        }
        self.w.seek_to(start)?;
        let attr = format!("{prefix}.{name}");
        let (mut n_t, mut n_g, mut n_tensors, mut n_graphs) = (0usize, 0usize, 0usize, 0usize);
        while let Some(tag) = self.w.tag(end)? {
            match tag.field {
                5 => {
                    expect(&tag, WireType::Len, "AttributeProto.t")?;
                    n_t += 1;
                    if n_t > 1 {
                        return Err(malformed(
                            tag.offset,
                            format!("attribute '{name}' has two 't' values"),
                        ));
                    }
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.tensor(tag.offset, fend, Site::Path(&attr))?;
                }
                10 => {
                    expect(&tag, WireType::Len, "AttributeProto.tensors")?;
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    let p = format!("{attr}[{n_tensors}]");
                    self.tensor(tag.offset, fend, Site::Path(&p))?;
                    n_tensors += 1;
                }
                6 => {
                    expect(&tag, WireType::Len, "AttributeProto.g")?;
                    n_g += 1;
                    if n_g > 1 {
                        return Err(malformed(
                            tag.offset,
                            format!("attribute '{name}' has two 'g' values"),
                        ));
                    }
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.graph(fend, &attr, depth + 1, false)?;
                }
                11 => {
                    expect(&tag, WireType::Len, "AttributeProto.graphs")?;
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    self.graph(fend, &format!("{attr}[{n_graphs}]"), depth + 1, false)?;
                    n_graphs += 1;
                }
                22 | 23 => {
                    return Err(ScanError::Unsupported(format!(
                        "sparse tensor attribute values (attribute '{name}' at byte {})",
                        tag.offset
                    )));
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        Ok(())
    }

    /// TensorProto: pass 1 collects the metadata (skipping the data), pass 2 streams the data
    /// fields through the canonical encoder. Fields may come in any order on the wire.
    fn tensor(&mut self, tag_offset: u64, end: u64, site: Site<'_>) -> Result<(), ScanError> {
        let start = self.w.pos();
        let mut dims: Vec<i64> = Vec::new();
        let mut data_type = 0i32;
        let mut name = String::new();
        let mut location: Option<String> = None;
        let mut data_location = 0u64;
        // Bit per data field number seen (4, 5, 6, 7, 9, 10, 11).
        let mut fields = 0u32;
        let mut raw_count = 0usize;

        while let Some(tag) = self.w.tag(end)? {
            let wt = tag.wt;
            match (tag.field, wt) {
                (1, WireType::Varint) => {
                    let d = self.w.varint(end)? as i64;
                    push_dim(&mut dims, d, tag.offset)?;
                }
                (1, WireType::Len) => {
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    while self.w.pos() < fend {
                        let d = self.w.varint(fend)? as i64;
                        push_dim(&mut dims, d, tag.offset)?;
                    }
                }
                (2, WireType::Varint) => data_type = self.w.varint(end)? as i32,
                (3, _) => {
                    return Err(ScanError::Unsupported(format!(
                        "segmented tensors (TensorProto.segment, at byte {})",
                        tag.offset
                    )));
                }
                (8, WireType::Len) => {
                    name = self.w.small_string(&tag, end, MAX_NAME, "tensor name")?;
                }
                (13, WireType::Len) => {
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    if let Some(loc) = self.external_location(fend)? {
                        location = Some(loc);
                    }
                }
                (14, WireType::Varint) => data_location = self.w.varint(end)?,
                (4, WireType::I32 | WireType::Len)
                | (5 | 7 | 11, WireType::Varint | WireType::Len)
                | (6, WireType::Len)
                | (10, WireType::I64 | WireType::Len)
                | (9, WireType::Len) => {
                    fields |= 1 << tag.field;
                    if tag.field == 9 {
                        raw_count += 1;
                    }
                    self.w.skip(&tag, end)?;
                }
                (1 | 2 | 4..=11 | 13 | 14, _) => {
                    return Err(wrong_wire_type(&tag, "a TensorProto field"));
                }
                _ => self.w.skip(&tag, end)?,
            }
        }

        let canonical = match site {
            Site::TopLevel => name,
            Site::Path(prefix) => format!("{prefix}/{name}"),
        };
        if data_location == 1 {
            return Err(ScanError::ExternalData {
                tensor: canonical,
                location: location.unwrap_or_else(|| "<no location given>".into()),
            });
        }
        if data_location > 1 {
            return Err(malformed(
                tag_offset,
                format!("tensor '{canonical}' has unknown data_location {data_location}"),
            ));
        }
        let bad = |reason: String| malformed(tag_offset, format!("tensor '{canonical}' {reason}"));
        let kind = match fields.count_ones() {
            0 => None,
            1 => Some(fields.trailing_zeros()),
            _ => return Err(bad("stores its values in more than one data field".into())),
        };
        if raw_count > 1 {
            return Err(bad("has more than one raw_data field".into()));
        }
        let ty = data_type_name(data_type);
        if data_type == 0 {
            return Err(bad("has no data_type (UNDEFINED)".into()));
        }
        let Some(bits) = element_bits(data_type) else {
            return Err(ScanError::Unsupported(format!(
                "tensor '{canonical}' has data type {data_type}, which this scanner does not know"
            )));
        };
        let field_ok = match kind {
            None => true,
            Some(9) => data_type != 8,
            Some(4) => matches!(data_type, 1 | 14),
            Some(5) => int32_width(data_type).is_some(),
            Some(6) => data_type == 8,
            Some(7) => data_type == 7,
            Some(10) => matches!(data_type, 11 | 15),
            Some(11) => matches!(data_type, 12 | 13),
            Some(_) => false,
        };
        if !field_ok {
            let field = match kind {
                Some(4) => "float_data",
                Some(5) => "int32_data",
                Some(6) => "string_data",
                Some(7) => "int64_data",
                Some(9) => "raw_data",
                Some(10) => "double_data",
                Some(11) => "uint64_data",
                _ => "no data field",
            };
            return Err(bad(format!("of type {ty} stores its values in {field}")));
        }
        let mut numel = 1u64;
        for &d in &dims {
            numel = numel
                .checked_mul(d as u64)
                .ok_or_else(|| bad("has too many elements".into()))?;
        }

        // Pass 2: the data.
        self.w.seek_to(start)?;
        let mut c = Canon::new();
        let mut strings = 0u64;
        let mut int32_entries = 0u64;
        while let Some(tag) = self.w.tag(end)? {
            match (Some(tag.field), tag.wt) {
                (f, WireType::Len) if f == kind && matches!(tag.field, 4 | 9 | 10) => {
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    let unit = match tag.field {
                        4 => 4,
                        10 => 8,
                        _ => 1,
                    };
                    if !(fend - self.w.pos()).is_multiple_of(unit) {
                        return Err(malformed(
                            tag.offset,
                            format!(
                                "tensor '{canonical}': packed {} is not a multiple of {unit} bytes",
                                if unit == 4 {
                                    "float_data"
                                } else {
                                    "double_data"
                                }
                            ),
                        ));
                    }
                    self.w.stream(fend, |chunk| c.raw(chunk))?;
                }
                (f, WireType::I32) if f == kind => c.put(&self.w.fixed::<4>(end)?),
                (f, WireType::I64) if f == kind => c.put(&self.w.fixed::<8>(end)?),
                (f, WireType::Len) if f == kind && tag.field == 6 => {
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    c.put(&(fend - self.w.pos()).to_le_bytes());
                    self.w.stream(fend, |chunk| c.raw(chunk))?;
                    strings += 1;
                }
                (f, WireType::Len) if f == kind => {
                    // Packed varints: int32_data, int64_data, uint64_data.
                    let fend = self.w.len_prefix(tag.offset, end)?;
                    while self.w.pos() < fend {
                        let v = self.w.varint(fend)?;
                        put_varint_value(&mut c, tag.field, data_type, v);
                        int32_entries += 1;
                    }
                }
                (f, WireType::Varint) if f == kind => {
                    let v = self.w.varint(end)?;
                    put_varint_value(&mut c, tag.field, data_type, v);
                    int32_entries += 1;
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        let (data_sha256, byte_len) = c.finish();

        if data_type == 8 {
            if strings != numel {
                return Err(bad(format!(
                    "declares {numel} elements but holds {strings} strings"
                )));
            }
        } else {
            let expected = numel
                .checked_mul(bits)
                .map(|b| b.div_ceil(8))
                .ok_or_else(|| bad("has too many elements".into()))?;
            let entries_ok =
                !(kind == Some(5) && matches!(data_type, 27 | 28)) || int32_entries == numel;
            if byte_len != expected || !entries_ok {
                return Err(bad(format!(
                    "of type {ty} with {numel} elements needs {expected} bytes of data but holds {byte_len}"
                )));
            }
        }
        self.push(
            WeightTensor {
                name: canonical,
                data_type,
                dims,
                data_sha256,
                byte_len,
            },
            tag_offset,
        )
    }

    /// StringStringEntryProto { key = 1, value = 2 }: the value when the key is "location".
    fn external_location(&mut self, end: u64) -> Result<Option<String>, ScanError> {
        let (mut key, mut value) = (Vec::new(), Vec::new());
        while let Some(tag) = self.w.tag(end)? {
            match (tag.field, tag.wt) {
                (1, WireType::Len) => {
                    key = self
                        .w
                        .small_bytes(&tag, end, MAX_NAME, "external_data key")?
                }
                (2, WireType::Len) => {
                    value = self
                        .w
                        .small_bytes(&tag, end, MAX_NAME, "external_data value")?
                }
                _ => self.w.skip(&tag, end)?,
            }
        }
        Ok((key == b"location").then(|| String::from_utf8_lossy(&value).into_owned()))
    }

    fn push(&mut self, t: WeightTensor, offset: u64) -> Result<(), ScanError> {
        self.meta_bytes += t.name.len() + 8 * t.dims.len();
        if self.found.len() >= MAX_TENSORS || self.meta_bytes > MAX_META_BYTES {
            return Err(ScanError::Unsupported(format!(
                "more than {MAX_TENSORS} weight tensors, or more than {} MiB of tensor names and \
                 dimensions",
                MAX_META_BYTES >> 20
            )));
        }
        self.found.push((t, offset));
        Ok(())
    }
}

fn push_dim(dims: &mut Vec<i64>, d: i64, offset: u64) -> Result<(), ScanError> {
    if d < 0 {
        return Err(malformed(
            offset,
            format!("tensor has a negative dimension {d}"),
        ));
    }
    if dims.len() >= MAX_RANK {
        return Err(ScanError::Unsupported(format!(
            "tensors of rank above {MAX_RANK}"
        )));
    }
    dims.push(d);
    Ok(())
}

/// Bits per element in the canonical (raw_data) layout; `None` for unknown types.
/// STRING has no fixed width (reported as 0).
fn element_bits(data_type: i32) -> Option<u64> {
    Some(match data_type {
        8 => 0,
        2 | 3 | 9 | 17..=20 | 24 => 8,
        4 | 5 | 10 | 16 => 16,
        1 | 6 | 12 => 32,
        7 | 11 | 13 | 14 => 64,
        15 => 128,
        21..=23 => 4,
        25 | 26 => 2,
        27 | 28 => 6,
        _ => return None,
    })
}

/// Bytes written per int32_data entry (0 = the 6-bit float bitstream), or `None` where the
/// type may not use int32_data.
fn int32_width(data_type: i32) -> Option<usize> {
    match data_type {
        6 => Some(4),
        4 | 5 | 10 | 16 => Some(2),
        2 | 3 | 9 | 17..=26 => Some(1),
        27 | 28 => Some(0),
        _ => None,
    }
}

/// Encodes one varint-typed data value (int32_data, int64_data or uint64_data) as the
/// canonical element: the low-order bytes of the value, little-endian.
fn put_varint_value(c: &mut Canon, field: u32, data_type: i32, v: u64) {
    let bytes = v.to_le_bytes();
    match field {
        5 => match int32_width(data_type) {
            Some(0) => c.put6(v),
            Some(w) => c.put(&bytes[..w]),
            None => {}
        },
        11 if data_type == 12 => c.put(&bytes[..4]),
        _ => c.put(&bytes),
    }
}

/// Streams canonical bytes into SHA-256, with a small buffer for element-wise conversions.
struct Canon {
    h: Sha256,
    buf: Vec<u8>,
    bytes: u64,
    acc: u32,
    nbits: u32,
}

impl Canon {
    fn new() -> Self {
        Self {
            h: Sha256::new(),
            buf: Vec::with_capacity(8192),
            bytes: 0,
            acc: 0,
            nbits: 0,
        }
    }

    fn flush(&mut self) {
        if !self.buf.is_empty() {
            self.h.update(&self.buf);
            self.buf.clear();
        }
    }

    fn raw(&mut self, data: &[u8]) {
        self.flush();
        self.h.update(data);
        self.bytes += data.len() as u64;
    }

    fn put(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
        self.bytes += data.len() as u64;
        if self.buf.len() >= 8192 {
            self.flush();
        }
    }

    /// Appends a 6-bit element to the LSB-first bitstream of FLOAT6 types.
    fn put6(&mut self, v: u64) {
        self.acc |= ((v & 0x3f) as u32) << self.nbits;
        self.nbits += 6;
        while self.nbits >= 8 {
            let b = self.acc as u8;
            self.put(&[b]);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }

    fn finish(mut self) -> ([u8; 32], u64) {
        if self.nbits > 0 {
            let b = self.acc as u8;
            self.put(&[b]);
        }
        self.flush();
        (self.h.finalize().into(), self.bytes)
    }
}
