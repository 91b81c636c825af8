"""Unit tests of the per-message frustration model: cues, examples, training, persistence.

The deterministic fake embedder (random vectors seeded by the text) carries no meaning, so these
tests exercise the plumbing and the cue/VADER features; the test marked `integration` trains on the
real all-MiniLM-L6-v2 embeddings.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.nlu.frustration import (
    EXAMPLES_DIR,
    SIGNALS,
    THRESHOLD_BAND,
    Example,
    FrustrationModel,
    FrustrationScore,
    best_f1_threshold,
    caps_ratio,
    cross_validate,
    cue_signals,
    examples_fingerprint,
    handcrafted_features,
    load_examples,
    log_loss,
    precision_recall_f1,
    read_example_file,
    recall_side_threshold,
    says_long_wait,
    says_repeat_ask,
    sounds_sarcastic,
    stratified_folds,
)
from tests.bot.knowledge.conftest import FakeEmbedder

# ---------------------------------------------------------------------------- cues


@pytest.mark.parametrize(
    "text, expected",
    [
        ("WHERE IS MY ORDER", {"caps"}),
        ("it was delivered BROKEN", {"caps"}),
        ("does the Pulse 700 have ANC and USB-C?", set()),
        ("my RA number is RA-104512-1", set()),
        ("I think I need help", set()),
        ("what the hell is going on", {"profanity"}),
        ("hello, anyone there?", set()),
        ("this is the third time I ask about my refund", {"repeat_ask"}),
        ("still no refund", {"repeat_ask"}),
        ("I already told you my order number", {"repeat_ask"}),
        ("the buds disconnected again", {"repeat_ask"}),
        ("thanks again for your help", set()),
        ("could you send the link again please?", set()),
        ("is the sale still on?", set()),
        ("I think I was charged twice, could you check?", set()),
        ("great, just great, another delay", {"sarcasm"}),
        ("thanks for nothing", {"sarcasm"}),
        ("great, thank you so much", set()),
        ("perfect, that worked", set()),
        ("I'm going to file a chargeback", {"threat_legal"}),
        ("I'll be contacting my lawyer", {"threat_legal"}),
        ("I WANT MY MONEY BACK, this is the 3rd time, what the hell", {"caps", "repeat_ask", "profanity"}),
        ("honestly I'm getting really annoyed now", {"upset"}),
        ("this is unacceptable", {"upset"}),
        ("I'm sick and tired of chasing this", {"upset"}),
        ("I'm not angry, just confused about the warranty", set()),
        ("I'm done, thanks!", set()),
        ("honestly I'm thinking of shopping somewhere else from now on", {"upset"}),
        ("never ordering from you again", {"upset"}),
        ("I'm thinking of buying the watch too", set()),
        ("that's the last thing I ever buy from you, it's going in a one-star review", {"upset"}),
        ("I left you a 5 star review!", set()),
        ("wow. amazing. the article I already read twice", {"sarcasm", "repeat_ask"}),
        ("it would be ridiculous if the case didn't fit", set()),
        ("my daughter is upset the watch strap broke, can I get a new one?", set()),
        # a feeling without "I'm" in front, and expecting better
        ("Honestly I expected better. Really disappointed.", {"upset"}),
        ("so disappointing, the strap snapped in a week", {"upset"}),
        ("I'd expected a lot more from a company like yours", {"upset"}),
        ("I expected it to arrive on Friday, is it still on track?", set()),
        ("we really expected more from you than this", {"upset"}),
        ("I'm not disappointed at all, it's fine", set()),
        # despair
        ("so nothing can be done. I honestly don't know why I bother", {"upset"}),
        ("I give up. what's even the point", {"upset"}),
        ("I'm heartbroken, it was a gift", {"upset"}),
        ("what's the point of the ANC button?", set()),
        # told the same thing again by the assistant
        ("stop telling me to restart it", {"repeat_ask"}),
        ("could you stop sending me marketing emails?", set()),
    ],
)
def test_cue_signals(text: str, expected: set[str]) -> None:
    assert set(cue_signals(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "my refund is stuck somewhere, love that for me",
        "thanks for losing my parcel",
        "cheers for nothing",
        "thanks for not telling me the order was cancelled",
        "thanks for the wonderful courier who never turned up",
        "so much for next day delivery",
        'so the "fast" shipping took 10 days',
        "a dead battery, just what I needed",
        "exactly what I needed today, a laptop that won't boot",
        "10/10 would not order again",
        "nothing says premium like a cracked screen",
        "very helpful, said no one ever",
        "oh wonderful, another survey",
        "oh great, a form to fill in",
        "nice work, really. the box was empty",
        "my $300 paperweight is back from repair, still dead",
        "stellar service, three days and not a single reply",
        "oh look, another delay",
        "I love being put on hold",
        # politeness as a weapon
        "Thanks so much for the receipt I already have. Very helpful.",
        "I'll just ring again tomorrow then, shall I?",
        "I'll wait, since that seems to be all I'm allowed to do",
        "Well that's all I'm allowed to do apparently",
        "Superb. Really.",
        # mock awe at the help, a device called an expensive trinket, praise signing off a complaint
        "oh, restart it. truly groundbreaking advice",
        "I'm in awe of the competence here",
        "so now it's a very expensive bracelet",
        "Two weeks and still no refund. Keep up the great work.",
        "it broke after a day, great job guys",
    ],
)
def test_sarcasm_in_its_general_forms(text: str) -> None:
    assert sounds_sarcastic(text)


@pytest.mark.parametrize(
    "text",
    [
        "great, thanks, that worked",
        "perfect, thank you, that's exactly what I needed",
        "just what I needed, thanks!",
        "oh great, it's working now",
        "oh brilliant, I didn't know you could do that",
        "thanks so much for your help",
        "thank you so much for sorting it",
        "thanks for cancelling it so quickly",
        "thanks for the great help, all sorted",
        "great job, really appreciate it",
        "great, another question: do you ship to Canada?",
        "perfect, nothing else for now, thanks",
        "the quality is not great",
        "I love being able to track the parcel",
        "thanks for the link, I already had it bookmarked but it's handy",
        "thanks for the tip, I just tried it and it works",
        "ok I'll just wait then, thanks",
        "shall I send you a photo of the box?",
        "Lovely, thanks. Really appreciate it.",
        "love the new app, keep up the great work!",
        "got it working, not a problem. Bravo!",
        "I'm in awe of your support, sorted in minutes",
        "is the noise cancelling on the Pulse 700 cutting-edge?",
    ],
)
def test_sincere_praise_is_not_sarcasm(text: str) -> None:
    assert not sounds_sarcastic(text)


def test_repeated_failure_in_a_row() -> None:
    assert says_repeat_ask("third parcel in a row lost")
    assert says_repeat_ask("three deliveries in a row were late")
    assert says_repeat_ask("the buds dropped out over and over")
    assert not says_repeat_ask("I wore them 3 days in a row, love them")


def test_long_wait_is_a_feature_not_a_signal() -> None:
    assert says_long_wait("I have been waiting for over four hours to talk to someone")
    assert says_long_wait("7 hours late and still nothing")
    assert says_long_wait("on hold for 40 minutes")
    assert says_long_wait("still waiting on a callback since Tuesday")
    assert not says_long_wait("it arrived in 2 days, thanks")
    assert not says_long_wait("can you hold the parcel for 2 days?")
    assert "long_wait" not in cue_signals("7 hours late and still nothing")


def test_sarcasm_turns_vaders_verdict_negative() -> None:
    # VADER reads the praise literally: the model needs to know the praise is the complaint
    sarcastic = "Thank you so much for that. I'll just keep refreshing the order page then, shall I? Lovely. Really."
    sincere = "Thank you so much for that, the order page shows it now. Lovely."
    neg, neu, pos, compound = handcrafted_features([sarcastic])[0][-4:]
    assert pos > neg and compound < -0.5  # the words still count as VADER reads them; the verdict is turned
    assert handcrafted_features([sincere])[0][-1] > 0.5
    assert handcrafted_features(["Oh great, another delay."])[0][-1] < 0


def test_cue_signals_are_named_in_signals() -> None:
    assert set(cue_signals("WHAT THE HELL, third time I ask, great, another delay, I'll sue")) <= set(SIGNALS) - {"negative"}


def test_caps_ratio_ignores_acronyms_and_short_texts() -> None:
    assert caps_ratio("THIS IS RIDICULOUS") == 1.0
    assert caps_ratio("the ANC and LED on the USB dock") == 0.0
    assert caps_ratio("NO") == 0.0  # too short to say


# ---------------------------------------------------------------------------- examples


def write_examples(folder: Path, frustrated: list[str], calm: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "frustrated.txt").write_text("# a comment\n\n" + "\n".join(frustrated) + "\n", encoding="utf-8")
    (folder / "not_frustrated.txt").write_text("\n".join(calm) + "\n", encoding="utf-8")
    return folder


def test_read_example_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("# header\n\n  where is   my order  \n#another\nthanks\n", encoding="utf-8")
    assert read_example_file(path) == ["where is my order", "thanks"]


def test_load_examples_labels_each_file(tmp_path: Path) -> None:
    folder = write_examples(tmp_path, ["this is ridiculous"], ["thanks!"])
    assert load_examples(folder) == [Example("this is ridiculous", True), Example("thanks!", False)]


def test_an_example_in_both_files_is_an_error(tmp_path: Path) -> None:
    folder = write_examples(tmp_path, ["Where is my order"], ["where is my order"])
    with pytest.raises(ValueError, match="both files"):
        load_examples(folder)


def test_the_projects_examples_are_many_balanced_and_unique() -> None:
    examples = load_examples()
    assert len(examples) >= 800
    share = sum(example.frustrated for example in examples) / len(examples)
    assert 0.4 <= share <= 0.6
    texts = [example.text for example in examples]  # "THIS IS RIDICULOUS" beside "this is ridiculous" is on purpose (caps)
    assert len(texts) == len(set(texts))


def test_fingerprint_changes_with_the_examples(tmp_path: Path) -> None:
    folder = tmp_path / "examples"
    shutil.copytree(EXAMPLES_DIR, folder)
    before = examples_fingerprint(folder)
    assert before == examples_fingerprint(EXAMPLES_DIR)
    with open(folder / "frustrated.txt", "a", encoding="utf-8") as handle:
        handle.write("one more angry message\n")
    assert examples_fingerprint(folder) != before


# ---------------------------------------------------------------------------- metrics helpers


def test_precision_recall_f1() -> None:
    assert precision_recall_f1([1, 1, 0, 0], [1, 0, 1, 0]) == (0.5, 0.5, 0.5)
    assert precision_recall_f1([0, 0], [0, 0]) == (0.0, 0.0, 0.0)


def test_log_loss() -> None:
    assert log_loss(np.array([1, 0]), np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    assert log_loss(np.array([1, 0]), np.array([0.9, 0.1])) < log_loss(np.array([1, 0]), np.array([0.6, 0.4]))
    assert np.isfinite(log_loss(np.array([1]), np.array([0.0])))  # clipped, not infinite


def test_cross_validation_prefers_the_stronger_regularisation_within_one_standard_error() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([1] * 60 + [0] * 60)
    features = np.hstack([labels[:, None] + rng.normal(0, 1.0, (120, 1)), rng.normal(0, 1, (120, 30))])
    cv = cross_validate(features, labels, (0.01, 0.1, 1.0, 100.0), 5, seed=3)
    lowest = min(cv.log_loss_by_C, key=cv.log_loss_by_C.get)
    assert cv.log_loss_by_C[repr(cv.C)] <= cv.log_loss_by_C[lowest] + cv.log_loss_se_by_C[lowest] + 1e-12
    assert cv.C <= float(lowest) and all(se > 0 for se in cv.log_loss_se_by_C.values())


def test_best_f1_threshold_stays_in_the_band() -> None:
    labels = np.array([1, 1, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.35, 0.3, 0.1])
    # every threshold in (0.30, 0.35] separates the classes; ties go to the one nearest 0.5
    assert best_f1_threshold(labels, scores) == pytest.approx(0.35)
    # within the band only thresholds up to 0.45 keep the second positive; the nearest to 0.5 of them wins
    assert best_f1_threshold(labels, np.array([0.9, 0.45, 0.35, 0.3, 0.1]), (0.4, 0.6)) == pytest.approx(0.45)


def test_recall_side_threshold_takes_the_lowest_threshold_as_good_within_the_noise() -> None:
    rng = np.random.default_rng(7)
    labels = np.array([1] * 300 + [0] * 300)
    scores = np.clip(np.where(labels == 1, rng.normal(0.62, 0.18, 600), rng.normal(0.38, 0.18, 600)), 0, 1)
    folds = stratified_folds(labels, 5, seed=1)
    best = best_f1_threshold(labels, scores, (0.3, 0.7))
    chosen = recall_side_threshold(labels, scores, folds, (0.3, 0.7))
    assert 0.3 <= chosen < best  # a flat F1 plateau: a lower threshold is as good within one standard error
    assert precision_recall_f1(labels, scores >= chosen)[1] > precision_recall_f1(labels, scores >= best)[1]
    per_fold = [precision_recall_f1(labels[folds == k], scores[folds == k] >= best)[2] for k in range(5)]
    bound = precision_recall_f1(labels, scores >= best)[2] - np.std(per_fold, ddof=1) / np.sqrt(5)
    assert precision_recall_f1(labels, scores >= chosen)[2] >= bound
    assert precision_recall_f1(labels, scores >= chosen - 0.01)[2] < bound or chosen == 0.3
    # perfectly separated scores leave no noise to spend: the threshold is the F1-best one
    clean = np.where(labels == 1, 0.8, 0.2)
    assert recall_side_threshold(labels, clean, folds, (0.5, 0.7)) == pytest.approx(best_f1_threshold(labels, clean, (0.5, 0.7)))


def test_stratified_folds_spread_each_label() -> None:
    labels = np.array([1] * 10 + [0] * 20)
    folds = stratified_folds(labels, 5, seed=1)
    for fold in range(5):
        assert (labels[folds == fold] == 1).sum() == 2
        assert (labels[folds == fold] == 0).sum() == 4
    assert np.array_equal(folds, stratified_folds(labels, 5, seed=1))


# ---------------------------------------------------------------------------- training and scoring


@pytest.fixture(scope="module")
def trained() -> tuple[FrustrationModel, FakeEmbedder]:
    embedder = FakeEmbedder()
    return FrustrationModel.train_with(load_examples(), embedder, c_grid=(0.03, 0.3), folds=3), embedder


def test_training_chooses_c_and_threshold_by_cross_validation(trained: tuple[FrustrationModel, FakeEmbedder]) -> None:
    model, _ = trained
    cv = model.cross_validation
    assert cv is not None and cv.C in (0.03, 0.3) and cv.folds == 3
    assert THRESHOLD_BAND[0] <= model.threshold <= THRESHOLD_BAND[1]
    assert cv.examples == len(load_examples()) and set(cv.f1_by_C) == set(cv.log_loss_by_C) == {"0.03", "0.3"}
    # one-standard-error rule: the smallest C whose out-of-fold log loss is within one SE of the lowest
    lowest = min((0.03, 0.3), key=lambda C: cv.log_loss_by_C[repr(C)])
    bound = cv.log_loss_by_C[repr(lowest)] + cv.log_loss_se_by_C[repr(lowest)]
    assert cv.C == min(C for C in (0.03, 0.3) if cv.log_loss_by_C[repr(C)] <= bound + 1e-12)
    assert model.embedding_dim == 384 and model.embedding_name == "fake-sha256"


def test_scores_order_angry_above_calm(trained: tuple[FrustrationModel, FakeEmbedder]) -> None:
    model, embedder = trained
    angry, calm = model.score_with(["THIS IS RIDICULOUS, worst service ever, I want my money back!!", "thanks, that solved it"], embedder)
    assert 0.0 <= calm.score < model.threshold <= angry.score <= 1.0
    assert angry.signals[0] == "negative" and "caps" in angry.signals
    assert "negative" not in calm.signals


def test_score_as_dict_is_plain_json() -> None:
    assert FrustrationScore(0.123456, ("negative", "caps")).as_dict() == {"score": 0.1235, "signals": ["negative", "caps"]}
    json.dumps(FrustrationScore(0.5, ()).as_dict())


def test_scoring_checks_the_embedding_size(trained: tuple[FrustrationModel, FakeEmbedder]) -> None:
    model, _ = trained
    with pytest.raises(ValueError, match="384"):
        model.score("hi", np.zeros(10))


def test_no_texts_no_scores(trained: tuple[FrustrationModel, FakeEmbedder]) -> None:
    model, embedder = trained
    assert model.score_with([], embedder) == []


def test_training_needs_both_labels() -> None:
    with pytest.raises(ValueError, match="frustrated"):
        FrustrationModel.train([Example("a", True)] * 10, np.zeros((10, 4)))


def test_save_and_load_give_the_same_scores(tmp_path: Path, trained: tuple[FrustrationModel, FakeEmbedder]) -> None:
    model, embedder = trained
    model.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frustration.json", "frustration.npz"]
    loaded = FrustrationModel.load(tmp_path)
    texts = ["where the hell is my package", "hi there", "great, just great, another delay"]
    vectors = embedder.embed(texts)
    assert [s.as_dict() for s in loaded.score_texts(texts, vectors)] == [s.as_dict() for s in model.score_texts(texts, vectors)]
    assert loaded.threshold == model.threshold and loaded.cross_validation == model.cross_validation


def test_load_refuses_a_model_with_other_features(tmp_path: Path, trained: tuple[FrustrationModel, FakeEmbedder]) -> None:
    model, _ = trained
    model.save(tmp_path)
    meta = json.loads((tmp_path / "frustration.json").read_text())
    meta["features"] = meta["features"][:-1] + ["something_else"]
    (tmp_path / "frustration.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="retrain"):
        FrustrationModel.load(tmp_path)


@pytest.mark.integration
def test_real_embeddings_separate_obvious_messages() -> None:
    from bot.embeddings import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    model = FrustrationModel.train_with(load_examples(), embedder)
    assert model.cross_validation is not None and model.cross_validation.f1 > 0.85
    frustrated = [
        "my speaker died after 4 days and nobody answers my emails",
        "I've been waiting three weeks for this refund, this is a joke",
        "wonderful, the replacement headphones are broken too",
    ]
    calm = ["can I change the colour of my order before it ships?", "the buds arrived today, love them", "no worries, thanks for checking"]
    scores = model.score_with(frustrated + calm, embedder)
    assert all("negative" in s.signals for s in scores[:3]), [s.as_dict() for s in scores]
    assert all("negative" not in s.signals for s in scores[3:]), [s.as_dict() for s in scores]
