//! Property-based fuzzing of the Open Inference Protocol request decoder (JSON and Triton's
//! binary extension) on the stable toolchain: random bytes, deep nesting, huge declared
//! lengths and shapes, truncated binary data. The decoder answers with a tensor list or a
//! `400` error naming what is wrong — it never panics, and never allocates what the body does
//! not back.

use imo_api::oip::{MAX_DATA_DEPTH, parse_infer_request};
use imo_oracle::tensor::{DataType, TensorData};
use proptest::prelude::*;

fn dt_name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(DataType::ALL.map(DataType::as_str).to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_are_an_answer(body in proptest::collection::vec(any::<u8>(), 0..2048), header in proptest::option::of(0usize..4096)) {
        if let Err(e) = parse_infer_request(&body, header) {
            prop_assert_eq!(e.status().as_u16(), 400);
        }
    }

    /// Nesting of any depth: within the limit it is data, beyond it a clear error.
    #[test]
    fn nesting_of_any_depth(depth in 1usize..20_000, dt in dt_name()) {
        let v = if dt == "BYTES" { "\"a\"" } else if dt == "BOOL" { "true" } else { "1" };
        let body = format!(
            r#"{{"inputs":[{{"name":"x","shape":[1],"datatype":"{dt}","data":{}{v}{}}}]}}"#,
            "[".repeat(depth), "]".repeat(depth)
        );
        match parse_infer_request(body.as_bytes(), None) {
            Ok(r) => {
                prop_assert!(depth <= MAX_DATA_DEPTH);
                prop_assert_eq!(r.inputs[0].element_count(), 1);
            }
            Err(e) => {
                prop_assert!(depth > MAX_DATA_DEPTH, "{}", e.message());
                prop_assert!(e.message().contains("nested deeper"));
            }
        }
    }

    /// Shapes and binary sizes of any magnitude: only what the body holds decodes.
    #[test]
    fn huge_shapes_and_declared_sizes(shape in proptest::collection::vec(any::<u64>(), 0..5), size in any::<u64>(), tail in proptest::collection::vec(any::<u8>(), 0..64), dt in dt_name()) {
        let shape_json = serde_json::to_string(&shape).unwrap();
        let json = format!(
            r#"{{"inputs":[{{"name":"x","shape":{shape_json},"datatype":"{dt}","parameters":{{"binary_data_size":{size}}}}}]}}"#
        );
        let mut body = json.clone().into_bytes();
        body.extend_from_slice(&tail);
        if let Ok(r) = parse_infer_request(&body, Some(json.len())) {
            // Decoded: the declared size was exactly the tail, and it matches the shape.
            prop_assert_eq!(size as usize, tail.len());
            let t = &r.inputs[0];
            prop_assert_eq!(t.shape(), shape.as_slice());
            if let TensorData::Fixed(b) = t.data() {
                prop_assert_eq!(b.len(), tail.len());
            }
        }
    }

    /// Any prefix of a valid binary request is refused (every byte must be claimed).
    #[test]
    fn truncated_binary_data(n in 1usize..64, cut in any::<prop::sample::Index>()) {
        let json = format!(
            r#"{{"inputs":[{{"name":"x","shape":[{n}],"datatype":"FP32","parameters":{{"binary_data_size":{}}}}}]}}"#,
            n * 4
        );
        let mut body = json.clone().into_bytes();
        body.extend((0..n * 4).map(|i| i as u8));
        prop_assert!(parse_infer_request(&body, Some(json.len())).is_ok());
        let keep = json.len() + cut.index(n * 4);
        prop_assert!(parse_infer_request(&body[..keep], Some(json.len())).is_err());
    }
}
