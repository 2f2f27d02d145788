"""imo-oracle client: acknowledged billing for the unmodified tritonclient.http."""

from .ack import ImoAck, ReceiptError
from .canonical import canonical_hash

__all__ = ["ImoAck", "ReceiptError", "canonical_hash"]
