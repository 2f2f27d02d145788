use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::*;

// ---------------------------------------------------------------------------------------------
// Merkle tree

/// RFC 6962 test vectors (certificate-transparency test data): leaf inputs and the tree heads
/// of their first n leaves.
const CT_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn rfc_leaf(data: &[u8]) -> [u8; 32] {
    sha(&[&[0u8], data])
}

/// The RFC 6962 definition, written independently: MTH over raw leaf data.
fn naive_mth(data: &[Vec<u8>]) -> [u8; 32] {
    let n = data.len();
    if n == 0 {
        return sha(&[]);
    }
    if n == 1 {
        return rfc_leaf(&data[0]);
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    sha(&[&[1u8], &naive_mth(&data[..k]), &naive_mth(&data[k..])])
}

fn test_leaves(n: usize) -> Vec<[u8; 32]> {
    (0..n as u32).map(|i| rfc_leaf(&i.to_be_bytes())).collect()
}

#[test]
fn merkle_rfc6962_vectors() {
    let data: Vec<Vec<u8>> = CT_INPUTS.iter().map(|h| hex::decode(h).unwrap()).collect();
    for n in 0..=8 {
        let leaves: Vec<[u8; 32]> = data[..n].iter().map(|d| rfc_leaf(d)).collect();
        let root = merkle_root(&leaves);
        assert_eq!(hex::encode(root), CT_ROOTS[n], "tree of {n} leaves");
        assert_eq!(root, naive_mth(&data[..n]), "naive, {n} leaves");
    }
    for n in 0..70usize {
        let data: Vec<Vec<u8>> = (0..n as u32).map(|i| i.to_le_bytes().to_vec()).collect();
        let leaves: Vec<[u8; 32]> = data.iter().map(|d| rfc_leaf(d)).collect();
        assert_eq!(merkle_root(&leaves), naive_mth(&data), "{n} leaves");
    }
}

#[test]
fn merkle_rfc6962_audit_path_vectors() {
    // RFC 6962 §2.1.3 example tree of 7 leaves d0..d6: the path for d0 is [b, h, l]; for d3
    // it is [c, g, l]; for d4 [f, j, k] (k = hash of (i, j) subtree... written out below).
    let l = test_leaves(7);
    let h = |a: &[u8; 32], b: &[u8; 32]| sha(&[&[1u8], a, b]);
    let (a, b, c, d, e, f) = (l[0], l[1], l[2], l[3], l[4], l[5]);
    let g = h(&a, &b);
    let hh = h(&c, &d);
    let i = h(&e, &f);
    let j = l[6];
    let k = h(&g, &hh);
    let ll = h(&i, &j);
    assert_eq!(inclusion_proof(&l, 0), vec![b, hh, ll]);
    assert_eq!(inclusion_proof(&l, 3), vec![c, g, ll]);
    assert_eq!(inclusion_proof(&l, 4), vec![f, j, k]);
    assert_eq!(inclusion_proof(&l, 6), vec![i, k]);
    assert_eq!(merkle_root(&l), h(&k, &ll));
}

#[test]
fn merkle_proofs_round_trip_and_reject_forgeries() {
    for n in 1..=17usize {
        let leaves = test_leaves(n);
        let root = merkle_root(&leaves);
        for i in 0..n {
            let proof = inclusion_proof(&leaves, i);
            assert!(
                verify_inclusion(leaves[i], i, n, &proof, root),
                "n={n} i={i}"
            );
            // Wrong leaf, index, count, root, or a damaged proof.
            let other = rfc_leaf(b"not a leaf");
            assert!(!verify_inclusion(other, i, n, &proof, root));
            if n > 1 {
                assert!(!verify_inclusion(leaves[i], (i + 1) % n, n, &proof, root));
                assert!(!verify_inclusion(leaves[(i + 1) % n], i, n, &proof, root));
            }
            // (A different tree size can share the same audit path shape, so the size is not
            // checked here: it is bound by the signed tree head, not by the proof.)
            assert!(!verify_inclusion(leaves[i], n, n, &proof, root));
            let mut bad_root = root;
            bad_root[0] ^= 1;
            assert!(!verify_inclusion(leaves[i], i, n, &proof, bad_root));
            if !proof.is_empty() {
                assert!(!verify_inclusion(
                    leaves[i],
                    i,
                    n,
                    &proof[..proof.len() - 1],
                    root
                ));
                let mut longer = proof.clone();
                longer.push(root);
                assert!(!verify_inclusion(leaves[i], i, n, &longer, root));
                let mut flipped = proof.clone();
                flipped[0][31] ^= 0x80;
                assert!(!verify_inclusion(leaves[i], i, n, &flipped, root));
            }
        }
        assert!(inclusion_proof(&leaves, n).is_empty());
    }
    assert!(!verify_inclusion([0; 32], 0, 0, &[], merkle_root(&[])));
}

#[test]
fn leaf_hash_layout() {
    let t = WeightTensor {
        name: "W".into(),
        data_type: 1,
        dims: vec![4, 3],
        data_sha256: [7; 32],
        byte_len: 48,
    };
    let mut m = vec![0u8];
    m.extend(1u32.to_be_bytes());
    m.extend(b"W");
    m.extend(1i32.to_be_bytes());
    m.extend(2u32.to_be_bytes());
    m.extend(4i64.to_be_bytes());
    m.extend(3i64.to_be_bytes());
    m.extend([7u8; 32]);
    assert_eq!(leaf_hash(&t), sha(&[&m]));
}

// ---------------------------------------------------------------------------------------------
// Generated models

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn venv_python() -> PathBuf {
    let py = repo_root().join(".tools/venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run `scripts/install-tools.sh py` to create the Python venv used to \
         generate the ONNX test models",
        py.display()
    );
    py
}

/// Runs scripts/gen_models.py into a fresh temporary directory.
fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(venv_python())
        .arg(repo_root().join("scripts/gen_models.py"))
        .arg(dir.path())
        .output()
        .expect("run scripts/gen_models.py");
    assert!(
        out.status.success(),
        "gen_models.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// An independent Python implementation (onnx + numpy) of the whole commitment: tensor
/// discovery and canonical names, canonical data bytes, leaf hash and Merkle root.
const PY_REFERENCE: &str = r#"
import sys, hashlib, onnx
from onnx import numpy_helper
def canon(t):
    a = numpy_helper.to_array(t)
    if t.data_type == onnx.TensorProto.STRING:
        out = b''
        for s in a.flatten().tolist():
            s = s.encode() if isinstance(s, str) else s
            out += len(s).to_bytes(8, 'little') + s
        return out
    return a.astype(a.dtype.newbyteorder('<')).tobytes()
def leaf(name, dt, dims, dh):
    n = name.encode()
    return hashlib.sha256(b'\x00' + len(n).to_bytes(4, 'big') + n + dt.to_bytes(4, 'big', signed=True)
        + len(dims).to_bytes(4, 'big') + b''.join(d.to_bytes(8, 'big', signed=True) for d in dims) + dh).digest()
def mth(l):
    if not l: return hashlib.sha256(b'').digest()
    if len(l) == 1: return l[0]
    k = 1
    while k * 2 < len(l): k *= 2
    return hashlib.sha256(b'\x01' + mth(l[:k]) + mth(l[k:])).digest()
found = []
def graph(g, path, main):
    for k, t in enumerate(g.initializer):
        found.append((t.name if main else '%s/init[%d]/%s' % (path, k, t.name), t))
    for i, n in enumerate(g.node):
        for a in n.attribute:
            attr(a, '%s/%d' % (path, i))
def attr(a, prefix):
    p = prefix + '.' + a.name
    if a.HasField('t'): found.append((p + '/' + a.t.name, a.t))
    for k, t in enumerate(a.tensors): found.append(('%s[%d]/%s' % (p, k, t.name), t))
    if a.HasField('g'): graph(a.g, p, False)
    for k, g in enumerate(a.graphs): graph(g, '%s[%d]' % (p, k), False)
m = onnx.load(sys.argv[1], load_external_data=False)
graph(m.graph, '@', True)
for j, f in enumerate(m.functions):
    for i, n in enumerate(f.node):
        for a in n.attribute: attr(a, '@fn[%d]/%d' % (j, i))
    for a in f.attribute_proto: attr(a, '@fn[%d]/default' % j)
for j, ti in enumerate(m.training_info):
    if ti.HasField('initialization'): graph(ti.initialization, '@train[%d].initialization' % j, False)
    if ti.HasField('algorithm'): graph(ti.algorithm, '@train[%d].algorithm' % j, False)
leaves = []
for name, t in sorted(found, key=lambda p: p[0].encode()):
    d = canon(t)
    dh = hashlib.sha256(d).digest()
    print('T\t%s\t%d\t%d\t%s' % (name, t.data_type, len(d), dh.hex()))
    leaves.append(leaf(name, t.data_type, list(t.dims), dh))
print('R\t' + mth(leaves).hex())
"#;

struct PyRef {
    /// name -> (data_type, byte_len, data sha256 hex)
    tensors: BTreeMap<String, (i32, u64, String)>,
    root: String,
}

fn python_reference(model: &Path) -> PyRef {
    let out = Command::new(venv_python())
        .arg("-c")
        .arg(PY_REFERENCE)
        .arg(model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut r = PyRef {
        tensors: BTreeMap::new(),
        root: String::new(),
    };
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "T" => {
                r.tensors.insert(
                    f[1].to_string(),
                    (
                        f[2].parse().unwrap(),
                        f[3].parse().unwrap(),
                        f[4].to_string(),
                    ),
                );
            }
            "R" => r.root = f[1].to_string(),
            _ => panic!("unexpected line {line}"),
        }
    }
    r
}

/// Checks every tensor (name, type, length, data hash) and the root against Python.
fn cross_check(path: &Path, scan: &ModelScan) -> PyRef {
    let py = python_reference(path);
    assert_eq!(
        py.tensors.len(),
        scan.tensors.len(),
        "tensor count differs from Python"
    );
    assert_eq!(
        hex::encode(scan.weights_root),
        py.root,
        "root differs from Python"
    );
    for (name, (dt, len, hash)) in &py.tensors {
        let i = scan
            .position(name)
            .unwrap_or_else(|| panic!("{name} not found by the scanner"));
        let t = &scan.tensors[i];
        assert_eq!(t.data_type, *dt, "{name}");
        assert_eq!(t.byte_len, *len, "{name}");
        assert_eq!(
            hex::encode(t.data_sha256),
            *hash,
            "{name}: data hash differs from Python"
        );
    }
    py
}

#[test]
fn tiny_mlp_matches_python_reference() {
    let dir = generated();
    let path = dir.path().join("tiny_mlp.onnx");
    let scan = scan_model(&path).unwrap();
    assert_eq!(scan.ir_version, 8);
    assert_eq!(scan.opsets, vec![(String::new(), 17)]);
    assert_eq!(scan.producer, "imo-oracle gen_models");
    assert_eq!(scan.producer_version, "1");
    let names: Vec<&str> = scan.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["W", "b"]);
    assert_eq!(scan.tensors[0].dims, vec![4, 3]);
    assert_eq!(scan.tensors[0].byte_len, 48);
    assert_eq!(scan.tensors[1].dims, vec![3]);
    assert_eq!(scan.tensors[1].byte_len, 12);
    let py = cross_check(&path, &scan);
    assert_eq!(hex::encode(scan.weights_root), py.root);
    assert_eq!(merkle_root(&scan.leaves()), scan.weights_root);
    // Deterministic generator: the same commitment every run.
    let again = scan_model(&generated().path().join("tiny_mlp.onnx")).unwrap();
    assert_eq!(again, scan);
}

#[test]
fn dtypes_typed_fields_match_python_reference() {
    let dir = generated();
    let path = dir.path().join("dtypes.onnx");
    let scan = scan_model(&path).unwrap();
    assert_eq!(scan.tensors.len(), 13 + 3);
    let py = cross_check(&path, &scan);
    assert_eq!(py.tensors.len(), scan.tensors.len());
    assert_eq!(hex::encode(scan.weights_root), py.root);
    let c16 = &scan.tensors[scan.position("c_int16").unwrap()];
    let mut expect = Vec::new();
    for v in [-300i16, 1234] {
        expect.extend(v.to_le_bytes());
    }
    assert_eq!(c16.data_sha256, sha(&[&expect]));
    assert_eq!(c16.dims, vec![1, 2]);
}

#[test]
fn subgraph_and_constant_tensors_are_found() {
    let dir = generated();
    let path = dir.path().join("with_subgraph.onnx");
    let scan = scan_model(&path).unwrap();
    cross_check(&path, &scan);
    let names: Vec<&str> = scan.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "@/0.value/k_value",
            "@/2.else_branch/0.value/",
            "@/2.else_branch/init[0]/else_w",
            "@/2.then_branch/init[0]/then_w",
            "top_w",
        ]
    );
    let k = &scan.tensors[0];
    let mut expect = Vec::new();
    for v in [1.0f32, 2.0] {
        expect.extend(v.to_le_bytes());
    }
    assert_eq!(k.data_sha256, sha(&[&expect]));
    let c = &scan.tensors[1];
    let mut expect = Vec::new();
    for v in [0.5f32, -0.5] {
        expect.extend(v.to_le_bytes());
    }
    assert_eq!(c.data_sha256, sha(&[&expect]));
    assert!(
        scan.tensors
            .iter()
            .all(|t| t.data_type == 1 && t.dims == vec![2])
    );
}

#[test]
fn external_data_is_rejected() {
    let dir = generated();
    match scan_model(&dir.path().join("external_data.onnx")) {
        Err(ScanError::ExternalData { tensor, location }) => {
            assert_eq!(tensor, "W");
            assert_eq!(location, "external_data.weights");
        }
        other => panic!("expected ExternalData, got {other:?}"),
    }
}

#[test]
fn not_a_model_is_rejected() {
    let dir = generated();
    let err = scan_model(&dir.path().join("not_a_model.pb")).unwrap_err();
    assert!(matches!(err, ScanError::NotAModel(_)), "{err:?}");
    let err = scan_reader(Cursor::new(Vec::new())).unwrap_err();
    assert!(matches!(err, ScanError::NotAModel(_)), "{err:?}");
    // A well-formed protobuf without a graph: ir_version and producer_name only.
    let mut bytes = vec![0x08, 0x08, 0x12, 0x01, b'x'];
    let err = scan_reader(Cursor::new(bytes.clone())).unwrap_err();
    assert!(matches!(err, ScanError::NotAModel(_)), "{err:?}");
    bytes.push(0x3a); // graph, truncated length prefix
    let err = scan_reader(Cursor::new(bytes)).unwrap_err();
    assert!(matches!(err, ScanError::Truncated { .. }), "{err:?}");
}

/// Offsets of the top-level graph field (key start, payload end) in a model file.
fn graph_span(bytes: &[u8]) -> (u64, u64) {
    let mut w = wire::Wire::new(Cursor::new(bytes)).unwrap();
    let end = bytes.len() as u64;
    while let Some(tag) = w.tag(end).unwrap() {
        if tag.field == 7 {
            let fend = w.len_prefix(tag.offset, end).unwrap();
            return (tag.offset, fend);
        }
        w.skip(&tag, end).unwrap();
    }
    panic!("no graph");
}

#[test]
fn truncated_models_fail_cleanly() {
    let dir = generated();
    let bytes = std::fs::read(dir.path().join("tiny_mlp.onnx")).unwrap();
    let (gstart, gend) = graph_span(&bytes);
    for cut in 0..bytes.len() {
        let r = scan_reader(Cursor::new(bytes[..cut].to_vec()));
        if (cut as u64) > gstart && (cut as u64) < gend {
            assert!(
                matches!(r, Err(ScanError::Truncated { .. })),
                "cut at {cut}: {r:?}"
            );
        } else if (cut as u64) <= gstart {
            assert!(r.is_err(), "cut at {cut} has no graph: {r:?}");
        }
    }
    let err = scan_reader(Cursor::new(bytes[..bytes.len() / 2].to_vec())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("truncated") && msg.contains("byte"), "{msg}");
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_bytes_fail_cleanly() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for len in [1usize, 2, 7, 64, 1000, 65_536] {
        for _ in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let r = scan_reader(Cursor::new(bytes));
            assert!(
                r.is_err(),
                "random bytes of length {len} scanned as a model: {r:?}"
            );
        }
    }
}

#[test]
fn mutated_models_never_panic() {
    let dir = generated();
    for file in ["tiny_mlp.onnx", "with_subgraph.onnx", "dtypes.onnx"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap();
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for i in 0..200u64 {
            let mut m = bytes.clone();
            let pos = (i.wrapping_mul(7919) + rng.next() % 13) as usize % m.len();
            m[pos] = match i % 4 {
                0 => m[pos] ^ (1 << (i % 8)),
                1 => 0xff,
                2 => 0x00,
                _ => rng.next() as u8,
            };
            // Any outcome but a panic (or a hang) is fine.
            let _ = scan_reader(Cursor::new(m));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-encoded protobuf: field order, unpacked encodings, exotic types.

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn key(field: u32, wt: u8, out: &mut Vec<u8>) {
    varint(u64::from(field) << 3 | u64::from(wt), out);
}
fn ld(field: u32, payload: &[u8], out: &mut Vec<u8>) {
    key(field, 2, out);
    varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}
fn vfield(field: u32, v: u64, out: &mut Vec<u8>) {
    key(field, 0, out);
    varint(v, out);
}
/// A model whose main graph has the given initializers (already-encoded TensorProtos).
fn model_with(inits: &[Vec<u8>]) -> Vec<u8> {
    let mut g = Vec::new();
    for t in inits {
        ld(5, t, &mut g);
    }
    let mut m = Vec::new();
    vfield(1, 8, &mut m);
    ld(7, &g, &mut m);
    m
}
fn scan_bytes(b: Vec<u8>) -> Result<ModelScan, ScanError> {
    scan_reader(Cursor::new(b))
}

#[test]
fn field_order_and_encoding_do_not_change_the_commitment() {
    // INT16 [3] = [-2, 300, 7]: raw_data in canonical order vs int32_data before data_type,
    // unpacked, with the name last.
    let mut raw = Vec::new();
    for v in [-2i16, 300, 7] {
        raw.extend(v.to_le_bytes());
    }
    let mut a = Vec::new();
    vfield(1, 3, &mut a);
    vfield(2, 5, &mut a);
    ld(8, b"t", &mut a);
    ld(9, &raw, &mut a);
    let mut b = Vec::new();
    for v in [-2i64, 300, 7] {
        vfield(5, v as u64, &mut b);
    }
    vfield(2, 5, &mut b);
    key(1, 2, &mut b); // packed dims
    b.extend([1, 3]);
    ld(8, b"t", &mut b);
    let sa = scan_bytes(model_with(&[a])).unwrap();
    let sb = scan_bytes(model_with(&[b])).unwrap();
    assert_eq!(sa.tensors[0].data_sha256, sha(&[&raw]));
    assert_eq!(sa, sb);

    // FLOAT via unpacked float_data, DOUBLE via packed double_data, UINT32 via uint64_data.
    let mut f = Vec::new();
    vfield(1, 2, &mut f);
    vfield(2, 1, &mut f);
    for v in [1.5f32, -2.0] {
        key(4, 5, &mut f);
        f.extend(v.to_le_bytes());
    }
    ld(8, b"f", &mut f);
    let mut d = Vec::new();
    vfield(1, 1, &mut d);
    vfield(2, 11, &mut d);
    ld(10, &3.25f64.to_le_bytes(), &mut d);
    ld(8, b"d", &mut d);
    let mut u = Vec::new();
    vfield(1, 2, &mut u);
    vfield(2, 12, &mut u);
    let mut packed = Vec::new();
    varint(4_000_000_000, &mut packed);
    varint(5, &mut packed);
    ld(11, &packed, &mut u);
    ld(8, b"u", &mut u);
    let s = scan_bytes(model_with(&[f, d, u])).unwrap();
    let mut fe = Vec::new();
    fe.extend(1.5f32.to_le_bytes());
    fe.extend((-2.0f32).to_le_bytes());
    assert_eq!(s.tensors[0].name, "d");
    assert_eq!(s.tensors[0].data_sha256, sha(&[&3.25f64.to_le_bytes()]));
    assert_eq!(s.tensors[1].data_sha256, sha(&[&fe]));
    let mut ue = Vec::new();
    ue.extend(4_000_000_000u32.to_le_bytes());
    ue.extend(5u32.to_le_bytes());
    assert_eq!(s.tensors[2].data_sha256, sha(&[&ue]));
}

#[test]
fn sub_byte_types_use_the_raw_data_packing() {
    // FLOAT6E2M3 [5] via int32_data = [1, 2, 3, 4, 63]: 30 bits -> 4 bytes, LSB-first.
    let vals = [1u32, 2, 3, 4, 63];
    let mut t = Vec::new();
    vfield(1, 5, &mut t);
    vfield(2, 27, &mut t);
    let mut packed = Vec::new();
    for v in vals {
        varint(v.into(), &mut packed);
    }
    ld(5, &packed, &mut t);
    ld(8, b"f6", &mut t);
    let mut bits = 0u64;
    for (i, v) in vals.iter().enumerate() {
        bits |= u64::from(*v) << (6 * i);
    }
    let expect = &bits.to_le_bytes()[..4];
    // INT4 [3] via int32_data: two entries (packed pairs), 2 bytes.
    let mut i4 = Vec::new();
    vfield(1, 3, &mut i4);
    vfield(2, 22, &mut i4);
    ld(5, &[0x21, 0x03], &mut i4);
    ld(8, b"i4", &mut i4);
    let s = scan_bytes(model_with(&[t, i4])).unwrap();
    assert_eq!(s.tensors[0].name, "f6");
    assert_eq!(s.tensors[0].byte_len, 4);
    assert_eq!(s.tensors[0].data_sha256, sha(&[expect]));
    assert_eq!(s.tensors[1].byte_len, 2);
    assert_eq!(s.tensors[1].data_sha256, sha(&[&[0x21, 0x03]]));
}

#[test]
fn invalid_tensors_are_reported() {
    let tensor = |dims: &[u64], dt: u64, name: &[u8], raw: &[u8]| {
        let mut t = Vec::new();
        for d in dims {
            vfield(1, *d, &mut t);
        }
        vfield(2, dt, &mut t);
        ld(8, name, &mut t);
        ld(9, raw, &mut t);
        t
    };
    // Size mismatch.
    let e = scan_bytes(model_with(&[tensor(&[3], 1, b"w", &[0; 8])])).unwrap_err();
    assert!(
        matches!(e, ScanError::Malformed { .. }) && e.to_string().contains("'w'"),
        "{e}"
    );
    // Duplicate names.
    let t = tensor(&[1], 1, b"w", &[0; 4]);
    let e = scan_bytes(model_with(&[t.clone(), t])).unwrap_err();
    assert!(e.to_string().contains("same canonical name 'w'"), "{e}");
    // STRING in raw_data; unknown data type; sparse initializer.
    let e = scan_bytes(model_with(&[tensor(&[1], 8, b"s", b"x")])).unwrap_err();
    assert!(matches!(e, ScanError::Malformed { .. }), "{e}");
    let e = scan_bytes(model_with(&[tensor(&[1], 99, b"x", b"x")])).unwrap_err();
    assert!(matches!(e, ScanError::Unsupported(_)), "{e}");
    let mut g = Vec::new();
    ld(15, b"", &mut g);
    let mut m = Vec::new();
    ld(7, &g, &mut m);
    let e = scan_bytes(m).unwrap_err();
    assert!(matches!(e, ScanError::Unsupported(_)), "{e}");
    // A nested length that overruns its parent is Malformed, not Truncated.
    let mut g = vec![0x2a, 0x10, 0x08];
    g.extend([0x01; 20]);
    let mut m = Vec::new();
    ld(7, &g[..3], &mut m);
    m.extend(&g[3..]);
    let e = scan_bytes(m).unwrap_err();
    assert!(matches!(e, ScanError::Malformed { offset: 2, .. }), "{e:?}");
    // Bad wire type inside the graph.
    let mut m = Vec::new();
    ld(7, &[0x0f], &mut m);
    let e = scan_bytes(m).unwrap_err();
    assert!(matches!(e, ScanError::Malformed { offset: 2, .. }), "{e:?}");
}

#[test]
fn silero_vad_scans() {
    let path = repo_root().join(".tools/models/silero_vad.onnx");
    if !path.exists() {
        eprintln!(
            "skipping: {} missing (scripts/install-tools.sh models)",
            path.display()
        );
        return;
    }
    let t0 = std::time::Instant::now();
    let scan = scan_model(&path).unwrap();
    eprintln!(
        "silero_vad.onnx: {} tensors, {} bytes of weights, root {}, {:?}",
        scan.tensors.len(),
        scan.total_weight_bytes(),
        hex::encode(scan.weights_root),
        t0.elapsed()
    );
    assert!(!scan.tensors.is_empty());
    assert!(!scan.opsets.is_empty());
    cross_check(&path, &scan);
}
