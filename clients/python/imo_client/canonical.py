"""The canonical tensor encoding of docs/PROTOCOL.md section 2 (receipt input/output hashes)."""

import hashlib
import struct

import numpy as np

# Little-endian numpy dtype of each protocol datatype (BOOL one byte 0/1).
DTYPES = {
    "BOOL": np.dtype("u1"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}


def _data(datatype, array):
    array = np.asarray(array)
    if datatype == "BYTES":
        out = bytearray()
        for e in array.reshape(-1):
            b = e if isinstance(e, (bytes, bytearray)) else str(e).encode("utf-8")
            out += struct.pack("<Q", len(b)) + bytes(b)
        return bytes(out)
    if datatype == "BOOL":
        return np.ascontiguousarray(array.astype(bool)).astype("u1").tobytes()
    return np.ascontiguousarray(array.astype(DTYPES[datatype], copy=False)).tobytes()


def canonical_hash(tensors):
    """SHA-256 hex of tensors given as {name: (datatype, ndarray)}."""
    h = hashlib.sha256()
    h.update(struct.pack(">I", len(tensors)))
    for name in sorted(tensors, key=lambda n: n.encode("utf-8")):
        datatype, array = tensors[name]
        array = np.asarray(array)
        nb = name.encode("utf-8")
        h.update(struct.pack(">I", len(nb)) + nb)
        dt = datatype.encode("ascii")
        h.update(struct.pack(">I", len(dt)) + dt)
        h.update(struct.pack(">I", array.ndim))
        for d in array.shape:
            h.update(struct.pack(">Q", d))
        data = _data(datatype, array)
        h.update(struct.pack(">Q", len(data)) + data)
    return h.hexdigest()
