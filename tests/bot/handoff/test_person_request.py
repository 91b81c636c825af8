"""The grammar of asking for a person (bot/handoff/person_request.py).

The wordings are the project's own, written for these tests to cover requests with a topic, polite and
non-native phrasing, questions, bare one-word calls, and the near misses that must not hand off.
"""
import pytest

from bot.handoff.person_request import asks_for_person

ASKS = [
    "can I speak to a real person",
    "I'd like to talk to a human about my order",
    "speak to a human",
    "transfer me to an agent please",
    "I want a manager",
    "get me a human",
    "human",
    "agent please",
    "REAL PERSON!!",
    "operator?",
    "customer service please",
    "pls real human",
    "live chat",
    "is there a human I can talk to?",
    "is there anyone there who isn't a bot?",
    "someone who is not a bot please",
    "are there any real people working there",
    "Do you have live agents? I'd like to chat with one",
    "could someone from your team look into this?",
    "can a person call me back",
    "May I speak to a supervisor about a refund?",
    "Hello, I would like to speak with a representative about my invoice, please.",
    "I wish to be transferred to a staff member please",
    "please, is it possible to talk with a employee of the shop",
    "would prefer a team member to help",
    "let me talk to customer service",
    "put me through to someone from the support team",
    "escalate this to a manager",
    "connect me with a live agent",
    "i need to speak with someone from brightwave\u2019s customer service",
    "i'd rather talk to a person",
    "Can I chat with someone real?",
    "I want to talk to someone",
    "how can i speak to someone about a bulk order",
    "ok. now put me through to an actual human being",
    "is anybody there from your support team?",
    "Would it be possible to be transferred to one of your advisors?",
    # typos of the person word, one edit away
    "can I talk to a humna",
    "I want to speak to a preson",
    "connect me to an agnet pls",
    "would it be possible for one of your colleagues to check my account?",
    "if that's not something you can do, could you pass me to whoever handles warranty claims?",
    "can you find me someone who knows about bulk orders",
    "I'd like to speak to the billing department",
    # a team named by what it does
    "could you pass me to the warranty team",
    "can I speak to the team that handles refunds",
    "there are a couple of things I'd rather go over with someone at your end first",
    "can i tlak to an agent",
    "I would like to pass some feedback about the delivery on to a supervisor, please",
    # the loose form: a wish and someone on the company's side in the same sentence, in any order
    "could you have somebody call me back about the invoice",
    "any chance one of the people who work there could check my account?",
    "I want to sort this out with an actual human",
]

DOES_NOT_ASK = [
    "does the warranty team cover water damage?",
    "how long does the repairs team usually take?",
    "I spoke to an agent yesterday and they said it shipped",
    "my manager bought this laptop for me",
    "I don't need to talk to a person, just tell me the status",
    "no need to speak to anyone, thanks",
    "the delivery person left it at the door",
    "how do I add another person to my account",
    "can my partner return it for me",
    "i talked to customer service already and they were great",
    "where is my order",
    "the rep at the store told me to contact you",
    "can someone else pick up my parcel",
    "are you a bot",
    "my friend wants to talk about the Pulse 700",
    "Can I transfer my warranty to another person?",
    "does the watch work for left-handed people",
    "can I speak into the mic during calls",
    "talk to me about care plus plans",
    "can someone help me with my order",
    "is there anyone who can fix a cracked screen near me?",
    "the humane society rehomed our dog",
    "my agenda is full this week, can you deliver on saturday",
    "there is someone there at the door",
    "my colleague ordered the laptop for me",
    "is it possible for my partner to pick it up?",
    "who handles returns at the store?",
    "I'm not asking for a refund, can you check the status",
    "that's a tall order for one person",
    "I gave the box to the delivery person",
    "I'd like to go over the return policy first",
    "could a person pick it up for me if I'm out?",
    "can someone sign for it at the door",
    "my boss wants an invoice, can you send one?",
    "the agent said I could return it within 30 days",
    "",
    "   ",
]


@pytest.mark.parametrize("text", ASKS)
def test_requests_for_a_person_are_recognised(text: str) -> None:
    assert asks_for_person(text), text


@pytest.mark.parametrize("text", DOES_NOT_ASK)
def test_near_misses_are_not_requests(text: str) -> None:
    assert asks_for_person(text) is None, text


def test_the_matched_words_are_returned_for_the_agent() -> None:
    assert asks_for_person("Hi! Could I please speak to a real person about my refund?") == "could i please speak to a real person"


def test_an_essay_is_left_to_the_nlu() -> None:
    assert asks_for_person("speak to a human " + "x" * 3000) is None


# The company's own names (company.yml) stand where "your" does; the grammar knows no company by itself.
@pytest.mark.parametrize("text", [
    "is anyone from Acme Outdoor support there?",
    "could one of acme's agents call me back",
    "I want an Acme agent",
])
def test_the_company_named_in_the_profile_is_the_companys_side(text: str) -> None:
    assert asks_for_person(text, ("Acme Outdoor", "Acme")), text


def test_another_companys_name_is_not_the_companys_side() -> None:
    assert asks_for_person("is anyone from Acme support there?", ("Brightwave",)) is None
    assert asks_for_person("is anyone from Acme support there?", ("Acme",)) == "is anyone from acme support"
