#!/usr/bin/env python3
"""Acknowledged billing through the unmodified tritonclient.http with the imo_client plugin.

Usage:
  python tests/python/ack_check.py --url http://127.0.0.1:PORT --key imo_... \
      --private-key 0x... --model tiny --calls N --price WEI [--stop]

Chooses `ack` billing (signed AckMode), makes N calls to the FP32 [1,4] model through
tritonclient.http with `ImoAck` registered as its plugin, checks every receipt (signature,
client, input/output hashes, price) and acknowledges each one on the next call, then flushes the
last acknowledgement. With --stop it then stops signing and calls until the service cuts it off
(402 acknowledgement_required), counting the calls served unacknowledged. Prints one JSON line:
the plugin's verify report, `unacked_calls`, and the median client signing and receipt
verification times in ms.
"""

import argparse
import json
import statistics
import sys

import numpy as np
import tritonclient.http as http
from tritonclient.utils import InferenceServerException

from imo_client import ImoAck


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--private-key", required=True)
    p.add_argument("--model", default="tiny")
    p.add_argument("--calls", type=int, default=10)
    p.add_argument("--price", type=int, required=True)
    p.add_argument("--stop", action="store_true")
    p.add_argument("--no-mode", action="store_true", help="the mode was chosen already")
    a = p.parse_args()

    imo = ImoAck.connect(a.url, a.key, a.private_key)
    if not a.no_mode:
        imo.choose_ack_mode()
    client = http.InferenceServerClient(a.url.removeprefix("http://"))
    client.register_plugin(imo)

    def call(i):
        x = np.array([[i, 1.5, -2.0, 0.25]], dtype=np.float32)
        inp = http.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=(i % 2 == 0))
        result = client.infer(a.model, [inp])
        imo.check(result, {"x": x}, price_wei=a.price)

    for i in range(a.calls):
        call(i)
    imo.flush()
    unacked = None
    if a.stop:
        imo.signing = False
        unacked = 0
        while True:
            try:
                call(1000 + unacked)
            except InferenceServerException as e:
                if "acknowledgement required" not in str(e):
                    raise
                break
            unacked += 1
            if unacked > 1000:
                sys.exit("never cut off")
    ms = lambda xs: round(statistics.median(xs) * 1e3, 3) if xs else None
    print(json.dumps({
        "report": imo.report(),
        "unacked_calls": unacked,
        "sign_ms": ms(imo.sign_seconds),
        "verify_ms": ms(imo.verify_seconds),
    }))


if __name__ == "__main__":
    main()
