from rasa_sdk.events import ActiveLoop, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.returns import ActionAskReturnItem, ActionStartReturn, prefill, validate_item, validate_kind, validate_reason
from bot.store.directory import SqlCustomerDirectory
from tests.actions.test_orders import install, responses, run, slots, texts  # noqa: F401 - install: a fixture
from tests.factories import make_tracker

JANE_103877 = {"verified_order": "103877", "email": "jane.doe@example.com"}


def test_return_creates_authorisation(services, directory):
    events, dispatcher = run(ActionStartReturn(), make_tracker(slots={
        **JANE_103877, "return_item": "BW-WBP", "return_kind": "refund", "return_reason": "changed my mind"}))
    said = texts(dispatcher)
    assert "RA-103877-1" in said and "Wavelet Buds Pro" in said and "$179.99" in said
    assert directory.returns_for_order("103877")[0].kind == "refund"
    assert slots(events)["return_item"] is None


def test_damaged_exchange_is_apologised_for(services):
    _, dispatcher = run(ActionStartReturn(), make_tracker(slots={
        **JANE_103877, "return_item": "BW-CABLE2", "return_kind": "exchange", "return_reason": "damaged or faulty"}))
    said = texts(dispatcher)
    assert said.startswith("I'm sorry it arrived like that") and "replacement" in said


def test_return_outside_window_offers_the_warranty(services, directory):
    _, dispatcher = run(ActionStartReturn(), make_tracker(slots={
        **JANE_103877, "verified_order": "102250", "return_item": "BW-OWS2", "return_kind": "refund",
        "return_reason": "x"}))
    said = texts(dispatcher)
    assert "closed on" in said and "warranty" in said
    assert directory.returns_for_order("102250") == []


def test_return_of_unshipped_order_suggests_cancelling(services):
    _, dispatcher = run(ActionStartReturn(), make_tracker(slots={
        "verified_order": "105001", "email": "sam.patel@example.com"}))
    assert "cancel it for you instead" in texts(dispatcher)


def test_return_without_verification_reveals_nothing(services, directory):
    _, dispatcher = run(ActionStartReturn(), make_tracker(slots={
        "verified_order": "103877", "email": "wrong@example.com", "return_item": "BW-WBP",
        "return_kind": "refund", "return_reason": "x"}))
    assert "103877" not in texts(dispatcher)
    assert directory.returns_for_order("103877") == []


def test_ask_return_item_lists_the_orders_items(services):
    _, dispatcher = run(ActionAskReturnItem(), make_tracker(slots=JANE_103877))
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["Wavelet Buds Pro", "Brightwave USB-C Cable (2 m)"]


def test_item_by_sku_or_name(services, directory):
    order = directory.get_order("103877")
    assert validate_item("BW-CABLE2", order, CollectingDispatcher()) == {"return_item": "BW-CABLE2"}
    assert validate_item("the wavelet buds pro", order, CollectingDispatcher()) == {"return_item": "BW-WBP"}
    dispatcher = CollectingDispatcher()
    assert validate_item("a toaster", order, dispatcher) == {"return_item": None}
    assert "which item" in texts(dispatcher)


def test_kind_and_reason_from_free_text():
    assert validate_kind("I'd like my money back", CollectingDispatcher()) == {"return_kind": "refund"}
    assert validate_kind("swap for another colour", CollectingDispatcher()) == {"return_kind": "exchange"}
    assert validate_kind("hmm", CollectingDispatcher()) == {"return_kind": None}
    assert validate_reason("it stopped working after a day", CollectingDispatcher()) == {
        "return_reason": "damaged or faulty"}
    assert validate_reason("  gift for my nephew  ", CollectingDispatcher()) == {"return_reason": "gift for my nephew"}
    assert len(validate_reason("x" * 5000, CollectingDispatcher())["return_reason"]) == 200


def test_costly_damage_claim_goes_to_a_person(services, directory):
    events, dispatcher = run(ActionStartReturn(), make_tracker(slots={
        **JANE_103877, "return_item": "BW-WBP", "return_kind": "exchange", "return_reason": "damaged or faulty"}))
    assert "a person from our team to sort this out" in texts(dispatcher)
    assert slots(events)["handoff_reason"] == "policy_topic" and "$179.99" in slots(events)["handoff_detail"]
    assert events[-1]["name"] == "action_handoff"
    assert directory.returns_for_order("103877") == []
    # the form skipped "refund or exchange?" for such a claim: the handoff does not wait for it
    events, _ = run(ActionStartReturn(), make_tracker(slots={
        **JANE_103877, "return_item": "BW-WBP", "return_reason": "damaged or faulty"}))
    assert slots(events)["handoff_reason"] == "policy_topic"


def test_the_longest_product_name_named_is_the_item(services, directory):
    from dataclasses import replace

    order = directory.get_order("103877")  # Wavelet Buds Pro + a cable
    buds = replace(order.items[1], sku="BW-WB", product="Wavelet Buds")
    both = replace(order, items=(order.items[0], buds))
    assert prefill(both, ["return my wavelet buds pro please"]) == {"return_item": "BW-WBP"}
    assert prefill(both, ["the Wavelet Buds, not the pro"]) == {"return_item": "BW-WB"}
    assert prefill(both, ["return something"]) == {}


def test_listing_the_items_while_the_store_is_down_ends_the_return_with_try_again(install, tmp_path):  # noqa: F811
    install(SqlCustomerDirectory.from_url(f"sqlite:///{tmp_path / 'no-such-folder' / 'store.db'}"))
    events, dispatcher = run(ActionAskReturnItem(), make_tracker(slots=JANE_103877))
    assert responses(dispatcher) == ["utter_order_system_unavailable"]
    assert ActiveLoop(None) in events and events[-1] == FollowupAction("action_listen")
