import logging

from bot.identity import sign_identity, verify_identity

SECRET = "s3cret"


def claim(customer_id="C1001", email="jane.doe@example.com", secret=SECRET):
    return {"customer_id": customer_id, "email": email, "signature": sign_identity(secret, customer_id, email)}


def test_correctly_signed_identity_is_verified():
    identity = verify_identity(SECRET, claim(email="Jane.Doe@example.com"))
    assert identity.customer_id == "C1001" and identity.email == "jane.doe@example.com"


def test_signature_by_another_secret_is_refused_and_logged(caplog):
    with caplog.at_level(logging.WARNING):
        assert verify_identity(SECRET, claim(secret="guess")) is None
    assert "bad signature" in caplog.text


def test_tampered_fields_are_refused():
    forged = claim()
    forged["customer_id"] = "C1002"
    assert verify_identity(SECRET, forged) is None
    forged = claim()
    forged["email"] = "sam.patel@example.com"
    assert verify_identity(SECRET, forged) is None


def test_missing_or_odd_claims_are_anonymous():
    for odd in (None, {}, "C1001", ["C1001"], {"customer_id": "C1001", "email": "x@example.com"}, {"signature": 1}):
        assert verify_identity(SECRET, odd) is None
