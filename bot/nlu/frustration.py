"""Per-message frustration score: logistic regression over a sentence embedding, VADER and cue features.

A message is scored 0..1 (the probability that a customer who writes it is frustrated, angry or
complaining) and returns the cues that were found in it, for the agent and for the conversation-level
rules in `bot/handoff/frustration.py`:

- `negative`: the score is at or above the model's threshold (the message reads as frustrated overall);
- `caps`: shouting in capitals (acronyms such as ANC, USB-C or RA numbers do not count);
- `profanity`: mild swearing ("what the hell", "crap", "wtf", ...);
- `repeat_ask`: the customer says they are asking again ("third time I ask", "still no refund",
  "I already told you", "AGAIN");
- `sarcasm`: praise wrapped around a problem ("great, just great, another delay", "thanks for nothing"), and
  politeness used as a weapon ("thanks for the tracking number I already have", "I'll just wait then, shall I?");
- `threat_legal`: chargebacks, lawyers, courts, consumer-protection complaints;
- `upset`: the customer says how they feel ("I'm getting really angry", "I'm so done with this", "Really
  disappointed.", "I expected better than this"), calls the situation unacceptable ("this is ridiculous"), says they are leaving ("thinking of
  shopping there from now on", "never ordering from you again") or threatens a bad review. A signal only, not a
  model feature.

The model is trained only on the project's own written examples (`bot/nlu/frustration_examples/`) with
the permissively licensed VADER lexicon (MIT) as features; the public datasets are only for measuring
(`bot/bench/frustration.py`). C and the decision threshold are chosen by cross-validation on those same
examples (C by out-of-fold log loss, the threshold by out-of-fold F1, on the recall side of its plateau), so
training needs nothing else.
Weights are plain arrays (saved as npz, loaded without pickle).

No Rasa import here: the Rasa component (`frustration_component.py`) and the benchmark both use this
module. Nothing loads at import time; the VADER lexicon is read on first use, once per process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from bot.embeddings import Embedder

logger = logging.getLogger(__name__)

EXAMPLES_DIR = Path(__file__).resolve().parent / "frustration_examples"
FRUSTRATED_FILE = "frustrated.txt"
NOT_FRUSTRATED_FILE = "not_frustrated.txt"

SIGNALS = ("negative", "caps", "profanity", "repeat_ask", "sarcasm", "threat_legal", "upset")
CUE_FEATURES = (
    "caps", "caps_ratio", "exclamations", "question_burst", "profanity", "repeat_ask", "sarcasm", "threat_legal", "long_wait"
)
VADER_FEATURES = ("vader_neg", "vader_neu", "vader_pos", "vader_compound")
_SARCASM_COLUMN = CUE_FEATURES.index("sarcasm")
FORMAT_VERSION = 1

# C candidates and folds of the cross-validation on the project's own examples
DEFAULT_C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
DEFAULT_FOLDS = 5
# The decision threshold comes from the out-of-fold F1 (`recall_side_threshold`), never outside this band: a threshold at an
# extreme of a few hundred examples is noise, not calibration.
THRESHOLD_BAND = (0.3, 0.7)

# --------------------------------------------------------------------------------------------
# Cues (regular expressions, no model)
# --------------------------------------------------------------------------------------------

# Capitalised words that are names, units or codes, not shouting.
ACRONYMS = frozenset(
    """
    ANC USB LED FAQ USA US UK ID OK NYC HSA GPS SKU AAC RA UPS USPS FEDEX DHL PDF VAT TV PC PIN SMS ETA EST
    PST ET PT AM PM BBB FTC IP IOS EQ HD UHD SD AI API URL CEO HR IT NFC AUX DC AC USBC SSD RAM CPU
    APTX LDAC SBC MP3 LTE WIFI BT ASAP FYI TBH AKA PS ATM CA NY TX FL WA NJ IL ZIP II III IV
    """.split()
)
_WORD = re.compile(r"[A-Za-z][A-Za-z']*")

_PROFANITY = re.compile(
    r"\b(damn\w*|dammit|goddamn\w*|god damn|crap\w*|wtf|wth|omfg|ffs|bs|bullshit|shit\w*|fuck\w*|f\*+k\w*|fck\w*|"
    r"pissed|piss\w*|screw (?:this|you|it|that|them)|sucks?|sucked|freakin\w*|frickin\w*|friggin\w*|bloody|"
    r"arse\w*|ass|asshole\w*|bastard\w*|hell)\b",
    re.IGNORECASE,
)

_REPEAT_ASK = re.compile(
    r"\b(?:second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th|nth|umpteenth|\d+th) (?:time|email|chat|message|call)\b"
    r"|\b(?:ask\w*|told|tell\w*|said|explain\w*|contact\w*|email\w*|call\w*|written|wrote|messag\w*|sent|chatted|report\w*)\b"
    r"[^.?!]{0,30}\b(?:twice|two times|three times|four times|five times|\d+ times|several times|many times|multiple times)\b"
    r"|\bhow many (?:more )?times\b"
    r"|\b(?:yet|once) again\b"
    r"|^\s*again\b"
    r"|\b(?:asking|asked|telling|told|saying|explaining|explained|repeating)\b[^.?!]{0,25}\bagain\b"
    r"|\b(?:delayed|late|cancell?ed|crashed|disconnected|charged|broke|broken|failed|stopped|died|lost|wrong|down|stuck|"
    r"missing|declined|rejected|postponed|out|off)\s+again\b"
    r"|\bstill (?:no|not|nothing|waiting|broken|missing|pending|stuck|the same|says|shows|have(?:n't| not)|has(?:n't| not)|"
    r"is(?:n't| not)|does(?:n't| not)|do(?:n't| not)|won't|can't|cannot|did(?:n't| not))\b"
    r"|\balready (?:asked|told|said|explained|sent|gave|given|did|done|tried|contacted|emailed|called|reset|reported|read|"
    r"checked|followed|restarted|rebooted)\b[^.?!]{0,40}\b(?:twice|two times|three times|\d+ times|several times|again)\b"
    r"|\balready (?:asked|told|said|explained|sent|gave|given|did|done|tried|contacted|emailed|called|reset|reported)\b"
    r"|\bas I (?:already )?(?:said|told you|explained|mentioned)\b"
    r"|\bfor the last time\b|\bI repeat\b|\bkeep (?:asking|telling|saying|sending)\b|\bstop (?:telling|saying to|asking) me\b"
    r"|\bask(?:ed|ing)? (?:this|that) before\b"
    r"|\b(?:second|third|fourth|fifth|2nd|3rd|4th|5th)\b(?: \w+){0,3} in a row\b"
    r"|\b(?:two|three|four|five|\d+) (?:times|deliveries|orders|parcels|packages|replacements|units) in a row\b"
    r"|\bover and over\b|\bagain and again\b|\btime after time\b|\byet another\b",
    re.IGNORECASE,
)
_AGAIN_SHOUTED = re.compile(r"\bAGAIN\b")

_THREAT_LEGAL = re.compile(
    r"\b(?:lawyer\w*|attorney(?! general)\w*|solicitor\w*|legal action|lawsuit|sue|suing|court|small claims|"
    r"charge ?back\w*|dispute (?:the|this|a|my) (?:charge|payment|transaction)|disputing|"
    r"reverse (?:the|this) (?:charge|payment)|bbb|better business bureau|consumer protection|trading standards|"
    r"attorney general|ftc|ombudsman|formal complaint|report(?:ing)? (?:you|this|it) to)\b",
    re.IGNORECASE,
)

_PRAISE_OPENER = re.compile(
    r"^\W*(?:oh,? |wow[,.!]* |well,? |yeah,? |just |how |what an? )?(?:great|wonderful|fantastic|brilliant|perfect|"
    r"lovely|awesome|nice|terrific|fabulous|excellent|amazing|superb|marvell?ous|yay|cool|good job|great job|well done|"
    r"congrat\w*|so glad|thanks so much|oh joy|oh good|oh goody|oh great|oh look|stellar|outstanding|top[- ]notch|"
    r"world[- ]class|exceptional|bravo|splendid|impressive|loving|gold star|good one|good to know|nice to see|"
    r"great to (?:know|see)|such a treat|real quality)\b",
    re.IGNORECASE,
)
_SARCASM_PHRASE = re.compile(
    r"\b(?:thanks?|thank you|thx|cheers)(?: you)? (?:a lot |so much |a million |a bunch |again |ever so much )?for nothing\b"
    r"|\byeah,? right\b|\bthanks a bunch\b|\b(?:so|very|really) helpful\W+not\b"
    r"|\bnot\.\s*$|\bgotta love\b|\bjust love (?:how|when|that|spending|waiting)\b|\blove how\b"
    r"|\bwhat a surprise\b|\bof course it'?s\b|\bimpressive\b|\bthanks,? really appreciate it\b"
    r"|\bas always\b"
    # mock thanks for a wrong ("thanks for losing my parcel", "thanks a million for the runaround")
    r"|\b(?:thanks?|thank you|thx|cheers)(?: you)?(?: [A-Z]\w+)? (?:a lot |so much |a million |a bunch |again |ever so much )?for "
    r"(?:losing|wasting|ruining|ignoring|misplacing|breaking|leaving me|making me wait|keeping me waiting|the runaround|"
    r"not (?:telling|letting|answering|replying|responding|calling|getting back|informing|warning|notifying|showing up|"
    r"turning up|fixing|helping))\b"
    r"|\blove (?:that|this) for me\b|\blove (?:having to|being (?:told|put|ignored|kept|sent|charged|left|transferred|"
    r"asked|passed))\b|\blove the part where\b"
    r"|(?<!thanks )(?<!thank you )(?<!ever )\bso much for\b"
    r"|\bsaid no ?(?:one|body|customer) ever\b|\b(?:10|ten)/10,? would(?:n't| not| never)\b"
    r"|\bnothing says \w+(?: \w+)? like\b|\bwhat a time to be alive\b|\bat least (?:you're|you are|they're) consistent\b"
    # scare quotes round a promise ("so the "fast" shipping was 10 days", "your "support"")
    r"|[\"\u201c](?:fast|quick|express|next[- ]day|\d[- ]day|free|support|help|helpful|customer service|service|"
    r"customer care|care|premium|priority|guaranteed|expert|experts|solution)[\"\u201d]"
    r"|\s/s\s*$"
    # a device called a paperweight or an expensive trinket; "oh great, another survey"; "great job, really"
    r"|\b(?:paperweight|doorstop)\b"
    r"|\b(?:pricey|expensive|overpriced|costly|fancy|glorified) (?:bracelet|brick|ornament|decoration|coaster|bookend|torch|night[- ]?light)\b"
    # mock awe at the help: "truly cutting-edge advice", "I'm in awe of the expertise on display"
    r"|\b(?:cutting[- ]edge|ground[- ]?breaking|revolutionary|earth[- ]shattering|mind[- ]blowing|rocket science) "
    r"(?:advice|suggestion|idea|tip|help|support|stuff|thinking|solution|answer|service|troubleshooting)\b"
    r"|\bin awe of (?:the|such|this) (?:\w+ )?(?:expertise|genius|brilliance|competence|professionalism)\b"
    r"|^\W*oh,? (?:great|wonderful|fantastic|perfect|lovely|brilliant|joy|goody|super|marvell?ous),? (?:a|an|another|more)\b"
    r"|\b(?:great|good|nice|fine|brilliant|fantastic) (?:job|work|going|stuff),? really\b(?! (?:appreciate|helped|good|great))"
    # politeness as a weapon: thanks for what the customer already had, a resigned "I'll just ... then, shall I?",
    # "since that seems to be all I'm allowed to do", praise underlined by a bare "Really." ("Lovely. Really.")
    r"|\b(?:thanks?|thank you|thx|cheers)\b[^.?!,]{0,40}\bfor (?:the|that|this|your|a|an)\b[^.?!,]{0,40}\b(?:I|we) already "
    r"(?:have|had|knew|know|got|found|sent|gave|read|tried|did|mentioned|told)\b"
    r"|\bI'?ll just\b[^.?!]{0,60},? (?:shall|should|will|do) I\?"
    r"|\b(?:seems|appears) to be (?:all|the only thing|everything) (?:I'?m|I am|I can|I'?ve been|we'?re|you'?ll let me)\b"
    r"|\ball (?:I'?m|I am) (?:allowed|permitted|able|supposed) to do\b"
    r"|\b(?:lovely|great|wonderful|fantastic|brilliant|perfect|marvell?ous|super|superb|helpful|invaluable|amazing)[.!]+\s+"
    r"(?:really|truly|seriously|honestly)[.!]+",
    re.IGNORECASE,
)
# A long wait or lateness stated as a fact ("waiting over four hours", "7 hours late", "on hold for 40 minutes");
# a model feature only, not a signal: a calm "it's 2 days late, could you check?" matches too.
_NUMBER = r"(?:\d+\+?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|several|many|a few|a couple of)"
_LONG_WAIT = re.compile(
    r"\b(?:waiting|waited|on hold|in (?:the|a) queue|stuck|sitting)\b[^.?!]{0,25}?\b(?:for |since )?(?:over |more than |almost |"
    r"nearly |at least |the (?:last|past) )?" + _NUMBER + r" (?:hours?|hrs?|days?|weeks?|months?|minutes|mins)\b"
    r"|\b" + _NUMBER + r" (?:hours?|hrs?|days?|weeks?|months?|minutes|mins) (?:late|overdue|behind|delayed|later|on hold|"
    r"and (?:still|counting|nothing|no)|without (?:a|any))\b"
    r"|\b(?:waiting|waited)\b[^.?!]{0,25}?\bsince\b|\b(?:waiting|waited) all (?:day|week|morning)\b",
    re.IGNORECASE,
)

# The customer names their own feeling or calls the situation unacceptable: as explicit as "third time I ask".
# "I'm not angry", "I'm done, thanks" and "would be ridiculous if ..." are not it.
_FEELING = (
    r"(?:angry|furious|livid|fuming|seething|frustrated|annoyed|irritated|exasperated|infuriated|disgusted|upset|"
    r"disappointed|mad|pissed(?: off)?|fed up|devastated|heartbroken|gutted|in tears|sick (?:and tired )?of|tired of|"
    r"done with (?:this|you|it|your)|so done|"
    r"at (?:the end of )?my wits'? end|losing (?:my )?patience|out of patience|beyond (?:annoyed|frustrated|angry))"
)
_UPSET = re.compile(
    r"\b(?:I'?m|I am|i m|im|I'?ve been|I have been|I feel|I'?m feeling|am|getting|feeling)\s+"
    r"(?!not\b)(?:(?:getting|becoming|starting to (?:get|feel)|now|just|so|really|very|extremely|absolutely|beyond|"
    r"honestly|quite|pretty|seriously|incredibly|totally|utterly|genuinely|massively|beyond|more than a (?:bit|little)|"
    r"a (?:bit|little)|rather|increasingly|completely)\s+)*" + _FEELING + r"\b"
    r"|\b(?:this|that|it|which)(?: is|'s| was)(?: (?:just|absolutely|completely|totally|honestly|frankly|really|so|beyond))?"
    r" (?:ridiculous|unacceptable|outrageous|absurd|a joke|a farce|a disgrace|disgraceful|pathetic|insane|infuriating|"
    r"beyond a joke|shambolic|a shambles|(?:really |very |so |deeply |hugely |extremely |incredibly )?disappointing)\b(?! if\b)"
    # a feeling with no "I'm" in front, at the start of a sentence: "Really disappointed.", "Honestly fuming."
    r"|(?:^|[.!?]\s+)(?:(?:really|very|so|truly|deeply|hugely|massively|extremely|incredibly|honestly|just|pretty|quite|"
    r"bitterly|utterly|absolutely)\s+)*(?:disappointed|disappointing|gutted|let down|fuming|furious|livid|annoyed|frustrated|fed up)\b"
    r"|\b(?:I|we|I'd|we'd|I had|we had) (?:honestly |really |frankly |genuinely )?expected (?:a lot |much |far |way |so much |a bit |a little )?"
    r"(?:better|more) (?:than this|from (?:you|a company|a shop|<company>))(?!\w)"
    r"|\b(?:I'?ve|I have) had (?:it|enough)\b|\bfed up\b|\bsick and tired\b|\bat my wits'? end\b"
    # despair: "I honestly don't know why I bother", "I give up", "what's even the point"
    r"|\b(?:don'?t|do not) know why I (?:even )?bother\b|\bwhy do I (?:even )?bother\b|\bI (?:give|am giving|'m giving) up\b"
    r"|\bI(?:'ve| have) given up\b|\bwhat'?s (?:even )?the point\b(?! of\b)"
    # leaving: "I'm seriously thinking of shopping there from now on", "never ordering from you again"
    r"|\b(?:thinking (?:of|about)|going to|about to|I'?ll|I will|gonna)\s+(?:just\s+)?(?:shop|shopping|buy|buying|order|ordering|"
    r"go|going|switch|switching|take my (?:business|money))\s+(?:(?:somewhere|anywhere)\s+)?(?:elsewhere|else|there from now on|"
    r"with (?:a|your) competitor|to (?:amazon|a competitor|your competitors?)|from (?:amazon|a competitor) (?:from now on|instead))"
    r"|\btake my (?:business|money|custom) elsewhere\b|\bnever (?:order|ordering|shop|shopping|buy|buying) (?:from|with|here)\b[^.?!]{0,12}\bagain\b"
    r"|\b(?:first and )?last time I(?:'m| am| will|'ll)? (?:order|ordering|shop|shopping|buy|buying)\b"
    r"|\bthe last (?:thing|time|order) I(?: will)? ever (?:buy|order|get)\b"
    # a bad review as a threat: "all of this is going in a one-star review", "I'll leave a terrible review"
    r"|\b(?:one|1|zero|0)[- ]star review\b|\b(?:leave|leaving|write|writing|post|posting) (?:you )?(?:a|an) (?:bad|terrible|awful|"
    r"negative|scathing) review\b",
    re.IGNORECASE,
)

# Thanks for a praised thing that went wrong ("thanks for your fantastic courier losing my parcel")
_THANKS_FOR_PRAISED = re.compile(
    r"\b(?:thanks?|thank you|thx)(?: you)? for (?:the|your|this|that|a|an) (?:\w+ )?(?:great|wonderful|fantastic|brilliant|lovely|"
    r"awesome|amazing|excellent|superb|stellar|outstanding|marvell?ous|terrific|fabulous)\b",
    re.IGNORECASE,
)
# Praise signing off a complaint ("three days and still nothing. Keep up the great work."): sarcasm only after a problem
_PRAISE_CLOSER = re.compile(
    r"\b(?:keep up the (?:good|great|amazing|excellent|fantastic|brilliant|stellar|wonderful|outstanding|fine) work|"
    r"(?:great|good|nice|fine|amazing|stellar|top) (?:job|work|stuff),? (?:everyone|guys|team|all))\W*$",
    re.IGNORECASE,
)
# "just what I needed" is sarcasm only around a problem or a "today": "that's exactly what I needed, thanks" is not
_JUST_WHAT_I_NEEDED = re.compile(r"\b(?:just|exactly|precisely) what I (?:needed|wanted|was hoping for)\b", re.IGNORECASE)
_TODAY = re.compile(r"\b(?:today|tonight|this (?:morning|week|weekend)|right now|on a (?:monday|friday))\b", re.IGNORECASE)
# Problem words that turn a praise opener into sarcasm ("great, another delay"; "great, thanks!" is not)
_PROBLEM = re.compile(
    r"\b(?:delay\w*|late|lost|losing|broke\w*|crack\w*|crush\w*|damag\w*|wrong|again|still|never|nothing(?! else)|nobody|"
    r"no one|not|cancel\w*|charged|twice|hold|error|crash\w*|dead|died|missing|useless|worst|hasn't|haven't|isn't|"
    r"doesn't|won't|don't|can't|logged me out|waste|weeks?|month|gone|another(?! (?:question|quick|thing|one)\b)|"
    r"ignor\w*|vanish\w*|disappear\w*|silence|fail\w*|only took|start over|without (?:a|any) (?:word|reply|answer))\b",
    re.IGNORECASE,
)


def _shout_words(text: str) -> list[str]:
    words = []
    for word in _WORD.findall(text):
        letters = word.replace("'", "")
        if len(letters) >= 2 and letters.isupper() and letters.upper() not in ACRONYMS and letters != "I":
            words.append(letters)
    return words


def caps_ratio(text: str) -> float:
    """Share of a message's letters (outside acronyms and "I") that are capitals; 0 for short messages."""
    letters = [ch for word in _WORD.findall(text) if word.upper() not in ACRONYMS and word != "I" for ch in word if ch.isalpha()]
    if len(letters) < 8:
        return 0.0
    return sum(ch.isupper() for ch in letters) / len(letters)


def is_shouting(text: str) -> bool:
    """Capitals used for emphasis: two shouted words, or one of four letters or more ("it was BROKEN")."""
    words = _shout_words(text)
    return len(words) >= 2 or any(len(word) >= 4 for word in words)


def has_profanity(text: str) -> bool:
    return _PROFANITY.search(text) is not None


def says_repeat_ask(text: str) -> bool:
    return _REPEAT_ASK.search(text) is not None or _AGAIN_SHOUTED.search(text) is not None


def says_threat_legal(text: str) -> bool:
    return _THREAT_LEGAL.search(text) is not None


def sounds_sarcastic(text: str) -> bool:
    """Praise around a problem. Only the common surface forms: sarcasm without them is left to the model."""
    if _SARCASM_PHRASE.search(text):
        return True
    praised = _THANKS_FOR_PRAISED.search(text)
    if praised and _PROBLEM.search(text[praised.end() :]):
        return True
    needed = _JUST_WHAT_I_NEEDED.search(text)
    if needed and (_PROBLEM.search(text) or _TODAY.search(text[needed.end() :])):
        return True
    closer = _PRAISE_CLOSER.search(text)
    if closer and _PROBLEM.search(text[: closer.start()]):
        return True
    opener = _PRAISE_OPENER.search(text)
    return opener is not None and _PROBLEM.search(text[opener.end() :]) is not None


def says_upset(text: str) -> bool:
    return _UPSET.search(_company_as_token(text)) is not None


def _company_as_token(text: str) -> str:
    """The company's names (company.yml) as "<company>", where the cues expect the company ("better from Acme")."""
    from bot.company import current_company  # the profile is read on first use, never at import
    from bot.errors import ConfigurationError

    try:
        mentions = current_company().mention_pattern()
    except ConfigurationError as error:  # the policy's load of the same file fails loudly; the cue just goes without
        logger.warning("frustration cues without the company's name: %s", error)
        return text
    return mentions.sub("<company>", text)


def says_long_wait(text: str) -> bool:
    return _LONG_WAIT.search(text) is not None


def cue_vector(text: str) -> np.ndarray:
    """The cue features of `CUE_FEATURES`, in that order."""
    exclamations = min(text.count("!"), 3) / 3
    question_burst = 1.0 if re.search(r"[?!]{2,}", text) else 0.0
    return np.array(
        [
            float(is_shouting(text)),
            caps_ratio(text),
            exclamations,
            question_burst,
            float(has_profanity(text)),
            float(says_repeat_ask(text)),
            float(sounds_sarcastic(text)),
            float(says_threat_legal(text)),
            float(says_long_wait(text)),
        ],
        dtype=np.float64,
    )


def cue_signals(text: str) -> tuple[str, ...]:
    """The cue signals found in a message (all of `SIGNALS` except `negative`, which needs the model)."""
    found = []
    if is_shouting(text):
        found.append("caps")
    if has_profanity(text):
        found.append("profanity")
    if says_repeat_ask(text):
        found.append("repeat_ask")
    if sounds_sarcastic(text):
        found.append("sarcasm")
    if says_threat_legal(text):
        found.append("threat_legal")
    if says_upset(text):
        found.append("upset")
    return tuple(found)


# --------------------------------------------------------------------------------------------
# VADER (lexicon + rules, MIT), loaded once per process on first use
# --------------------------------------------------------------------------------------------

_vader_lock = threading.Lock()
_vader: "SentimentIntensityAnalyzer | None" = None


def vader_analyzer() -> "SentimentIntensityAnalyzer":
    global _vader
    if _vader is None:
        with _vader_lock:
            if _vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _vader = SentimentIntensityAnalyzer()
    return _vader


def vader_vector(text: str, sarcastic: bool) -> np.ndarray:
    """VADER's neg, neu, pos and compound scores; a sarcastic message's compound counts as negative.

    Sarcasm says the opposite of its words: VADER reads "Thank you so much ... Lovely. Really." as glowing
    praise, which kept a passive-aggressive message at 0.27. The word counts (neg, neu, pos) stay as VADER
    reads them; only the overall verdict is turned. On the public sets this raised ROC AUC (airline
    0.867 -> 0.869, complaints 0.821 -> 0.823, docs/benchmarks.md).
    """
    scores = vader_analyzer().polarity_scores(text)
    compound = -abs(scores["compound"]) if sarcastic else scores["compound"]
    return np.array([scores["neg"], scores["neu"], scores["pos"], compound], dtype=np.float64)


def handcrafted_features(texts: Sequence[str]) -> np.ndarray:
    """Cue and VADER features, one row per text (`CUE_FEATURES` then `VADER_FEATURES`)."""
    if not texts:
        return np.zeros((0, len(CUE_FEATURES) + len(VADER_FEATURES)))
    rows = []
    for text in texts:
        cues = cue_vector(text)  # the sarcasm cue, computed once, also turns VADER's verdict
        rows.append(np.concatenate([cues, vader_vector(text, sarcastic=bool(cues[_SARCASM_COLUMN]))]))
    return np.stack(rows)


# --------------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    text: str
    frustrated: bool


def read_example_file(path: Path) -> list[str]:
    """One message per line; blank lines and lines starting with '#' are skipped."""
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            lines.append(" ".join(line.split()))
    return lines


def load_examples(directory: Path = EXAMPLES_DIR) -> list[Example]:
    """The project's written examples; a text in both files is an error (it would teach both labels)."""
    frustrated = read_example_file(directory / FRUSTRATED_FILE)
    calm = read_example_file(directory / NOT_FRUSTRATED_FILE)
    both = sorted({t.lower() for t in frustrated} & {t.lower() for t in calm})
    if both:
        raise ValueError(f"{len(both)} examples are in both files, e.g. {both[0]!r}")
    return [Example(text, True) for text in frustrated] + [Example(text, False) for text in calm]


def examples_fingerprint(directory: Path = EXAMPLES_DIR) -> str:
    """SHA-256 over the example files and this module's source: a change to either means retraining."""
    digest = hashlib.sha256()
    for name in (FRUSTRATED_FILE, NOT_FRUSTRATED_FILE):
        digest.update((directory / name).read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrustrationScore:
    """One message's score (0..1) and the signals found in it."""

    score: float
    signals: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """The JSON-friendly form put in Rasa's parse data."""
        return {"score": round(float(self.score), 4), "signals": list(self.signals)}


@dataclass(frozen=True)
class CrossValidation:
    """What cross-validation on the project's examples chose and measured (kept with the weights)."""

    C: float
    threshold: float
    folds: int
    f1_by_C: dict[str, float] = field(default_factory=dict)  # out-of-fold F1 at threshold 0.5, for reference
    log_loss_by_C: dict[str, float] = field(default_factory=dict)  # out-of-fold log loss
    log_loss_se_by_C: dict[str, float] = field(default_factory=dict)  # its standard error over the folds
    f1: float = 0.0  # out-of-fold F1 of the frustrated class at the chosen C and threshold
    precision: float = 0.0
    recall: float = 0.0
    examples: int = 0


@dataclass(frozen=True, eq=False)
class FrustrationModel:
    """Logistic regression over [sentence embedding, cue features, VADER scores], standardised.

    `embedding_dim` columns come first; the embedding is the message's all-MiniLM-L6-v2 vector (the one
    the NLU featurizer already computed, when there is one).
    """

    weights: np.ndarray  # (n_features,)
    bias: float
    mean: np.ndarray  # (n_features,) standardisation
    scale: np.ndarray
    threshold: float
    embedding_dim: int
    embedding_name: str = ""
    cross_validation: CrossValidation | None = None

    # ---------------------------------------------------------------- scoring

    def _probabilities(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        embeddings = np.asarray(embeddings, dtype=np.float64).reshape(len(texts), -1)
        if embeddings.shape[1] != self.embedding_dim:
            raise ValueError(f"embeddings have {embeddings.shape[1]} columns, the model was trained on {self.embedding_dim}")
        features = np.hstack([embeddings, handcrafted_features(texts)])
        logits = ((features - self.mean) / self.scale) @ self.weights + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))

    def score_texts(self, texts: Sequence[str], embeddings: np.ndarray) -> list[FrustrationScore]:
        """Scores of `texts` given their sentence embeddings (one row each)."""
        if not texts:
            return []
        results = []
        for text, probability in zip(texts, self._probabilities(embeddings, texts)):
            signals = cue_signals(text)
            if probability >= self.threshold:
                signals = ("negative", *signals)
            results.append(FrustrationScore(float(probability), signals))
        return results

    def score(self, text: str, embedding: np.ndarray) -> FrustrationScore:
        return self.score_texts([text], np.asarray(embedding).reshape(1, -1))[0]

    def score_with(self, texts: Sequence[str], embedder: "Embedder") -> list[FrustrationScore]:
        """Scores of `texts`, embedding them with `embedder`."""
        return self.score_texts(texts, embedder.embed(list(texts)) if texts else np.zeros((0, self.embedding_dim)))

    def probabilities(self, texts: Sequence[str], embeddings: np.ndarray) -> np.ndarray:
        """Scores only, as an array (for the benchmark)."""
        return self._probabilities(embeddings, texts) if texts else np.zeros(0)

    # ---------------------------------------------------------------- training

    @classmethod
    def train(
        cls,
        examples: Sequence[Example],
        embeddings: np.ndarray,
        embedding_name: str = "",
        c_grid: Sequence[float] = DEFAULT_C_GRID,
        folds: int = DEFAULT_FOLDS,
        seed: int = 42,
    ) -> "FrustrationModel":
        """Fits on all `examples` with C and threshold chosen by stratified k-fold cross-validation on them."""
        labels = np.array([example.frustrated for example in examples], dtype=int)
        if len(set(labels.tolist())) != 2:
            raise ValueError("need frustrated and not-frustrated examples")
        texts = [example.text for example in examples]
        features = np.hstack([np.asarray(embeddings, dtype=np.float64), handcrafted_features(texts)])
        choice = cross_validate(features, labels, c_grid, folds, seed)
        mean, scale, weights, bias = _fit(features, labels, choice.C, seed)
        return cls(
            weights=weights,
            bias=bias,
            mean=mean,
            scale=scale,
            threshold=choice.threshold,
            embedding_dim=int(np.asarray(embeddings).shape[1]),
            embedding_name=embedding_name,
            cross_validation=choice,
        )

    @classmethod
    def train_with(cls, examples: Sequence[Example], embedder: "Embedder", **kwargs: Any) -> "FrustrationModel":
        """`train`, embedding the examples with `embedder`."""
        return cls.train(examples, embedder.embed([example.text for example in examples]), getattr(embedder, "name", ""), **kwargs)

    # ---------------------------------------------------------------- persistence (npz + json, no pickle)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / "frustration.npz", weights=self.weights, mean=self.mean, scale=self.scale)
        meta = {
            "format_version": FORMAT_VERSION,
            "bias": self.bias,
            "threshold": self.threshold,
            "embedding_dim": self.embedding_dim,
            "embedding_name": self.embedding_name,
            "features": ["embedding"] * self.embedding_dim + list(CUE_FEATURES) + list(VADER_FEATURES),
            "cross_validation": None if self.cross_validation is None else self.cross_validation.__dict__,
        }
        (directory / "frustration.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "FrustrationModel":
        meta = json.loads((directory / "frustration.json").read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"frustration model format {meta.get('format_version')}, expected {FORMAT_VERSION}: retrain")
        expected = ["embedding"] * meta["embedding_dim"] + list(CUE_FEATURES) + list(VADER_FEATURES)
        if meta.get("features") != expected:
            raise ValueError("the saved model's features differ from this code's: retrain")
        with np.load(directory / "frustration.npz", allow_pickle=False) as arrays:
            weights, mean, scale = arrays["weights"], arrays["mean"], arrays["scale"]
        cv = meta.get("cross_validation")
        return cls(
            weights=weights,
            bias=float(meta["bias"]),
            mean=mean,
            scale=scale,
            threshold=float(meta["threshold"]),
            embedding_dim=int(meta["embedding_dim"]),
            embedding_name=str(meta.get("embedding_name", "")),
            cross_validation=None if cv is None else CrossValidation(**cv),
        )


def _fit(features: np.ndarray, labels: np.ndarray, C: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-8] = 1.0  # constant columns (a cue absent from the examples) stay 0 after scaling
    model = LogisticRegression(C=C, max_iter=5000, random_state=seed)
    model.fit((features - mean) / scale, labels)
    return mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0])


def _predict(features: np.ndarray, fitted: tuple[np.ndarray, np.ndarray, np.ndarray, float]) -> np.ndarray:
    mean, scale, weights, bias = fitted
    return 1.0 / (1.0 + np.exp(-np.clip(((features - mean) / scale) @ weights + bias, -50, 50)))


def precision_recall_f1(labels: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class (0 where undefined)."""
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    true_pos = int(np.sum(labels & predicted))
    precision = true_pos / int(predicted.sum()) if predicted.any() else 0.0
    recall = true_pos / int(labels.sum()) if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def best_f1_threshold(labels: np.ndarray, scores: np.ndarray, band: tuple[float, float] = (0.0, 1.0)) -> float:
    """The threshold within `band` (steps of 0.01) with the best F1 of the positive class; ties go to 0.5's side."""
    best, best_f1 = 0.5, -1.0
    for threshold in np.round(np.arange(band[0], band[1] + 1e-9, 0.01), 2):
        f1 = precision_recall_f1(labels, scores >= threshold)[2]
        if f1 > best_f1 + 1e-12 or (abs(f1 - best_f1) <= 1e-12 and abs(threshold - 0.5) < abs(best - 0.5)):
            best, best_f1 = float(threshold), f1
    return best


def recall_side_threshold(labels: np.ndarray, scores: np.ndarray, assignment: np.ndarray, band: tuple[float, float]) -> float:
    """The lowest threshold in `band` whose out-of-fold F1 is within one standard error of the best one.

    Out-of-fold F1 is flat over a wide range of thresholds (0.40-0.52 within 0.004 on 2,056 examples), so its
    argmax moves with every few examples added. Among the thresholds that are as good within the noise (the
    standard error of the per-fold F1 at the best threshold), the lowest one is taken: a frustrated message
    left unflagged costs a support product more than a calm one flagged, which the conversation-level rules
    (`bot/handoff/frustration.py`) absorb.
    """
    best = best_f1_threshold(labels, scores, band)
    folds = sorted(set(assignment.tolist()))
    per_fold = [precision_recall_f1(labels[assignment == fold], scores[assignment == fold] >= best)[2] for fold in folds]
    bound = precision_recall_f1(labels, scores >= best)[2] - float(np.std(per_fold, ddof=1) / np.sqrt(len(folds)))
    for threshold in np.round(np.arange(band[0], best + 1e-9, 0.01), 2):
        if precision_recall_f1(labels, scores >= threshold)[2] >= bound - 1e-12:
            return float(threshold)
    return best


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number of each example, labels spread evenly (seeded, deterministic)."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(labels), dtype=int)
    for label in np.unique(labels):
        indices = np.flatnonzero(labels == label)
        rng.shuffle(indices)
        assignment[indices] = np.arange(len(indices)) % folds
    return assignment


def log_loss(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mean negative log-likelihood of `labels` under the probabilities `scores`."""
    scores = np.clip(np.asarray(scores, dtype=np.float64), 1e-12, 1 - 1e-12)
    labels = np.asarray(labels, dtype=np.float64)
    return float(-np.mean(labels * np.log(scores) + (1 - labels) * np.log(1 - scores)))


def cross_validate(features: np.ndarray, labels: np.ndarray, c_grid: Sequence[float], folds: int, seed: int) -> CrossValidation:
    """C by the one-standard-error rule on out-of-fold log loss, then the threshold at it (`recall_side_threshold`).

    The smallest C (the strongest regularisation) whose log loss is within one standard error (over the
    folds) of the lowest: the examples are few and written in one voice, and a model that fits them less
    closely carries better to other people's wording. Log loss judges the probabilities at every threshold;
    F1 at a fixed 0.5 (the earlier criterion, still reported) flipped between neighbouring C values on
    differences of a few examples.
    """
    if folds < 2 or min(np.bincount(labels)) < folds:
        raise ValueError(f"need at least {folds} examples of each label for {folds}-fold cross-validation")
    assignment = stratified_folds(labels, folds, seed)
    out_of_fold: dict[float, np.ndarray] = {}
    f1_by_c: dict[str, float] = {}
    loss_by_c: dict[str, float] = {}
    se_by_c: dict[str, float] = {}
    for C in c_grid:
        scores = np.zeros(len(labels))
        for fold in range(folds):
            train, test = assignment != fold, assignment == fold
            scores[test] = _predict(features[test], _fit(features[train], labels[train], C, seed))
        out_of_fold[C] = scores
        f1_by_c[repr(float(C))] = precision_recall_f1(labels, scores >= 0.5)[2]
        loss_by_c[repr(float(C))] = log_loss(labels, scores)
        fold_losses = [log_loss(labels[assignment == fold], scores[assignment == fold]) for fold in range(folds)]
        se_by_c[repr(float(C))] = float(np.std(fold_losses, ddof=1) / np.sqrt(folds))
    lowest = min(c_grid, key=lambda C: (round(loss_by_c[repr(float(C))], 6), C))
    bound = loss_by_c[repr(float(lowest))] + se_by_c[repr(float(lowest))]
    best_c = min(C for C in c_grid if loss_by_c[repr(float(C))] <= bound + 1e-12)
    threshold = recall_side_threshold(labels, out_of_fold[best_c], assignment, THRESHOLD_BAND)
    precision, recall, f1 = precision_recall_f1(labels, out_of_fold[best_c] >= threshold)
    return CrossValidation(
        C=float(best_c),
        threshold=threshold,
        folds=folds,
        f1_by_C=f1_by_c,
        log_loss_by_C=loss_by_c,
        log_loss_se_by_C=se_by_c,
        f1=f1,
        precision=precision,
        recall=recall,
        examples=len(labels),
    )
