"""Acknowledged billing as a tritonclient.http plugin (docs/PROTOCOL.md section 4.1).

`ImoAck` is registered on an unmodified `tritonclient.http.InferenceServerClient` with
`register_plugin`: on every request it adds the API key's `Authorization` header and the
latest signed acknowledgement (`imo-acknowledgement`; the service ignores it outside inference
calls and accepts an exact repeat as a no-op). After each inference the caller hands the
result and the inputs it sent to `check`, which verifies the receipt (operator's EIP-712
signature under the receipt domain, the client address, the input hash against the canonical
hash of what was sent, the output hash against what was received, the price when known) and
only then adds it to the epoch's total and signs the new cumulative
`Acknowledgement(client, epoch, amount, calls)` under the vault's domain.
"""

import json
import time
import urllib.error
import urllib.request

from eth_account import Account
from eth_account.messages import encode_typed_data
from tritonclient._plugin import InferenceServerClientPlugin

from .canonical import canonical_hash

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

RECEIPT_TYPES = [
    {"name": "id", "type": "uint128"},
    {"name": "epoch", "type": "uint64"},
    {"name": "model", "type": "bytes32"},
    {"name": "client", "type": "address"},
    {"name": "price", "type": "uint256"},
    {"name": "inputHash", "type": "bytes32"},
    {"name": "outputHash", "type": "bytes32"},
    {"name": "fingerprint", "type": "bytes32"},
    {"name": "timestamp", "type": "uint64"},
]
ACK_TYPES = [
    {"name": "client", "type": "address"},
    {"name": "epoch", "type": "uint64"},
    {"name": "amount", "type": "uint256"},
    {"name": "calls", "type": "uint64"},
]
ACK_MODE_TYPES = [
    {"name": "client", "type": "address"},
    {"name": "fromEpoch", "type": "uint64"},
    {"name": "deadline", "type": "uint256"},
]
DOMAIN_TYPES = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


class ReceiptError(Exception):
    """A receipt failed a check: it is recorded as refused and never acknowledged."""


def ulid_int(s):
    """A ULID's 26 Crockford base-32 characters as the 128-bit integer the receipt signs."""
    n = 0
    for c in s.upper():
        n = n * 32 + CROCKFORD.index(c)
    return n


def _b32(hex_str):
    return bytes.fromhex(hex_str[2:] if hex_str.startswith("0x") else hex_str)


def _typed(domain, primary, types, message):
    return {
        "types": {"EIP712Domain": DOMAIN_TYPES, primary: types},
        "primaryType": primary,
        "domain": domain,
        "message": message,
    }


class ImoAck(InferenceServerClientPlugin):
    """The client's side of acknowledged billing (see the module docs)."""

    def __init__(self, url, api_key, private_key, operator, chain_id, receipt_contract, vault):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.account = Account.from_key(private_key)
        self.operator = operator.lower()
        self.receipt_domain = {
            "name": "IMO Oracle",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": receipt_contract,
        }
        self.vault_domain = {
            "name": "IMO Oracle Vault",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": vault,
        }
        self.signing = True  # False: stop acknowledging (the service cuts off after the window)
        self.latest = None  # the latest signed acknowledgement (header value)
        self.seen = set()
        self.epochs = {}  # epoch -> [checked wei, checked calls, acknowledged wei]
        self.calls = 0
        self.refused = 0
        self.sign_seconds = []
        self.verify_seconds = []

    @classmethod
    def connect(cls, url, api_key, private_key):
        """Reads the operator and both EIP-712 domains from the service."""
        op = _get(url, "/v1/operator")
        billing = _get(url, "/v1/billing", api_key)
        return cls(url, api_key, private_key, op["operator"], op["chain_id"], op["verifying_contract"], billing["vault"])

    # ---------------------------------------------------------------- tritonclient plugin hook

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self.api_key}"
        if self.latest is not None:
            request.headers["imo-acknowledgement"] = self.latest

    # ---------------------------------------------------------------- the mode

    def choose_ack_mode(self, from_epoch=None, deadline_secs=600):
        """Signs AckMode(client, fromEpoch, deadline) and sends it (POST /v1/billing-mode)."""
        if from_epoch is None:
            from_epoch = _get(self.url, "/v1/billing", self.api_key)["current_epoch"]
        deadline = int(time.time()) + deadline_secs
        msg = _typed(self.vault_domain, "AckMode", ACK_MODE_TYPES,
                     {"client": self.account.address, "fromEpoch": from_epoch, "deadline": deadline})
        sig = Account.sign_typed_data(self.account.key, full_message=msg).signature.hex()
        return _post(self.url, "/v1/billing-mode", self.api_key,
                     {"from_epoch": from_epoch, "deadline": deadline, "signature": _hex(sig)})

    # ---------------------------------------------------------------- receipts

    def check(self, result, inputs, price_wei=None):
        """Verifies the receipt of `result` (a tritonclient InferResult) against `inputs`
        ({name: ndarray} or {name: (datatype, ndarray)}) and the outputs it carries; on success
        records it and signs the new acknowledgement of its epoch. Returns the receipt."""
        self.calls += 1
        try:
            receipt = self._verify(result, inputs, price_wei)
        except ReceiptError:
            self.refused += 1
            raise
        self.seen.add(receipt["id"])
        e = self.epochs.setdefault(receipt["epoch"], [0, 0, 0])
        e[0] += int(receipt["price_wei"])
        e[1] += 1
        if self.signing:
            self._sign(receipt["epoch"])
        return receipt

    def _verify(self, result, inputs, price_wei):
        response = result.get_response()
        receipt = json.loads(response["parameters"]["imo_receipt"])
        if receipt["id"] in self.seen:
            raise ReceiptError(f"receipt {receipt['id']} was seen before")
        started = time.perf_counter()
        message = {
            "id": ulid_int(receipt["id"]),
            "epoch": receipt["epoch"],
            "model": _b32(receipt["weights_root"]),
            "client": receipt["client"],
            "price": int(receipt["price_wei"]),
            "inputHash": _b32(receipt["input_hash"]),
            "outputHash": _b32(receipt["output_hash"]),
            "fingerprint": _b32(receipt["fingerprint_hash"]),
            "timestamp": receipt["timestamp_ms"],
        }
        signable = encode_typed_data(full_message=_typed(self.receipt_domain, "Receipt", RECEIPT_TYPES, message))
        signer = Account.recover_message(signable, signature=receipt["signature"])
        self.verify_seconds.append(time.perf_counter() - started)
        if signer.lower() != self.operator:
            raise ReceiptError(f"receipt not signed by the operator {self.operator} (recovers to {signer})")
        if receipt["client"].lower() != self.account.address.lower():
            raise ReceiptError(f"receipt names client {receipt['client']}, not {self.account.address}")
        sent = {n: (v if isinstance(v, tuple) else (_datatype(v), v)) for n, v in inputs.items()}
        if canonical_hash(sent) != receipt["input_hash"].removeprefix("0x"):
            raise ReceiptError("input hash is not the hash of what was sent")
        received = {o["name"]: (o["datatype"], result.as_numpy(o["name"])) for o in response["outputs"]}
        if canonical_hash(received) != receipt["output_hash"].removeprefix("0x"):
            raise ReceiptError("output hash is not the hash of what was received")
        if price_wei is not None and int(receipt["price_wei"]) != int(price_wei):
            raise ReceiptError(f"price {receipt['price_wei']} wei, expected {price_wei}")
        return receipt

    # ---------------------------------------------------------------- acknowledgements

    def _sign(self, epoch):
        amount, calls, _ = self.epochs[epoch]
        started = time.perf_counter()
        msg = _typed(self.vault_domain, "Acknowledgement", ACK_TYPES,
                     {"client": self.account.address, "epoch": epoch, "amount": amount, "calls": calls})
        sig = _hex(Account.sign_typed_data(self.account.key, full_message=msg).signature.hex())
        self.sign_seconds.append(time.perf_counter() - started)
        self.epochs[epoch][2] = amount
        self.latest = f"{epoch}:{amount}:{calls}:{sig}"

    def flush(self):
        """Sends the latest acknowledgement now (POST /v1/acknowledgements), e.g. at the end of
        a session: the header only travels with the next call. Returns the service's view."""
        if self.latest is None:
            return None
        epoch, amount, calls, sig = self.latest.split(":")
        return _post(self.url, "/v1/acknowledgements", self.api_key,
                     {"epoch": int(epoch), "amount_wei": amount, "calls": int(calls), "signature": sig})

    def report(self):
        """The client-side verify report: calls made, receipts checked, amount acknowledged."""
        checked = sum(e[1] for e in self.epochs.values())
        return {
            "calls": self.calls,
            "receipts_checked": checked,
            "receipts_refused": self.refused,
            "amount_checked_wei": str(sum(e[0] for e in self.epochs.values())),
            "amount_acknowledged_wei": str(sum(e[2] for e in self.epochs.values())),
            "epochs": {str(k): {"checked_wei": str(v[0]), "calls": v[1], "acknowledged_wei": str(v[2])}
                       for k, v in sorted(self.epochs.items())},
        }


def _hex(s):
    return s if s.startswith("0x") else "0x" + s


def _datatype(array):
    from tritonclient.utils import np_to_triton_dtype

    return np_to_triton_dtype(array.dtype)


def _get(url, path, api_key=None):
    req = urllib.request.Request(url.rstrip("/") + path)
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _post(url, path, api_key, body):
    req = urllib.request.Request(url.rstrip("/") + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Authorization", f"Bearer {api_key}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{path}: {e.code} {e.read().decode(errors='replace')}") from None
