use imo_oracle::tensor::{DataType, Tensor, TensorData};
use serde_json::{Map, Value, json};

use super::*;

fn fixed<T: Copy, const N: usize>(v: &[T], f: fn(T) -> [u8; N]) -> TensorData {
    TensorData::Fixed(v.iter().flat_map(|&x| f(x)).collect())
}

fn t(name: &str, dt: DataType, shape: Vec<u64>, data: TensorData) -> Tensor {
    Tensor::new(name, dt, shape, data).unwrap()
}

/// One tensor per datatype, with the awkward values of each.
fn samples() -> Vec<Tensor> {
    use DataType::*;
    let h = |v: &[f32]| {
        fixed(
            &v.iter()
                .map(|&x| half::f16::from_f32(x))
                .collect::<Vec<_>>(),
            half::f16::to_le_bytes,
        )
    };
    vec![
        t(
            "bool",
            Bool,
            vec![2, 2],
            TensorData::Fixed(vec![1, 0, 0, 1]),
        ),
        t(
            "i8",
            Int8,
            vec![3],
            fixed(&[i8::MIN, -1, i8::MAX], i8::to_le_bytes),
        ),
        t(
            "i16",
            Int16,
            vec![3],
            fixed(&[i16::MIN, 0, i16::MAX], i16::to_le_bytes),
        ),
        t(
            "i32",
            Int32,
            vec![3],
            fixed(&[i32::MIN, 7, i32::MAX], i32::to_le_bytes),
        ),
        t(
            "i64",
            Int64,
            vec![3],
            fixed(&[i64::MIN, -(1 << 40), i64::MAX], i64::to_le_bytes),
        ),
        t("u8", Uint8, vec![2], fixed(&[0u8, 255], u8::to_le_bytes)),
        t(
            "u16",
            Uint16,
            vec![2],
            fixed(&[0u16, 65535], u16::to_le_bytes),
        ),
        t(
            "u32",
            Uint32,
            vec![2],
            fixed(&[0u32, u32::MAX], u32::to_le_bytes),
        ),
        t(
            "u64",
            Uint64,
            vec![3],
            fixed(&[0u64, (1 << 63) + 5, u64::MAX], u64::to_le_bytes),
        ),
        t(
            "f16",
            Fp16,
            vec![6],
            h(&[1.5, -0.25, 65504.0, 5.960_464_5e-8, -0.0, 0.1]),
        ),
        t(
            "f32",
            Fp32,
            vec![2, 4],
            fixed(
                &[
                    0.1f32,
                    -2.0,
                    1e-45,
                    f32::MAX,
                    f32::MIN_POSITIVE,
                    -0.0,
                    3.25,
                    -1.0e-3,
                ],
                f32::to_le_bytes,
            ),
        ),
        t(
            "f64",
            Fp64,
            vec![6],
            fixed(
                &[0.1f64, 5e-324, f64::MAX, -7.125, 2.5e100, 1.0 / 3.0],
                f64::to_le_bytes,
            ),
        ),
        t(
            "bytes",
            Bytes,
            vec![1, 4],
            TensorData::Bytes(vec![
                b"hello".to_vec(),
                "w\u{f6}rld".as_bytes().to_vec(),
                vec![],
                b"q\"\\\n\x00".to_vec(),
            ]),
        ),
    ]
}

/// Splits an encoded response into its JSON and binary part.
fn split(body: &[u8], header: Option<usize>) -> (Value, &[u8]) {
    let n = header.unwrap_or(body.len());
    (serde_json::from_slice(&body[..n]).unwrap(), &body[n..])
}

/// Encodes `tensor` as a response output, turns that output into a request input and parses it.
/// The output's JSON text is spliced in verbatim (a `serde_json::Value` would re-round floats).
fn roundtrip(tensor: &Tensor, binary: bool) -> Tensor {
    #[derive(serde::Deserialize)]
    struct Outputs<'a> {
        #[serde(borrow)]
        outputs: Vec<&'a serde_json::value::RawValue>,
    }
    let resp = InferResponse {
        model_name: "m".into(),
        model_version: None,
        id: None,
        parameters: Map::new(),
        outputs: vec![(tensor.clone(), binary)],
    };
    let (body, header) = encode_infer_response(&resp);
    assert_eq!(header.is_some(), binary, "{}", tensor.name());
    let n = header.unwrap_or(body.len());
    let (json, bin) = body.split_at(n);
    let out: Outputs<'_> = serde_json::from_slice(json).unwrap();
    let input = out.outputs[0].get();
    let (value, _) = split(&body, header);
    if binary {
        assert!(value["outputs"][0].get("data").is_none());
        assert_eq!(
            value["outputs"][0]["parameters"]["binary_data_size"],
            json!(bin.len())
        );
    }
    let mut req_body = format!(r#"{{"inputs":[{input}]}}"#).into_bytes();
    let len = req_body.len();
    req_body.extend_from_slice(bin);
    let parsed = parse_infer_request(&req_body, binary.then_some(len)).unwrap();
    assert_eq!(parsed.inputs.len(), 1);
    parsed.inputs.into_iter().next().unwrap()
}

#[test]
fn every_dtype_round_trips_json_and_binary() {
    for s in samples() {
        assert_eq!(roundtrip(&s, false), s, "json {}", s.name());
        assert_eq!(roundtrip(&s, true), s, "binary {}", s.name());
    }
    assert_eq!(samples().len(), DataType::ALL.len());
}

#[test]
fn random_floats_round_trip_bit_exact_through_json() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let f64s: Vec<f64> = (0..20000)
        .map(|_| f64::from_bits(next()))
        .filter(|v| v.is_finite())
        .collect();
    let f32s: Vec<f32> = (0..20000)
        .map(|_| f32::from_bits(next() as u32))
        .filter(|v| v.is_finite())
        .collect();
    let f16s: Vec<half::f16> = (0..=u16::MAX)
        .map(half::f16::from_bits)
        .filter(|v| v.is_finite())
        .collect();
    for tensor in [
        t(
            "a",
            DataType::Fp64,
            vec![f64s.len() as u64],
            fixed(&f64s, f64::to_le_bytes),
        ),
        t(
            "b",
            DataType::Fp32,
            vec![f32s.len() as u64],
            fixed(&f32s, f32::to_le_bytes),
        ),
        t(
            "c",
            DataType::Fp16,
            vec![f16s.len() as u64],
            fixed(&f16s, half::f16::to_le_bytes),
        ),
    ] {
        let back = roundtrip(&tensor, false);
        let (TensorData::Fixed(a), TensorData::Fixed(b)) = (back.data(), tensor.data()) else {
            unreachable!()
        };
        let size = tensor.datatype().size().unwrap();
        let first_diff = a.chunks(size).zip(b.chunks(size)).position(|(x, y)| x != y);
        assert_eq!(first_diff, None, "{}", tensor.name());
        assert_eq!(back, tensor);
    }
}

#[test]
fn json_data_may_be_nested_or_flat() {
    let flat =
        br#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"INT32","data":[1,2,3,4,5,6]}]}"#;
    let nested =
        br#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"INT32","data":[[1,2,3],[4, 5, 6]]}]}"#;
    let deep = br#"{"inputs":[{"name":"x","shape":[2,3],"datatype":"INT32","data":[[[1],[2,3]],[[4,5,6]]]}]}"#;
    let a = parse_infer_request(flat, None).unwrap();
    assert_eq!(a, parse_infer_request(nested, None).unwrap());
    assert_eq!(a, parse_infer_request(deep, None).unwrap());
    let want = t(
        "x",
        DataType::Int32,
        vec![2, 3],
        fixed(&[1i32, 2, 3, 4, 5, 6], i32::to_le_bytes),
    );
    assert_eq!(a.inputs, vec![want]);
}

#[test]
fn json_output_layout() {
    let resp = InferResponse {
        model_name: "m".into(),
        model_version: Some("1".into()),
        id: Some("r".into()),
        parameters: [("k".to_string(), json!("v"))].into_iter().collect(),
        outputs: vec![
            (
                t(
                    "f",
                    DataType::Fp32,
                    vec![1, 2],
                    fixed(&[0.1f32, -2.0], f32::to_le_bytes),
                ),
                false,
            ),
            (
                t(
                    "h",
                    DataType::Fp16,
                    vec![1],
                    fixed(&[half::f16::from_f32(0.1)], half::f16::to_le_bytes),
                ),
                false,
            ),
            (
                t("b", DataType::Bool, vec![2], TensorData::Fixed(vec![1, 0])),
                false,
            ),
            (
                t(
                    "s",
                    DataType::Bytes,
                    vec![1],
                    TensorData::Bytes(vec!["w\u{f6}".as_bytes().to_vec()]),
                ),
                false,
            ),
            (
                t(
                    "u",
                    DataType::Uint64,
                    vec![1],
                    fixed(&[u64::MAX], u64::to_le_bytes),
                ),
                false,
            ),
        ],
    };
    let (body, header) = encode_infer_response(&resp);
    assert_eq!(header, None);
    assert_eq!(
        std::str::from_utf8(&body).unwrap(),
        concat!(
            r#"{"model_name":"m","model_version":"1","id":"r","parameters":{"k":"v"},"outputs":["#,
            r#"{"name":"f","datatype":"FP32","shape":[1,2],"data":[0.10000000149011612,-2.0]},"#,
            r#"{"name":"h","datatype":"FP16","shape":[1],"data":[0.0999755859375]},"#,
            r#"{"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]},"#,
            "{\"name\":\"s\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"w\u{f6}\"]},",
            r#"{"name":"u","datatype":"UINT64","shape":[1],"data":[18446744073709551615]}]}"#
        )
    );
}

/// The bytes below are what `tritonclient.http` 2.73.0 sends (`_get_inference_request`) for
/// binary BYTES `[b"ab", b""]`, binary BOOL `[[True, False]]`, JSON FP16 `[1.5, -0.25]`,
/// binary FP32 `[0.1, -2]`, JSON BYTES `["wö", "x"]` and outputs `y` (JSON) and `z` (binary).
#[test]
fn parses_what_tritonclient_sends() {
    let mut body = br#"{"id":"req-1","inputs":[{"name":"s","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":10}},{"name":"b","shape":[1,2],"datatype":"BOOL","parameters":{"binary_data_size":2}},{"name":"h","shape":[2],"datatype":"FP16","data":[1.5,-0.25]},{"name":"f","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}},{"name":"t","shape":[2],"datatype":"BYTES","data":["w\u00F6","x"]}],"outputs":[{"name":"y","parameters":{"binary_data":false}},{"name":"z","parameters":{"binary_data":true}}]}"#.to_vec();
    assert_eq!(body.len(), 502);
    body.extend_from_slice(
        b"\x02\x00\x00\x00ab\x00\x00\x00\x00\x01\x00\xcd\xcc\xcc=\x00\x00\x00\xc0",
    );
    let req = parse_infer_request(&body, Some(502)).unwrap();
    assert_eq!(req.id.as_deref(), Some("req-1"));
    assert_eq!(
        req.inputs,
        vec![
            t(
                "s",
                DataType::Bytes,
                vec![2],
                TensorData::Bytes(vec![b"ab".to_vec(), vec![]])
            ),
            t(
                "b",
                DataType::Bool,
                vec![1, 2],
                TensorData::Fixed(vec![1, 0])
            ),
            t(
                "h",
                DataType::Fp16,
                vec![2],
                fixed(
                    &[half::f16::from_f32(1.5), half::f16::from_f32(-0.25)],
                    half::f16::to_le_bytes
                )
            ),
            t(
                "f",
                DataType::Fp32,
                vec![2],
                fixed(&[0.1f32, -2.0], f32::to_le_bytes)
            ),
            t(
                "t",
                DataType::Bytes,
                vec![2],
                TensorData::Bytes(vec!["w\u{f6}".as_bytes().to_vec(), b"x".to_vec()])
            ),
        ]
    );
    assert_eq!(
        req.outputs,
        vec![
            RequestedOutput {
                name: "y".into(),
                binary_data: Some(false)
            },
            RequestedOutput {
                name: "z".into(),
                binary_data: Some(true)
            },
        ]
    );
    assert!(!req.binary_data_output);
    assert!(!wants_binary(&req, "y"));
    assert!(wants_binary(&req, "z"));
    assert!(!wants_binary(&req, "other"));

    // No outputs listed: tritonclient asks for everything binary at request level.
    let body = br#"{"inputs":[{"name":"h","shape":[2],"datatype":"FP16","data":[1.5,-0.25]}],"parameters":{"binary_data_output":true}}"#;
    let req = parse_infer_request(body, None).unwrap();
    assert!(req.binary_data_output && req.outputs.is_empty());
    assert!(wants_binary(&req, "anything"));
}

#[test]
fn wants_binary_rules() {
    let mut req = InferRequest {
        id: None,
        inputs: vec![],
        outputs: vec![
            RequestedOutput {
                name: "a".into(),
                binary_data: Some(false),
            },
            RequestedOutput {
                name: "b".into(),
                binary_data: None,
            },
            RequestedOutput {
                name: "c".into(),
                binary_data: Some(true),
            },
        ],
        binary_data_output: true,
    };
    assert!(!wants_binary(&req, "a"));
    assert!(wants_binary(&req, "b"));
    assert!(wants_binary(&req, "c"));
    req.binary_data_output = false;
    assert!(!wants_binary(&req, "b"));
    assert!(wants_binary(&req, "c"));
}

/// Byte-exact binary response; `tritonclient.http.InferResult.from_response_body(body, False,
/// 327)` decodes it to `s = [b"ab", b""]`, `b = [[True, False]]`, `f = [0.1, -2.0]` (float32)
/// and JSON `i = [-3]`.
#[test]
fn binary_output_layout() {
    let resp = InferResponse {
        model_name: "m".into(),
        model_version: None,
        id: None,
        parameters: Map::new(),
        outputs: vec![
            (
                t(
                    "s",
                    DataType::Bytes,
                    vec![2],
                    TensorData::Bytes(vec![b"ab".to_vec(), vec![]]),
                ),
                true,
            ),
            (
                t(
                    "b",
                    DataType::Bool,
                    vec![1, 2],
                    TensorData::Fixed(vec![1, 0]),
                ),
                true,
            ),
            (
                t(
                    "i",
                    DataType::Int32,
                    vec![1],
                    fixed(&[-3i32], i32::to_le_bytes),
                ),
                false,
            ),
            (
                t(
                    "f",
                    DataType::Fp32,
                    vec![2],
                    fixed(&[0.1f32, -2.0], f32::to_le_bytes),
                ),
                true,
            ),
        ],
    };
    let (body, header) = encode_infer_response(&resp);
    let json = concat!(
        r#"{"model_name":"m","outputs":["#,
        r#"{"name":"s","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":10}},"#,
        r#"{"name":"b","datatype":"BOOL","shape":[1,2],"parameters":{"binary_data_size":2}},"#,
        r#"{"name":"i","datatype":"INT32","shape":[1],"data":[-3]},"#,
        r#"{"name":"f","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}"#
    );
    assert_eq!(header, Some(json.len()));
    assert_eq!(json.len(), 327);
    let mut want = json.as_bytes().to_vec();
    want.extend_from_slice(
        b"\x02\x00\x00\x00ab\x00\x00\x00\x00\x01\x00\xcd\xcc\xcc=\x00\x00\x00\xc0",
    );
    assert_eq!(body, want);
}

#[test]
fn non_finite_floats_and_non_utf8_bytes_go_binary() {
    let cases = [
        t(
            "a",
            DataType::Fp32,
            vec![3],
            fixed(&[1.0f32, f32::NAN, 2.0], f32::to_le_bytes),
        ),
        t(
            "b",
            DataType::Fp64,
            vec![1],
            fixed(&[f64::NEG_INFINITY], f64::to_le_bytes),
        ),
        t(
            "c",
            DataType::Fp16,
            vec![1],
            fixed(&[half::f16::INFINITY], half::f16::to_le_bytes),
        ),
        // A NaN with a payload survives bit for bit.
        t(
            "d",
            DataType::Fp32,
            vec![1],
            fixed(&[f32::from_bits(0x7fc0_1234)], f32::to_le_bytes),
        ),
        t(
            "e",
            DataType::Bytes,
            vec![2],
            TensorData::Bytes(vec![b"ok".to_vec(), vec![0xff, 0xfe]]),
        ),
    ];
    for c in cases {
        assert!(needs_binary(&c), "{}", c.name());
        let resp = InferResponse {
            model_name: "m".into(),
            model_version: None,
            id: None,
            parameters: Map::new(),
            outputs: vec![(c.clone(), false)],
        };
        let (body, header) = encode_infer_response(&resp);
        let (json, bin) = split(&body, header);
        assert!(header.is_some(), "{}", c.name());
        assert_eq!(
            json["outputs"][0]["parameters"]["binary_data_size"],
            json!(bin.len())
        );
        assert!(json["outputs"][0].get("data").is_none());
        assert_eq!(roundtrip(&c, true), c);
    }
    assert!(!needs_binary(&samples()[10]));
}

fn err(body: &str, header: Option<usize>) -> String {
    let e = parse_infer_request(body.as_bytes(), header).unwrap_err();
    assert_eq!(e.status(), actix_web::http::StatusCode::BAD_REQUEST);
    assert_eq!(e.body().error, e.message());
    e.message()
}

fn one(name: &str, dt: &str, shape: &str, data: &str) -> String {
    format!(r#"{{"inputs":[{{"name":"{name}","shape":{shape},"datatype":"{dt}","data":{data}}}]}}"#)
}

fn has(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "`{msg}` lacks `{p}`");
    }
}

#[test]
fn json_data_errors() {
    has(
        &err(&one("x", "INT32", "[2,2]", "[1,2,3]"), None),
        &["`x`", "4 elements", "holds 3"],
    );
    has(
        &err(&one("x", "INT32", "[2]", "[[1,2],[3]]"), None),
        &["`x`", "2 elements", "holds 3"],
    );
    has(
        &err(&one("x", "INT8", "[1]", "[128]"), None),
        &["`x`", "out of range", "INT8", "128"],
    );
    has(
        &err(&one("x", "UINT8", "[1]", "[-1]"), None),
        &["out of range"],
    );
    has(
        &err(&one("x", "UINT64", "[1]", "[18446744073709551616]"), None),
        &["out of range"],
    );
    has(
        &err(&one("x", "INT64", "[1]", "[-9223372036854775809]"), None),
        &["out of range"],
    );
    has(
        &err(&one("x", "INT64", "[1]", "[1e400]"), None),
        &["expected an integer"],
    );
    has(
        &err(&one("x", "INT32", "[1]", "[1.5]"), None),
        &["`x`", "element 0", "expected an integer", "1.5"],
    );
    has(
        &err(&one("x", "INT32", "[1]", "[1.0]"), None),
        &["expected an integer"],
    );
    has(
        &err(&one("x", "INT32", "[1]", r#"["1"]"#), None),
        &["expected a number"],
    );
    has(
        &err(&one("x", "FP32", "[1]", "[true]"), None),
        &["expected a number"],
    );
    has(
        &err(&one("x", "FP32", "[1]", "[1e39]"), None),
        &["out of range", "FP32"],
    );
    has(
        &err(&one("x", "FP16", "[1]", "[70000]"), None),
        &["out of range", "FP16"],
    );
    has(
        &err(&one("x", "FP64", "[1]", "[1e400]"), None),
        &["out of range", "FP64"],
    );
    has(
        &err(&one("x", "BOOL", "[1]", "[1]"), None),
        &["`x`", "true or false"],
    );
    has(
        &err(&one("x", "BYTES", "[1]", "[1]"), None),
        &["`x`", "expected a string"],
    );
    has(
        &err(&one("x", "INT32", "[1]", "5"), None),
        &["`x`", "must be an array"],
    );
    has(
        &err(&one("x", "BF16", "[1]", "[1]"), None),
        &["`x`", "unsupported datatype `BF16`"],
    );
    has(
        &err(&one("x", "INT32", "[-1]", "[1]"), None),
        &["`x`", "non-negative integers", "-1"],
    );
    has(
        &err(&one("x", "INT32", "[1.5]", "[1]"), None),
        &["non-negative integers"],
    );
    // An element of shape [0] is fine and empty.
    assert!(parse_infer_request(one("x", "FP32", "[0,3]", "[]").as_bytes(), None).is_ok());
}

#[test]
fn structural_errors() {
    has(
        &err("{\"inputs\": [", None),
        &["malformed inference request JSON", "EOF"],
    );
    has(&err("{}", None), &["missing field `inputs`"]);
    let dup = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[1]},{"name":"x","shape":[1],"datatype":"INT8","data":[2]}]}"#;
    has(&err(dup, None), &["`x`", "more than once"]);
    let dup_out = r#"{"inputs":[],"outputs":[{"name":"y"},{"name":"y"}]}"#;
    has(&err(dup_out, None), &["`y`", "more than once"]);
    let bad_flag = r#"{"inputs":[],"outputs":[{"name":"y","parameters":{"binary_data":1}}]}"#;
    has(&err(bad_flag, None), &["`y`", "binary_data", "boolean"]);
    let bad_req_flag = r#"{"inputs":[],"parameters":{"binary_data_output":"yes"}}"#;
    has(&err(bad_req_flag, None), &["binary_data_output", "boolean"]);
    let classification =
        r#"{"inputs":[],"outputs":[{"name":"y","parameters":{"classification":2}}]}"#;
    has(&err(classification, None), &["classification"]);
    let no_data = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8"}]}"#;
    has(&err(no_data, None), &["`x`", "neither"]);
}

fn bin_req(inputs: &[(&str, &str, &str, usize)], tail: &[u8]) -> (Vec<u8>, usize) {
    let inputs: Vec<Value> = inputs
        .iter()
        .map(|(n, dt, shape, size)| {
            let shape: Value = serde_json::from_str(shape).unwrap();
            json!({"name": n, "datatype": dt, "shape": shape, "parameters": {"binary_data_size": size}})
        })
        .collect();
    let mut body = serde_json::to_vec(&json!({ "inputs": inputs })).unwrap();
    let len = body.len();
    body.extend_from_slice(tail);
    (body, len)
}

fn bin_err(inputs: &[(&str, &str, &str, usize)], tail: &[u8]) -> String {
    let (body, len) = bin_req(inputs, tail);
    let e = parse_infer_request(&body, Some(len)).unwrap_err();
    assert_eq!(e.status(), actix_web::http::StatusCode::BAD_REQUEST);
    e.message()
}

#[test]
fn binary_data_errors() {
    // Fine first, as a baseline.
    let (body, len) = bin_req(
        &[("x", "INT16", "[2]", 4), ("y", "BOOL", "[1]", 1)],
        &[1, 0, 2, 0, 1],
    );
    let req = parse_infer_request(&body, Some(len)).unwrap();
    assert_eq!(
        req.inputs[0],
        t(
            "x",
            DataType::Int16,
            vec![2],
            fixed(&[1i16, 2], i16::to_le_bytes)
        )
    );

    has(
        &bin_err(&[("x", "INT16", "[2]", 3)], &[1, 0, 2]),
        &["`x`", "need 4 bytes", "binary_data_size is 3"],
    );
    has(
        &bin_err(&[("x", "INT16", "[2]", 6)], &[1, 0, 2, 0]),
        &["`x`", "binary_data_size 6", "4 bytes"],
    );
    has(
        &bin_err(&[("x", "INT16", "[2]", 4)], &[1, 0, 2, 0, 9]),
        &["1 bytes", "not claimed"],
    );
    has(
        &bin_err(&[("x", "BOOL", "[2]", 2)], &[1, 2]),
        &["`x`", "BOOL element 1", "not 0 or 1"],
    );
    // BYTES: fewer elements than the shape, more, truncated prefix, length past the end.
    has(
        &bin_err(&[("s", "BYTES", "[2]", 6)], b"\x02\0\0\0ab"),
        &["`s`", "needs 2", "holds 1"],
    );
    has(
        &bin_err(&[("s", "BYTES", "[1]", 10)], b"\x02\0\0\0ab\0\0\0\0"),
        &["`s`", "left after the 1 elements"],
    );
    has(
        &bin_err(&[("s", "BYTES", "[2]", 8)], b"\x02\0\0\0ab\0\0"),
        &["`s`", "truncated"],
    );
    has(
        &bin_err(&[("s", "BYTES", "[1]", 5)], b"\x02\0\0\0a"),
        &["`s`", "declares 2 bytes, only 1 left"],
    );

    // Header longer than the body.
    has(
        &err(&one("x", "INT8", "[1]", "[1]"), Some(1000)),
        &["Inference-Header-Content-Length 1000", "exceeds"],
    );
    // binary_data_size without the header: nothing to take from.
    let (body, _) = bin_req(&[("x", "INT8", "[1]", 1)], &[]);
    let e = parse_infer_request(&body, None).unwrap_err().message();
    has(&e, &["`x`", "no Inference-Header-Content-Length"]);
    // Both data and binary_data_size.
    let both = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","data":[1],"parameters":{"binary_data_size":1}}]}"#;
    let mut body = both.as_bytes().to_vec();
    body.push(1);
    has(
        &parse_infer_request(&body, Some(both.len()))
            .unwrap_err()
            .message(),
        &["`x`", "both"],
    );
    // Bad binary_data_size value.
    let neg = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"INT8","parameters":{"binary_data_size":-1}}]}"#;
    has(
        &err(neg, Some(neg.len())),
        &["`x`", "binary_data_size", "non-negative"],
    );
}

#[test]
fn metadata_bodies() {
    let s = ServerMetadata::new("imo-oracle", "0.1.0");
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"name": "imo-oracle", "version": "0.1.0", "extensions": ["binary_tensor_data"]})
    );
    let m = ModelMetadata {
        name: "tiny".into(),
        versions: vec!["1".into()],
        platform: PLATFORM.into(),
        inputs: vec![TensorMetadata {
            name: "x".into(),
            datatype: "FP32".into(),
            shape: vec![-1, 4],
        }],
        outputs: vec![],
    };
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"name": "tiny", "versions": ["1"], "platform": "onnxruntime_onnx",
               "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}], "outputs": []})
    );
    let e = OipError::Status {
        status: actix_web::http::StatusCode::NOT_FOUND,
        message: "no model `q`".into(),
    };
    assert_eq!(e.status(), actix_web::http::StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::to_value(e.body()).unwrap(),
        json!({"error": "no model `q`"})
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    // Depth 4,000 took the server down before (recursive flattening); 100,000 here.
    for depth in [MAX_DATA_DEPTH + 1, 4_000, 100_000] {
        let data = format!("{}0{}", "[".repeat(depth), "]".repeat(depth));
        let e = err(&one("x", "FP32", "[1]", &data), None);
        has(&e, &["`x`", "nested deeper than 64"]);
    }
    // Up to the limit it is still data.
    let data = format!(
        "{}7{}",
        "[".repeat(MAX_DATA_DEPTH),
        "]".repeat(MAX_DATA_DEPTH)
    );
    let r = parse_infer_request(one("x", "INT32", "[1]", &data).as_bytes(), None).unwrap();
    assert_eq!(
        r.inputs[0].data(),
        &TensorData::Fixed(7i32.to_le_bytes().to_vec())
    );
}

#[test]
fn flattening_skips_strings_and_objects_whole() {
    // Brackets and commas inside strings are not structure.
    let r = parse_infer_request(
        one("s", "BYTES", "[3]", r#"[["a,]", "[b"], ["\"]\\"]]"#).as_bytes(),
        None,
    )
    .unwrap();
    assert_eq!(
        r.inputs[0].data(),
        &TensorData::Bytes(vec![b"a,]".to_vec(), b"[b".to_vec(), b"\"]\\".to_vec()])
    );
    // An object element is one (wrong) element, however many commas it holds.
    let e = err(&one("x", "FP32", "[2]", r#"[{"a": [1, 2, 3]}, 1]"#), None);
    has(&e, &["`x`", "element 0", "expected a number"]);
}

#[test]
fn non_finite_literals_as_python_json_writes_them() {
    // json.dumps([float("nan"), float("inf"), -float("inf")]) as tritonclient sends it.
    let body = r#"{"inputs": [{"name": "x", "datatype": "FP32", "shape": [4], "data": [NaN, Infinity, -Infinity, 1.5]}]}"#;
    let r = parse_infer_request(body.as_bytes(), None).unwrap();
    let TensorData::Fixed(b) = r.inputs[0].data() else {
        panic!()
    };
    let v: Vec<f32> = b
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert!(v[0].is_nan());
    assert_eq!(&v[1..], &[f32::INFINITY, f32::NEG_INFINITY, 1.5]);
    for dt in ["FP16", "FP64"] {
        let body = one("x", dt, "[2]", "[NaN, -Infinity]");
        assert!(parse_infer_request(body.as_bytes(), None).is_ok(), "{dt}");
    }
    // Only where a float is expected, and only as whole literals outside strings.
    has(
        &err(&one("x", "INT32", "[1]", "[NaN]"), None),
        &["element 0", "expected a number", "NaN"],
    );
    has(
        &err(&one("s", "BYTES", "[1]", "[NaN]"), None),
        &["element 0", "expected a string"],
    );
    let r = parse_infer_request(
        one("s", "BYTES", "[2]", r#"["NaN", "-Infinity"]"#).as_bytes(),
        None,
    )
    .unwrap();
    assert_eq!(
        r.inputs[0].data(),
        &TensorData::Bytes(vec![b"NaN".to_vec(), b"-Infinity".to_vec()])
    );
    assert!(quote_non_finite(br#"{"a": "NaN", "b": 1}"#).is_none());
    assert!(parse_infer_request(one("x", "FP32", "[1]", "[NaNx]").as_bytes(), None).is_err());
}
