"""Whether a customer's message asks for a person, in whatever words.

The NLU's `request_human` intent catches the common wordings, but a request that carries a topic ("I'd
like to speak to a real person about a warranty claim"), polite or non-native phrasing ("I wish to be
transferred to a staff member") or a question ("is there anyone there who isn't a bot?") often lands on
another intent. A request for a person is always honoured, so it must not depend on a classifier's
mood: this small grammar is checked on every message by the handoff policy, like the policy topics.

It looks for a *request* (a modal such as "can I", "I'd like", "please", or an imperative at the start
of a clause) joined to a *contact verb* ("speak to", "talk with", "be transferred to", "put me through
to") and a *person* ("a real person", "someone from your team", "a manager", "an agent"), or for one of
a few fixed forms ("is there a human", "anyone who isn't a bot", "human please", "escalate this to a
manager"). A negation right before it ("I don't need to talk to anyone") cancels it, and past-tense
reports ("I spoke to an agent yesterday") do not match. The company's own names (company.yml, passed in by the
caller) stand where "your" does: "one of Acme's agents", "someone from Acme support", "an Acme agent". Pure: no Rasa,
no model.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Optional, Sequence, Tuple

# The company's names (company.yml) are replaced by this token before matching (`_clean`), so the grammar is the same
# for every company; a token no customer types, and no word the grammar knows.
COMPANY = "<company>"
_CO = re.escape(COMPANY)
# Who the customer wants. Bare "someone" / "anyone" only count with a contact verb and a request.
_REAL = (
    rf"(?:(?:a|an|the|some|one|your|a\s+real|an\s+actual|a\s+live|a\s+proper|one\s+of\s+(?:your|the|{_CO}(?:'s)?))\s+)?"
    rf"(?:{_CO}(?:'s)?\s+)?(?:(?:real|actual|live|proper|human)\s+)?"
)
_PERSON_NOUN = (
    r"(?:person|people|human(?:\s+being)?|humans|agent|representative|rep|operator|manager|supervisor|"
    r"staff(?:\s+member)?|member\s+of\s+(?:your\s+|the\s+)?(?:staff|team)|team\s+member|employee|advis[eo]r|associate|"
    r"customer\s+(?:service|support|care)(?:\s+(?:agent|rep|representative|person|team|staff))?|"
    r"support\s+(?:agent|person|team|staff)|somebody\s+real|someone\s+real|colleagues?|specialist|"
    r"(?:returns|billing|sales|business|support|customer\s+service|accounts?|warranty|repairs?|technical|tech|refunds?|"
    r"complaints?|escalations?|delivery|shipping|orders?)\s+(?:department|team|desk))"
)
_SOMEONE = r"(?:someone|somebody|anyone|anybody)"
_FROM_YOU = rf"(?:\s+(?:from|at|on|in|of)\s+(?:your|the|{_CO}(?:'s)?)\s+(?:team|staff|company|store|shop|support|side|end|customer\s+service))"
_NOT_A_BOT = r"who\s+(?:is|isn't|is\s+not)\s+(?:not\s+)?a\s+(?:bot|robot|machine)"
PERSON = rf"(?:{_REAL}{_PERSON_NOUN}(?:{_FROM_YOU})?|{_SOMEONE}{_FROM_YOU}|{_SOMEONE}\s+(?:real|human|{_NOT_A_BOT}))"

# whoever does a job: "pass me to whoever handles business orders"
_WHOEVER = (
    r"(?:whoever|the\s+(?:person|people|team|department|folks)\s+(?:who|that))\s+"
    r"(?:handles|deals\s+with|is\s+in\s+charge\s+of|looks\s+after|manages|does|can|could|is\s+responsible\s+for)"
)
# after a contact verb a bare "someone" is a person too: "can I talk to someone?" (to a bot) means a human
_ANY_PERSON = rf"(?:{PERSON}|{_WHOEVER}|{_SOMEONE}\b(?!\s+else))"

_CONTACT = (
    r"(?:speak|talk|chat|write|get\s+through|go\s+(?:over|through)(?:\s+(?:it|this|that|them|the\s+\w+|a\s+few\s+\w+))?|"
    r"discuss(?:\s+(?:it|this|that|them))?|sort(?:\s+(?:it|this|that))?(?:\s+out)?|"
    r"be\s+(?:put\s+through|connected|transferred|passed|handed\s+over|routed|escalated)|"
    r"connect\s+me|transfer\s+me|put\s+me\s+through|pass\s+me|hand\s+me\s+over|route\s+me|escalate\s+(?:this|it|me|my\s+\w+))"
)
_TO = r"(?:\s+(?:to|with|over\s+to|through\s+to))"
_REQUEST = (
    r"(?:can|could|may|might|would|will)\s+(?:i|we|you|u|someone|somebody)(?:\s+please)?|"
    r"i(?:'d|\s+would|\s+want|\s+wanna|\s+need|\s+wish|\s+demand|\s+insist|\s+must|\s+have|\s+prefer|\s+would\s+prefer|"
    r"\s+would\s+rather|'d\s+rather|'d\s+prefer|\s+really\s+(?:want|need))(?:\s+(?:like|love))?(?:\s+to)?|"
    r"let\s+me|please|pls|plz|i\s+am\s+asking\s+to|i'm\s+asking\s+to|(?:is|would|will)\s+it\s+be\s+possible\s+to|"
    r"is\s+it\s+possible\s+to|want\s+to|need\s+to|"
    r"(?:how|where)\s+(?:can|do)\s+i|i\s+have\s+to|gotta|just"
)
# a negation shortly before the request, in the same clause, cancels it ("if that's not possible, could you ..." does not)
_NEGATION = re.compile(r"\b(?:don't|dont|do\s+not|doesn't|didn't|no\s+need|not|never|without|no)\b")
_NEGATION_REACH = 30


def _negated(preceding: str) -> bool:
    """Whether the words just before a request (its own clause or sentence) negate it."""
    return _NEGATION.search(preceding[-_NEGATION_REACH:]) is not None

_PATTERNS = (
    # "can I speak to a real person", "I'd like to be transferred to a staff member", "please connect me with an agent"
    re.compile(rf"(?:^|[.!?,;:]\s*|\b)(?:{_REQUEST})\s+(?:\w+\s+){{0,3}}?{_CONTACT}{_TO}\s+{_ANY_PERSON}"),
    # an imperative at the start of a clause: "speak to a human", "transfer me to an agent"
    re.compile(rf"(?:^|[.!?;:]\s*)(?:(?:ok|okay|so|then|now|just|yes|hi|hello|hey)[, ]+)?{_CONTACT}{_TO}\s+{_ANY_PERSON}"),
    # "get me a human", "give me a real person", "I want a manager", "I need an agent"
    re.compile(rf"(?:\b(?:get|give|find|send)\s+me|\bi\s+(?:want|need|demand|would\s+like|'d\s+like)|\bcan\s+i\s+(?:have|get))\s+{PERSON}\b"),
    # "is there a human", "is there anyone there who isn't a bot", "are there any real people"
    re.compile(rf"\b(?:is|are)\s+there\s+(?:any\s+)?(?:{_REAL}{_PERSON_NOUN}|{_SOMEONE}(?:\s+there)?\s+(?:who|that)\s+(?:is\s+not|isn't|is\s+n't|'s\s+not|aren't|are\s+not)\s+a\s+(?:bot|robot|machine)|{_SOMEONE}\s+(?:real|human))"),
    # "is there anyone there from your team who could ..." (a bare "hi, anyone there?" is a greeting to a bot)
    re.compile(rf"\b(?:is|are)\s+(?:there\s+)?{_SOMEONE}(?:\s+there)?{_FROM_YOU}"),
    # "anyone real?", "someone who isn't a bot"
    re.compile(rf"\b{_SOMEONE}\s+(?:there\s+)?(?:who|that)\s+(?:is\s+not|isn't|'s\s+not|aren't|are\s+not)\s+a\s+(?:bot|robot|machine)"),
    # "could someone from your team have a look at my case", "can a person call me"
    re.compile(
        rf"\b(?:can|could|would|will|may)\s+(?:{_SOMEONE}{_FROM_YOU}|{_REAL}{_PERSON_NOUN}(?:{_FROM_YOU})?)\s+(?:please\s+)?"
        r"(?:have\s+a\s+look|take\s+a\s+look|look\s+(?:at|into)|check|help|call|ring|phone|contact|email|get\s+(?:back|in\s+touch)|"
        r"review|handle|deal\s+with|sort)"
    ),
    # "would it be possible for one of your colleagues to look at my account"
    re.compile(
        rf"\b(?:possible|ok|okay|able)\s+for\s+(?:{PERSON}|{_SOMEONE}{_FROM_YOU})\s+to\s+"
        r"(?:have\s+a\s+look|take\s+a\s+look|look|check|help|call|ring|phone|contact|email|get\s+back|review|handle|deal|sort)"
    ),
    # "can you get me someone who can redirect it", "find me somebody who knows about bulk orders"
    re.compile(rf"\b(?:get|find|give|put)\s+me\s+(?:in\s+touch\s+with\s+)?(?:{_SOMEONE}|{_WHOEVER})\s*(?:who|that)?\s*(?:can|could|knows|is\s+able|handles|deals)"),
    # "do you have live agents?", "do you have any real people there"
    re.compile(r"\bdo\s+(?:you|u)\s+(?:have|employ)\s+(?:any\s+)?(?:real|live|human|actual)\s+(?:people|persons|agents|humans|staff|reps)\b"),
    # "would prefer a team member to help", "I'd rather have a person handle this"
    re.compile(rf"\b(?:prefer|rather\s+have|like)\s+{PERSON}\s+to\s+(?:help|handle|look|deal|take|sort|check)"),
    # "I'd like to give some feedback on how it was handled to a manager", "please pass my complaint on to a supervisor"
    re.compile(
        rf"(?:^|[.!?,;:]\s*|\b)(?:{_REQUEST})\s+(?:\w+\s+){{0,2}}?(?:give|pass|send|share|raise|bring|take|escalate)\b"
        rf"[^.?!]{{0,70}}?\bto\s+{PERSON}\b"
    ),
    # "escalate this to a manager", "pass this on to a person"
    re.compile(rf"\b(?:escalate|pass|hand|forward|send)\s+(?:this|it|me|my\s+\w+)(?:\s+on)?{_TO}\s+{PERSON}\b"),
)
# The loose form, tried last: a wish ("could", "I'd rather", "is there", "any chance") and, within a few words of
# it in the same sentence, a reference to someone on the company's side ("one of your colleagues", "someone who
# works there", "your boss", "a callback"). The patterns above want the words in their usual order; customers
# put them in any order, and the pair alone is rare outside a request (no match among the NLU's ~1,000 other
# examples nor the benchmark's non-request turns). Someone to collect, sign or receive a parcel is not it.
_WISH = (
    r"(?:can|could|would|may|will|i'd|i\s+would|i\s+want|i\s+need|i\s+wish|please|pls|plz|rather|prefer|possible|"
    r"wanna|gotta|let\s+me|is\s+there|are\s+there|any\s+chance|how\s+(?:do|can)\s+i|where\s+can\s+i)"
)
_ON_YOUR_SIDE = (
    rf"(?<!another\s)(?<!other\s)(?<!my\s)(?:{_REAL}{_PERSON_NOUN}|{_WHOEVER}|your\s+boss|"
    rf"{_SOMEONE}\s+(?:who|that)\s+(?:works|is\s+(?:from|at|with)|actually)|{_SOMEONE}{_FROM_YOU}|{_SOMEONE}\s+(?:real|human)|"
    r"a\s+(?:call\s*back|phone\s+call)|(?:call|ring|phone)\s+me(?:\s+back)?)"
)
_LOOSE = re.compile(
    rf"\b{_WISH}\b(?:\s+\S+){{0,8}}?\s+{_ON_YOUR_SIDE}\b"
    r"(?!\s+(?:else|to\s+pick|pick|collect|sign|receive|use|be\s+there|at\s+the\s+door|leave))"
)
# The whole message is a call for a person: "human", "agent please", "REAL PERSON!!", "operator?"
_SHORT = re.compile(
    rf"^(?:(?:hi|hello|hey|ok|okay|please|pls|plz|just)[, ]+)?(?:{_REAL}{_PERSON_NOUN}|live\s+chat|human\s+please)"
    r"(?:[, ]+(?:please|pls|plz|now|asap|thanks|thank\s+you))*[.!?]*$"
)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'"})


# Words that name a person or the talking, and their typos within one edit ("humen", "huamn", "agnet", "tlak")
# read as them: a request for a person must not fail on a slip of the keyboard. Plurals are words.
_PERSON_WORDS = (
    "human", "person", "agent", "someone", "somebody", "operator", "manager", "supervisor", "representative", "talk", "speak"
)
# real words one edit from those, left alone ("a task for", "a tall order"; "humane", "parson")
_REAL_WORDS = frozenset({"task", "tall", "tale", "tail", "tack", "talc", "teak", "sneak", "speck", "spear", "humane", "parson"})
_TOKEN = re.compile(r"[a-z]+")


def _one_edit_apart(word: str, target: str) -> bool:
    """Whether `word` becomes `target` by one insertion, deletion, substitution or swap of neighbours."""
    if abs(len(word) - len(target)) > 1 or word == target:
        return False
    if len(word) == len(target):
        diffs = [i for i, (a, b) in enumerate(zip(word, target)) if a != b]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and word[diffs[0]] == target[diffs[1]] and word[diffs[1]] == target[diffs[0]]
        )
    short, long_ = (word, target) if len(word) < len(target) else (target, word)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def _spell_person_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if len(word) >= 4 and word not in _REAL_WORDS and word not in _PERSON_WORDS and word.removesuffix("s") not in _PERSON_WORDS:
        for target in _PERSON_WORDS:
            if word[0] == target[0] and _one_edit_apart(word, target):
                return target
    return word


@lru_cache(maxsize=16)
def _company_mentions(names: tuple) -> "Optional[re.Pattern[str]]":
    """The company's names (lower case, apostrophes straightened) as whole words, possessive included."""
    words = sorted({" ".join(n.translate(_APOSTROPHES).lower().split()) for n in names if n.strip()}, key=len, reverse=True)
    if not words:
        return None
    alternatives = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in words)
    return re.compile(rf"(?<![\w'])(?:{alternatives})(?![\w])")


def _clean(text: str, company_names: Sequence[str] = ()) -> Tuple[str, str]:
    """The message as the grammar reads it, and the first company name it mentioned (for the words returned)."""
    message = " ".join(text.translate(_APOSTROPHES).lower().split())
    mentions = _company_mentions(tuple(company_names))
    said = ""
    if mentions is not None:
        found = mentions.search(message)
        said = found.group(0) if found else ""
        message = mentions.sub(COMPANY, message)
    return _TOKEN.sub(_spell_person_word, message), said


def asks_for_person(text: str, company_names: Sequence[str] = ()) -> Optional[str]:
    """The words that ask for a person, or None. Case, curly apostrophes and spacing do not matter; `company_names`
    (the profile's names and aliases) count as the company's side."""
    message, said = _clean(text, company_names)
    words = _matched_words(message)
    return words.replace(COMPANY, said) if words and said else words


def _matched_words(message: str) -> Optional[str]:
    if not message or len(message) > 2000:  # an essay is not a request; the NLU still classifies it
        return None
    short = _SHORT.match(message)
    if short:
        return short.group(0)
    for pattern in _PATTERNS:
        for match in pattern.finditer(message):
            # the clause before the request (a match may start with the punctuation that opens it)
            start = match.start() + len(match.group(0)) - len(match.group(0).lstrip(" .,;:!?"))
            if _negated(re.split(r"[.!?,;]", message[:start])[-1]):
                continue
            return match.group(0).strip(" .,;:!?")
    for sentence in re.split(r"[.!?;]", message):
        match = _LOOSE.search(sentence)
        if match and not _negated(sentence[: match.start()]):
            return match.group(0).strip(" .,;:!?")
    return None
