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


def test_an_email_alone_signed_by_a_channel_is_verified_without_a_customer_id():
    from bot.identity import sign_email

    identity = verify_identity(SECRET, {"email": "Jane.Doe@example.com", "signature": sign_email(SECRET, "jane.doe@example.com")})
    assert identity.customer_id == "" and identity.email == "jane.doe@example.com"
    # a website signature is not an email-only signature, and a wrong secret is refused
    website = claim()
    assert verify_identity(SECRET, {"email": website["email"], "signature": website["signature"]}) is None
    assert verify_identity(SECRET, {"email": "jane.doe@example.com", "signature": sign_email("other", "jane.doe@example.com")}) is None
