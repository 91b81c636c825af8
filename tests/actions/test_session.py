import logging

from actions.session import ActionSessionStart
from bot.identity import sign_identity
from tests.actions.test_orders import run, slots
from tests.conftest import IDENTITY_SECRET
from tests.factories import make_tracker

IDENTITY = ("customer_id", "customer_verified", "customer_first_name")


def identity(events):
    return {k: v for k, v in slots(events).items() if k in IDENTITY}


def signed(customer_id="C1001", email="jane.doe@example.com", secret=IDENTITY_SECRET):
    return {"customer": {"customer_id": customer_id, "email": email,
                         "signature": sign_identity(secret, customer_id, email)}}


def test_signed_customer_is_greeted_by_name(services):
    events, _ = run(ActionSessionStart(), make_tracker(slots={"session_started_metadata": signed()}))
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert identity(events) == {"customer_id": "C1001", "customer_verified": True, "customer_first_name": "Jane"}


def test_forged_signature_is_anonymous_and_logged(services, caplog):
    with caplog.at_level(logging.WARNING):
        events, _ = run(ActionSessionStart(), make_tracker(
            slots={"session_started_metadata": signed(secret="forged")}))
    assert identity(events) == {"customer_verified": False}
    assert "bad signature" in caplog.text


def test_signed_identity_must_match_the_store(services):
    events, _ = run(ActionSessionStart(), make_tracker(
        slots={"session_started_metadata": signed(customer_id="C1001", email="someone@example.com")}))
    assert identity(events) == {"customer_verified": False}


def test_identity_is_not_carried_into_an_anonymous_session(services):
    events, _ = run(ActionSessionStart(), make_tracker(slots={
        "customer_id": "C1001", "customer_verified": True, "customer_first_name": "Jane",
        "email": "jane.doe@example.com"}))
    assert identity(events) == {"customer_verified": False}
    assert slots(events)["email"] == "jane.doe@example.com"  # other slots carry over


def test_an_email_signed_by_a_channel_links_the_store_customer(services):
    from bot.identity import sign_email

    claim = {"customer": {"email": "jane.doe@example.com", "signature": sign_email(IDENTITY_SECRET, "jane.doe@example.com")}}
    events, _ = run(ActionSessionStart(), make_tracker(slots={"session_started_metadata": claim}))
    assert identity(events) == {"customer_id": "C1001", "customer_verified": True, "customer_first_name": "Jane"}
    unknown = {"customer": {"email": "bob@somewhere.example", "signature": sign_email(IDENTITY_SECRET, "bob@somewhere.example")}}
    events, _ = run(ActionSessionStart(), make_tracker(slots={"session_started_metadata": unknown}))
    assert identity(events) == {"customer_verified": False}


def test_the_company_profile_is_set_for_the_responses_and_not_carried_over(services):
    stale = {"company_name": "Old Name", "session_started_metadata": {}}
    events, _ = run(ActionSessionStart(), make_tracker(slots=stale))
    company = {e["name"]: e["value"] for e in events if e["event"] == "slot" and e["name"].startswith(("company", "assistant", "team"))}
    assert company == {"company_name": "Brightwave", "assistant_name": "Wave", "company_tone": "casual",
                       "team_contact": services.company.team_contact()}
    assert all(e.get("value") != "Old Name" for e in events)


def test_a_session_starts_unrecognised_when_the_order_system_is_down(services, monkeypatch, caplog):
    from bot.store.directory import StoreUnavailable

    def down(customer_id):
        raise StoreUnavailable("the store database cannot be used: connection refused")

    monkeypatch.setattr(services.orders, "customer", down)
    with caplog.at_level(logging.WARNING):
        events, _ = run(ActionSessionStart(), make_tracker(slots={"session_started_metadata": signed()}))
    assert events[0]["event"] == "session_started" and events[-1]["name"] == "action_listen"
    assert identity(events) == {"customer_verified": False}
    assert "could not be looked up" in caplog.text
