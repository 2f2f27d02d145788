"""schemathesis hooks: strategies for the OpenAPI string formats of imo-oracle."""

import threading

import schemathesis
from hypothesis import strategies as st
from hypothesis.internal import filtering, lambda_sources

# hypothesis (6.170) describes lambdas through LRU caches that are not thread-safe; schemathesis
# generates from several threads, and a race there raised KeyError inside hypothesis now and then
# (seen as an "internal error" of a random operation). Describe one lambda at a time.
_describe_lock = threading.Lock()
_describe = lambda_sources.lambda_description


def _describe_serially(f):
    with _describe_lock:
        return _describe(f)


lambda_sources.lambda_description = _describe_serially
filtering.lambda_description = _describe_serially


# `eth-address`: 0x and 40 hex digits; mixed case must be an EIP-55 checksum, which a pattern
# cannot say. Generate what is valid without computing keccak: all lower or all upper case.
_hex = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)


def _lower(h: str) -> str:
    return "0x" + h


def _upper(h: str) -> str:
    return "0x" + h.upper()


schemathesis.openapi.format("eth-address", st.one_of(_hex.map(_lower), _hex.map(_upper)))
