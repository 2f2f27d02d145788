//! Inference request parsing: the JSON header and Triton's binary tensor data after it.

use std::collections::HashSet;

use imo_oracle::tensor::{DataType, Tensor, TensorData, element_count};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::OipError;

/// A parsed inference request: validated input tensors and the outputs asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct InferRequest {
    pub id: Option<String>,
    pub inputs: Vec<Tensor>,
    /// The outputs listed in the request, in request order; empty means "all outputs".
    pub outputs: Vec<RequestedOutput>,
    /// Request-level `parameters.binary_data_output` (default false).
    pub binary_data_output: bool,
}

/// One entry of the request's `outputs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedOutput {
    pub name: String,
    /// The output's `parameters.binary_data`, when given.
    pub binary_data: Option<bool>,
}

/// Triton's rule for whether an output goes back as binary data: the output's own
/// `binary_data` parameter when the request lists it with one, else the request-level
/// `binary_data_output`, else JSON.
pub fn wants_binary(req: &InferRequest, output_name: &str) -> bool {
    req.outputs
        .iter()
        .find(|o| o.name == output_name)
        .and_then(|o| o.binary_data)
        .unwrap_or(req.binary_data_output)
}

#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(borrow)]
    inputs: Vec<RawInput<'a>>,
    #[serde(default)]
    outputs: Option<Vec<RawOutput>>,
}

#[derive(Deserialize)]
struct RawInput<'a> {
    name: String,
    shape: Vec<Value>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawOutput {
    name: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
}

/// A non-negative JSON integer, also when written with a zero fraction (`512.0`), as JSON
/// Schema counts it.
fn json_u64(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 18_446_744_073_709_551_616.0)
            .map(|f| f as u64)
    })
}

fn bad(msg: impl Into<String>) -> OipError {
    OipError::BadRequest(msg.into())
}

/// Parses an inference request body. `inference_header_len` is the value of the
/// `Inference-Header-Content-Length` header: the JSON is `body[..len]`, the rest is binary tensor
/// data, consumed in input order by the inputs that carry `parameters.binary_data_size`; every
/// byte must be claimed. Without the header the whole body is JSON.
pub fn parse_infer_request(
    body: &[u8],
    inference_header_len: Option<usize>,
) -> Result<InferRequest, OipError> {
    let (json, binary) = match inference_header_len {
        Some(len) if len > body.len() => {
            return Err(bad(format!(
                "Inference-Header-Content-Length {len} exceeds the body length {}",
                body.len()
            )));
        }
        Some(len) => body.split_at(len),
        None => (body, &[][..]),
    };
    let quoted = quote_non_finite(json);
    let json = quoted.as_deref().unwrap_or(json);
    let raw: RawRequest<'_> = serde_json::from_slice(json)
        .map_err(|e| bad(format!("malformed inference request JSON: {e}")))?;

    let binary_data_output = match raw
        .parameters
        .as_ref()
        .and_then(|p| p.get("binary_data_output"))
    {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad(format!(
                "parameter `binary_data_output` must be a boolean, got {other}"
            )));
        }
    };

    let mut seen = HashSet::new();
    let mut rest = binary;
    let mut inputs = Vec::with_capacity(raw.inputs.len());
    for input in raw.inputs {
        if !seen.insert(input.name.clone()) {
            return Err(bad(format!(
                "input `{}` appears more than once",
                input.name
            )));
        }
        inputs.push(parse_input(
            input,
            &mut rest,
            inference_header_len.is_some(),
        )?);
    }
    if !rest.is_empty() {
        return Err(bad(format!(
            "{} bytes of binary tensor data are not claimed by any input's binary_data_size",
            rest.len()
        )));
    }

    let mut outputs = Vec::new();
    let mut seen = HashSet::new();
    for o in raw.outputs.unwrap_or_default() {
        if !seen.insert(o.name.clone()) {
            return Err(bad(format!(
                "output `{}` is requested more than once",
                o.name
            )));
        }
        let params = o.parameters.unwrap_or_default();
        if params.contains_key("classification") {
            return Err(bad(format!(
                "output `{}`: the classification extension is not supported",
                o.name
            )));
        }
        if params.contains_key("shared_memory_region") {
            return Err(bad(format!(
                "output `{}`: shared memory is not supported",
                o.name
            )));
        }
        let binary_data = match params.get("binary_data") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                return Err(bad(format!(
                    "output `{}`: parameter `binary_data` must be a boolean, got {other}",
                    o.name
                )));
            }
        };
        outputs.push(RequestedOutput {
            name: o.name,
            binary_data,
        });
    }

    Ok(InferRequest {
        id: raw.id,
        inputs,
        outputs,
        binary_data_output,
    })
}

/// An input's `datatype` (HTTP and gRPC alike); the error names the input.
pub fn input_datatype(name: &str, datatype: &str) -> Result<DataType, String> {
    DataType::parse(datatype)
        .ok_or_else(|| format!("input `{name}`: unsupported datatype `{datatype}`"))
}

fn parse_input(
    input: RawInput<'_>,
    rest: &mut &[u8],
    has_header: bool,
) -> Result<Tensor, OipError> {
    let name = input.name;
    let datatype = input_datatype(&name, &input.datatype).map_err(bad)?;
    let shape = input
        .shape
        .iter()
        .map(|d| {
            json_u64(d).ok_or_else(|| {
                bad(format!(
                    "input `{name}`: shape dimensions must be non-negative integers, got {d}"
                ))
            })
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let count = element_count(&shape)
        .ok_or_else(|| bad(format!("input `{name}`: shape {shape:?} is too large")))?;
    let params = input.parameters.unwrap_or_default();
    if params.contains_key("shared_memory_region") {
        return Err(bad(format!(
            "input `{name}`: shared memory is not supported"
        )));
    }
    let binary_size = match params.get("binary_data_size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(json_u64(v).ok_or_else(|| {
            bad(format!("input `{name}`: parameter `binary_data_size` must be a non-negative integer, got {v}"))
        })?),
    };

    let data = match (binary_size, input.data) {
        (Some(_), Some(_)) => {
            return Err(bad(format!(
                "input `{name}`: has both `data` and parameter `binary_data_size`"
            )));
        }
        (None, None) => {
            return Err(bad(format!(
                "input `{name}`: has neither `data` nor binary data"
            )));
        }
        (Some(size), None) => {
            if size > rest.len() as u64 {
                let why = if has_header {
                    ""
                } else {
                    " (no Inference-Header-Content-Length header was sent)"
                };
                return Err(bad(format!(
                    "input `{name}`: binary_data_size {size} exceeds the {} bytes of binary data left{why}",
                    rest.len()
                )));
            }
            let (mine, tail) = rest.split_at(size as usize);
            *rest = tail;
            decode_binary(&name, datatype, count, mine)?
        }
        (None, Some(raw)) => decode_json(&name, datatype, count, raw)?,
    };
    Tensor::new(name, datatype, shape, data).map_err(|e| bad(e.to_string()))
}

/// Decodes one input's binary data: fixed-size types are little-endian, BOOL one byte 0/1,
/// BYTES a 4-byte little-endian length before each element.
pub fn decode_binary(
    name: &str,
    datatype: DataType,
    count: u64,
    bytes: &[u8],
) -> Result<TensorData, OipError> {
    match datatype.size() {
        Some(size) => {
            let want = count.checked_mul(size as u64);
            if want != Some(bytes.len() as u64) {
                return Err(bad(format!(
                    "input `{name}`: {count} {} elements need {} bytes of binary data, binary_data_size is {}",
                    datatype.as_str(),
                    want.map(|w| w.to_string())
                        .unwrap_or_else(|| "too many".into()),
                    bytes.len()
                )));
            }
            if datatype == DataType::Bool
                && let Some(i) = bytes.iter().position(|&b| b > 1)
            {
                return Err(bad(format!(
                    "input `{name}`: BOOL element {i} is byte {}, not 0 or 1",
                    bytes[i]
                )));
            }
            Ok(TensorData::Fixed(bytes.to_vec()))
        }
        None => {
            let mut items = Vec::new();
            let mut at = 0usize;
            while at < bytes.len() {
                if items.len() as u64 == count {
                    return Err(bad(format!(
                        "input `{name}`: {} bytes of BYTES binary data left after the {count} elements of the shape",
                        bytes.len() - at
                    )));
                }
                let Some(len_bytes) = bytes.get(at..at + 4) else {
                    return Err(bad(format!(
                        "input `{name}`: BYTES element {} has a truncated 4-byte length prefix",
                        items.len()
                    )));
                };
                let len = u32::from_le_bytes(len_bytes.try_into().expect("4 bytes")) as usize;
                at += 4;
                let Some(item) = bytes.get(at..).and_then(|b| b.get(..len)) else {
                    return Err(bad(format!(
                        "input `{name}`: BYTES element {} declares {len} bytes, only {} left",
                        items.len(),
                        bytes.len() - at
                    )));
                };
                items.push(item.to_vec());
                at += len;
            }
            if items.len() as u64 != count {
                return Err(bad(format!(
                    "input `{name}`: shape needs {count} BYTES elements, binary data holds {}",
                    items.len()
                )));
            }
            Ok(TensorData::Bytes(items))
        }
    }
}

/// Deepest nesting of `data` arrays accepted (ONNX tensors have far fewer dimensions).
pub const MAX_DATA_DEPTH: usize = 64;

/// The prefix that marks a non-finite float literal (`NaN`, `Infinity`, `-Infinity`) after
/// [`quote_non_finite`] turned it into a JSON string: a NUL cannot start a number.
const NON_FINITE: &str = "\"\\u0000";

/// Flattens nested JSON arrays row-major into their scalar elements (as raw text), without
/// recursion: one pass over the (already validated) JSON text, tracking the array depth.
fn flatten<'a>(name: &str, text: &'a str) -> Result<Vec<&'a str>, OipError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'[' => {
                depth += 1;
                if depth > MAX_DATA_DEPTH {
                    return Err(bad(format!(
                        "input `{name}`: `data` is nested deeper than {MAX_DATA_DEPTH} arrays"
                    )));
                }
                i += 1;
            }
            b']' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b',' | b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                let end = value_end(b, i);
                out.push(&text[i..end]);
                i = end;
            }
        }
    }
    Ok(out)
}

/// The end of the JSON value starting at `i` in valid JSON text: past a string's closing
/// quote, an object's closing brace, or a literal's last character.
fn value_end(b: &[u8], mut i: usize) -> usize {
    match b[i] {
        b'"' => string_end(b, i),
        b'{' => {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            i
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                i += 1;
            }
            i
        }
    }
}

/// The index just past the string that starts with the quote at `i`.
fn string_end(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Python's `json` (and so tritonclient in JSON mode) writes non-finite floats as the bare
/// literals `NaN`, `Infinity` and `-Infinity`, which strict JSON has no room for. Outside of
/// strings, each becomes the string `"\u0000NaN"` (…), which the float decoders read back as
/// the value; nothing else accepts it. Returns `None` (no copy) when there is none.
pub fn quote_non_finite(json: &[u8]) -> Option<Vec<u8>> {
    const WORDS: [&[u8]; 3] = [b"-Infinity", b"Infinity", b"NaN"];
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => i = string_end(json, i),
            b'N' | b'I' | b'-' => {
                let boundary = i == 0 || !json[i - 1].is_ascii_alphanumeric();
                let word = WORDS.iter().find(|w| json[i..].starts_with(w));
                match word {
                    Some(w)
                        if boundary
                            && json
                                .get(i + w.len())
                                .is_none_or(|n| !n.is_ascii_alphanumeric()) =>
                    {
                        let o = out.get_or_insert_with(|| Vec::with_capacity(json.len() + 64));
                        o.extend_from_slice(&json[copied..i]);
                        o.extend_from_slice(NON_FINITE.as_bytes());
                        o.extend_from_slice(w);
                        o.push(b'"');
                        i += w.len();
                        copied = i;
                    }
                    _ => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    out.map(|mut o| {
        o.extend_from_slice(&json[copied..]);
        o
    })
}

/// A non-finite literal that [`quote_non_finite`] quoted, as an `f64`.
fn non_finite(text: &str) -> Option<f64> {
    let word = text.strip_prefix(NON_FINITE)?.strip_suffix('"')?;
    match word {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn decode_json(
    name: &str,
    datatype: DataType,
    count: u64,
    raw: &RawValue,
) -> Result<TensorData, OipError> {
    if !raw.get().trim_start().starts_with('[') {
        return Err(bad(format!("input `{name}`: `data` must be an array")));
    }
    let elems = flatten(name, raw.get())?;
    if elems.len() as u64 != count {
        return Err(bad(format!(
            "input `{name}`: shape needs {count} elements, `data` holds {}",
            elems.len()
        )));
    }
    let elem_err = |i: usize, what: &str, text: &str| {
        bad(format!(
            "input `{name}`: element {i}: {what} for {}, got {text}",
            datatype.as_str()
        ))
    };
    if datatype == DataType::Bytes {
        let mut items = Vec::with_capacity(elems.len());
        for (i, e) in elems.iter().enumerate() {
            let text = e.trim();
            if !text.starts_with('"') || non_finite(text).is_some() {
                return Err(elem_err(i, "expected a string", text));
            }
            let s: String =
                serde_json::from_str(text).map_err(|err| elem_err(i, &err.to_string(), text))?;
            items.push(s.into_bytes());
        }
        return Ok(TensorData::Bytes(items));
    }
    let size = datatype.size().expect("fixed-size type");
    let mut out = Vec::with_capacity(elems.len() * size);
    for (i, e) in elems.iter().enumerate() {
        let text = e.trim();
        if datatype == DataType::Bool {
            match text {
                "true" => out.push(1),
                "false" => out.push(0),
                _ => return Err(elem_err(i, "expected true or false", text)),
            }
            continue;
        }
        if let Some(v) = non_finite(text) {
            match datatype {
                DataType::Fp16 => out.extend_from_slice(&half::f16::from_f64(v).to_le_bytes()),
                DataType::Fp32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
                DataType::Fp64 => out.extend_from_slice(&v.to_le_bytes()),
                _ => {
                    return Err(elem_err(
                        i,
                        "expected a number",
                        text.trim_start_matches(NON_FINITE).trim_end_matches('"'),
                    ));
                }
            }
            continue;
        }
        if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Err(elem_err(i, "expected a number", text));
        }
        let is_integer = !text.contains(['.', 'e', 'E']);
        match datatype {
            // Each parsed straight from the decimal text: one correct rounding.
            DataType::Fp16 | DataType::Fp64 => {
                let v: f64 = text
                    .parse()
                    .map_err(|_| elem_err(i, "expected a number", text))?;
                let finite = if datatype == DataType::Fp16 {
                    let h = half::f16::from_f64(v);
                    out.extend_from_slice(&h.to_le_bytes());
                    h.is_finite()
                } else {
                    out.extend_from_slice(&v.to_le_bytes());
                    v.is_finite()
                };
                if !finite {
                    return Err(elem_err(i, "value out of range", text));
                }
            }
            DataType::Fp32 => {
                let f: f32 = text
                    .parse()
                    .map_err(|_| elem_err(i, "expected a number", text))?;
                if !f.is_finite() {
                    return Err(elem_err(i, "value out of range", text));
                }
                out.extend_from_slice(&f.to_le_bytes());
            }
            _ => {
                if !is_integer {
                    return Err(elem_err(i, "expected an integer", text));
                }
                let v: i128 = text
                    .parse()
                    .map_err(|_| elem_err(i, "value out of range", text))?;
                let range = || elem_err(i, "value out of range", text);
                match datatype {
                    DataType::Int8 => {
                        out.extend_from_slice(&i8::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    DataType::Int16 => {
                        out.extend_from_slice(&i16::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    DataType::Int32 => {
                        out.extend_from_slice(&i32::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    DataType::Int64 => {
                        out.extend_from_slice(&i64::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    DataType::Uint8 => {
                        out.extend_from_slice(&u8::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    DataType::Uint16 => {
                        out.extend_from_slice(&u16::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    DataType::Uint32 => {
                        out.extend_from_slice(&u32::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    DataType::Uint64 => {
                        out.extend_from_slice(&u64::try_from(v).map_err(|_| range())?.to_le_bytes())
                    }
                    _ => unreachable!("handled above"),
                }
            }
        }
    }
    Ok(TensorData::Fixed(out))
}
