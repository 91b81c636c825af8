"""Verified customer identity passed by the host site (website widget, REST metadata).

The host site signs `customer_id` and `email` with a secret it shares with the assistant:
    signature = hex(HMAC-SHA256(IDENTITY_SECRET, f"{customer_id}:{email}"))
Anything unsigned or badly signed is treated as anonymous.

A channel that knows only the customer's email (Slack: the email Slack verified for the user)
signs that alone: signature = hex(HMAC-SHA256(IDENTITY_SECRET, f"email:{email}")), with no
customer_id; the assistant then looks the customer up by email.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Optional

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifiedIdentity:
    customer_id: str  # "" when only the email was signed
    email: str


def sign_identity(secret: str, customer_id: str, email: str) -> str:
    return _hmac(secret, f"{customer_id}:{email.strip().lower()}")


def sign_email(secret: str, email: str) -> str:
    return _hmac(secret, f"email:{email.strip().lower()}")


def _hmac(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_identity(secret: str, claim: Any) -> Optional[VerifiedIdentity]:
    """Return the identity if `claim` ({customer_id, email, signature}) is correctly signed."""
    if not claim:
        return None
    if not isinstance(claim, Mapping):
        logger.warning("identity claim ignored: expected an object, got %s", type(claim).__name__)
        return None
    customer_id, email, signature = (str(claim.get(k) or "") for k in ("customer_id", "email", "signature"))
    if not (email and signature):
        logger.warning("identity claim ignored: email and signature are required")
        return None
    expected = sign_identity(secret, customer_id, email) if customer_id else sign_email(secret, email)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        logger.warning("identity claim for customer %r ignored: bad signature", customer_id)
        return None
    return VerifiedIdentity(customer_id=customer_id, email=email.strip().lower())
