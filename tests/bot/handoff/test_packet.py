from bot.handoff.models import FRUSTRATED
from bot.handoff.packet import PacketInput, build_packet, transcript, wants


def user(text, intent, confidence=0.9, entities=(), frustration=None, ts=1_790_000_000.0):
    parse = {"intent": {"name": intent, "confidence": confidence}, "entities": list(entities)}
    if frustration is not None:
        parse["frustration"] = {"score": frustration, "signals": []}
    return {"event": "user", "text": text, "timestamp": ts, "parse_data": parse}


def bot(text, ts=1_790_000_001.0, **metadata):
    return {"event": "bot", "text": text, "timestamp": ts, "metadata": metadata}


EVENTS = [
    {"event": "action", "name": "action_session_start"},
    user("where is order 104512", "order_status", 0.97, [{"entity": "order_number", "value": "104512", "start": 15}], 0.1),
    {"event": "action", "name": "action_order_status"},
    bot("Order 104512 shipped with UPS on Oct 2."),
    user("it still hasn't arrived!!", "complain", 0.81, frustration=0.7),
    user("WHERE IS MY PARCEL", "order_status", 0.66, frustration=0.9),
    bot("Hi, I'm Maya from the team.", agent="Maya"),
]


def test_transcript_keeps_times_intents_entities_and_authors():
    turns = transcript(EVENTS)
    assert [t.who for t in turns] == ["customer", "bot", "customer", "customer", "agent"]
    first = turns[0].as_dict()
    assert first["at"] == "2026-09-21T14:13:20+00:00"
    assert (first["intent"], first["confidence"]) == ("order_status", 0.97)
    assert first["entities"] == [{"entity": "order_number", "value": "104512"}]
    assert turns[-1].as_dict()["agent"] == "Maya" and "intent" not in turns[1].as_dict()


def test_wants_is_the_latest_task_or_their_words():
    assert wants(transcript(EVENTS)) == "check where an order is"
    assert wants(transcript([user("my cat ate the cable", "nlu_fallback", 0.2)])) == 'said "my cat ate the cable"'


def test_packet_has_everything_the_agent_needs():
    packet = build_packet(EVENTS, PacketInput(
        conversation_id="c-1", channel="socketio", reason=FRUSTRATED, reason_detail="customer frustrated (caps)",
        customer={"name": "Jane Doe", "email": "jane.doe@example.com", "verified": True},
        slots={"verified_order": "104512", "requested_slot": None, "kb_misses": 0, "email": "jane.doe@example.com"},
        articles_shown=[{"article_id": "track-your-order", "title": "Track your order", "helpful": False}],
        suggested_articles=[{"article_id": "package-not-received", "title": "Package not received"}],
        frustration_score=0.83, frustration_reasons=["rising negativity over 3 messages"]))
    assert packet["summary"] == ('Wants to check where an order is (order 104512). Tried: showed the order status; '
                                 'help-centre article "Track your order" (did not help). Handed over: customer frustrated (caps).')
    assert packet["slots"] == {"verified_order": "104512", "email": "jane.doe@example.com"}
    assert packet["frustration"] == {"score": 0.83, "trajectory": [0.1, 0.7, 0.9], "reasons": ["rising negativity over 3 messages"]}
    assert packet["customer"]["verified"] and packet["channel"] == "socketio" and packet["reason"] == FRUSTRATED
    assert packet["suggested_articles"][0]["article_id"] == "package-not-received"
    assert len(packet["transcript"]) == 5


def test_packet_for_a_silent_customer():
    packet = build_packet([], PacketInput(conversation_id="c", channel="rest", reason="customer_request",
                                          reason_detail="asked for a person", customer={}, slots={}))
    assert packet["summary"] == "Has not said what they need yet. Nothing tried yet. Handed over: asked for a person."
