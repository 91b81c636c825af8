"""Who is asked NPS (feedback.yml, by a hash of the conversation id), reading the file, and what counts as a comment."""
from __future__ import annotations

import hashlib
from datetime import datetime

import pytest

from bot.errors import ConfigurationError
from bot.insights.feedback import (
    AFTER,
    CSAT,
    INSTEAD,
    NPS,
    FeedbackRules,
    FeedbackService,
    InvalidScore,
    SqlFeedbackStore,
    comment_in,
    in_share,
    load_feedback_rules,
    nps_band,
    score_in,
)
from bot.settings import PROJECT_ROOT, Settings
from tests.databases import sqlite_url

NOW = datetime(2026, 12, 5, 12, 0)


def test_the_share_is_a_hash_of_the_conversation_id():
    ids = [f"web-{n:05d}" for n in range(4000)]
    for share in (0.0, 0.1, 0.25, 0.5, 1.0):
        picked = [cid for cid in ids if in_share(cid, share)]
        # the same rule written out here: the first 8 bytes of SHA-256, as a fraction of 2**64
        assert picked == [cid for cid in ids if int(hashlib.sha256(cid.encode()).hexdigest()[:16], 16) / 2 ** 64 < share]
        assert len(picked) / len(ids) == pytest.approx(share, abs=0.03)
    assert [in_share(cid, 0.25) for cid in ids[:50]] == [in_share(cid, 0.25) for cid in ids[:50]]  # stable
    assert not in_share("anything", 0.0) and in_share("anything", 1.0)


def test_which_surveys_a_resolved_conversation_gets():
    assert FeedbackRules().surveys("web-1") == (CSAT,)  # no NPS unless configured
    assert FeedbackRules(nps_share=1.0, nps_when=AFTER).surveys("web-1") == (CSAT, NPS)
    assert FeedbackRules(nps_share=1.0, nps_when=INSTEAD).surveys("slack:T1:D1") == (NPS,)
    only_web = FeedbackRules(nps_share=1.0, nps_channels=("website",))
    assert only_web.surveys("slack:T1:D1") == (CSAT,) and only_web.surveys("web-1") == (CSAT, NPS)


def test_the_projects_feedback_file_loads_and_the_environment_can_point_elsewhere(tmp_path):
    rules = load_feedback_rules(PROJECT_ROOT / "feedback.yml")
    assert 0 < rules.nps_share < 1 and rules.nps_when in (AFTER, INSTEAD) and set(rules.nps_channels) == {"website", "slack"}
    other = tmp_path / "feedback.yml"
    other.write_text("nps:\n  share: 1\n  when: instead\n  channels: [slack]\n")
    settings = Settings.from_env({"SUPPORT_DATA_DIR": str(tmp_path), "FEEDBACK_CONFIG": str(other), "RASA_TOKEN": "t",
                                  "IDENTITY_SECRET": "s"})
    assert settings.feedback_config == other and settings.rasa_environment()["FEEDBACK_CONFIG"] == str(other)
    assert load_feedback_rules(settings.feedback_config) == FeedbackRules(1, INSTEAD, ("slack",))


@pytest.mark.parametrize("text, names", [
    ("nps:\n  share: 1.5\n", "nps.share"),
    ("nps:\n  share: yes\n", "nps.share"),
    ("nps:\n  when: before\n", "nps.when"),
    ("nps:\n  channels: [email]\n", "nps.channels"),
    ("nps:\n  chance: 0.2\n", "chance"),
    ("csat:\n  share: 1\n", "csat"),
    ("- a list\n", "expected a mapping"),
])
def test_a_mistake_in_the_file_names_the_file_and_the_setting(tmp_path, text, names):
    path = tmp_path / "feedback.yml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as raised:
        load_feedback_rules(path)
    assert str(path) in str(raised.value) and names in str(raised.value)
    with pytest.raises(ConfigurationError):
        load_feedback_rules(tmp_path / "missing.yml")


@pytest.mark.parametrize("text, lowest, highest, score", [
    ("9 out of 10", 0, 10, 9), ("10/10", 0, 10, 10), ("a zero, never again", 0, 10, 0), ("I'd say eight", 0, 10, 8),
    ("12", 0, 10, None), ("great", 0, 10, None), ("7", 1, 5, None), ("four stars", 1, 5, 4),
])
def test_a_score_in_digits_or_words(text, lowest, highest, score):
    assert score_in(text, lowest, highest) == score


@pytest.mark.parametrize("text, comment", [
    ("9", None), ('/nps_score{"rating": "9"}', None), ("4 out of 5 stars", None), ("I'd give it a solid 8", None),
    ("three stars I guess", None), ("", None),
    ("2 stars, still not sorted", "2 stars, still not sorted"), ("10, Maya was great", "10, Maya was great"),
])
def test_a_comment_is_the_words_beyond_the_rating(text, comment):
    assert comment_in(text) == comment


def test_the_service_stores_scores_and_comments(tmp_path):
    service = FeedbackService(FeedbackRules(), SqlFeedbackStore.from_url(sqlite_url(tmp_path)), lambda: NOW)
    service.record_nps("web-1", 6, "6, the wait was long", handoff_id=3)
    service.record_nps("web-1", 10, "10")
    assert service.record_comment("web-2", CSAT, 5, "5") is None
    service.record_comment("web-2", CSAT, 1, "1, nobody answered my email")
    assert [(s.score, s.handoff_id, s.at) for s in service.store.nps("web-1")] == [(6, 3, NOW), (10, None, NOW)]
    assert [(c.conversation_id, c.survey, c.score, c.text) for c in service.store.comments()] == [
        ("web-1", NPS, 6, "6, the wait was long"), ("web-2", CSAT, 1, "1, nobody answered my email")]
    for bad in (-1, 11, True):
        with pytest.raises(InvalidScore):
            service.record_nps("web-1", bad)
    assert [nps_band(n) for n in (0, 6, 7, 8, 9, 10)] == ["detractor"] * 2 + ["passive"] * 2 + ["promoter"] * 2
