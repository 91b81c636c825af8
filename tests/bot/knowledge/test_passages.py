"""Splitting articles into passages and chunks: structure, bounds, stable ids."""

from __future__ import annotations

from datetime import date

from bot.knowledge.articles import Article
from bot.knowledge.markdown import plain_text, word_count
from bot.knowledge.passages import SplitConfig, sentences, split_article, split_passage


def make_article(body: str, article_id: str = "a", title: str = "Reset the Pulse 700") -> Article:
    return Article(
        article_id, title, "c", (), "published", date(2026, 1, 1), "https://x/a", body, f"{article_id}.md", "hash", 10
    )


def words(text: str) -> int:
    return word_count(plain_text(text))


def sentence(i: int, length: int = 12) -> str:
    return "Sentence %d " % i + " ".join(f"word{i}x{j}" for j in range(length - 3)) + " ends."


def test_passages_follow_sections_and_describe_themselves() -> None:
    article = make_article("Intro paragraph.\n\n## First step\nDo this.\n\n## Second step\nThen that.")
    passages = split_article(article)
    assert [(p.section, p.text) for p in passages] == [
        ("", "Intro paragraph."),
        ("First step", "Do this."),
        ("Second step", "Then that."),
    ]
    assert [p.position for p in passages] == [0, 1, 2]
    assert passages[1].embed_text == "Reset the Pulse 700 — First step\nDo this."
    assert passages[0].embed_text == "Reset the Pulse 700\nIntro paragraph."
    assert all(p.article_id == "a" and p.title == "Reset the Pulse 700" for p in passages)


def test_long_section_is_cut_between_sentences_within_the_bound() -> None:
    paragraph = " ".join(sentence(i) for i in range(40))  # 480 words in one paragraph
    article = make_article("## Long\n" + paragraph)
    passages = split_article(article)
    assert len(passages) >= 4
    assert all(words(p.text) <= 120 for p in passages)
    # no sentence was cut: every sentence is whole in exactly one passage
    for i in range(40):
        assert sum(sentence(i) in p.text for p in passages) == 1
    assert " ".join(p.text for p in passages) == paragraph


def test_small_paragraphs_are_merged_and_big_ones_start_a_passage() -> None:
    small = [sentence(100), sentence(101), sentence(102)]  # 12 words each
    big = " ".join(sentence(i) for i in range(8))  # 96 words
    passages = split_article(make_article("\n\n".join(small + [big])))
    assert [p.text for p in passages] == ["\n\n".join(small), big]
    # a tiny passage is not left alone: it takes the next block's first sentences instead
    tiny = split_article(make_article("Tiny.\n\n" + " ".join(sentence(i) for i in range(10))))
    assert tiny[0].text.startswith("Tiny.\n\n" + sentence(0))


def test_tiny_tail_joins_the_previous_passage() -> None:
    body = " ".join(sentence(i) for i in range(8)) + "\n\nSee also the guide."
    passages = split_article(make_article(body))
    assert len(passages) == 1 and passages[0].text.endswith("See also the guide.")


def test_a_sentence_longer_than_the_bound_is_kept_whole() -> None:
    long_sentence = "This " + " ".join(["very"] * 150) + " long sentence ends here."
    passages = split_article(make_article(f"Short start.\n\n{long_sentence}\n\nShort end."))
    assert any(p.text.strip().endswith(long_sentence) or long_sentence in p.text for p in passages)
    assert max(words(p.text) for p in passages) > 120


def test_text_without_punctuation_is_cut_at_the_hard_limit() -> None:
    runaway = " ".join(f"w{i}" for i in range(1000))
    passages = split_article(make_article(runaway))
    assert all(words(p.text) <= SplitConfig().hard_max_words for p in passages)
    assert sum(words(p.text) for p in passages) == 1000


def test_lists_are_cut_between_items_and_tables_keep_their_header() -> None:
    items = "\n".join(f"{i}. Step number {i} " + "with several extra words " * 3 for i in range(1, 13))
    header = "| Code | Meaning |\n|---|---|"
    rows = "\n".join(f"| E{i:02d} | " + "a long explanation of the error " * 4 + "|" for i in range(10))
    passages = split_article(make_article(f"## Steps\n{items}\n\n## Codes\n{header}\n{rows}"))
    steps = [p for p in passages if p.section == "Steps"]
    codes = [p for p in passages if p.section == "Codes"]
    assert len(steps) >= 2 and all(p.text.splitlines()[0][0].isdigit() for p in steps)
    assert len(codes) >= 2 and all(p.text.startswith(header) for p in codes)
    assert all(words(p.text) <= 120 for p in passages)


def test_passage_ids_are_content_hashes() -> None:
    body = "Intro.\n\n## One\nFirst section text.\n\n## Two\nSecond section text."
    first = split_article(make_article(body))
    again = split_article(make_article(body))
    assert [p.passage_id for p in first] == [p.passage_id for p in again]
    edited = split_article(make_article(body.replace("Second section", "Edited section")))
    assert first[1].passage_id == edited[1].passage_id  # untouched section keeps its id
    assert first[2].passage_id != edited[2].passage_id
    retitled = split_article(make_article(body, title="Another title"))
    assert not {p.passage_id for p in first} & {p.passage_id for p in retitled}
    other_article = split_article(make_article(body, article_id="b"))
    assert not {p.passage_id for p in first} & {p.passage_id for p in other_article}
    moved = split_article(make_article("Intro.\n\n## Two\nSecond section text.\n\n## One\nFirst section text."))
    assert {p.passage_id for p in moved} == {p.passage_id for p in first}  # position is not in the id


def test_duplicate_passages_are_kept_once() -> None:
    passages = split_article(make_article("## Same\nRepeated text.\n\n## Same\nRepeated text."))
    assert len(passages) == 1


def test_chunks_split_a_passage_into_short_units() -> None:
    body = "## Steps\n" + "\n".join(f"{i}. Press the button number {i} and wait a little while." for i in range(1, 9))
    (passage,) = split_article(make_article(body))
    chunks = split_passage(passage)
    assert len(chunks) >= 3
    assert all(c.passage_id == passage.passage_id for c in chunks)
    assert all(c.embed_text.startswith("Reset the Pulse 700 — Steps\n") for c in chunks)
    assert all(word_count(c.embed_text.split("\n", 1)[1]) <= SplitConfig().chunk_words for c in chunks)
    assert [c.chunk_id for c in chunks] == [c.chunk_id for c in split_passage(passage)]


def test_short_passage_is_one_chunk() -> None:
    (passage,) = split_article(make_article("Just one short paragraph."))
    (chunk,) = split_passage(passage)
    assert chunk.embed_text == passage.embed_text and chunk.chunk_id == passage.passage_id


def test_sentencizer() -> None:
    assert sentences("First one. Second one!  Third?") == ["First one.", "Second one!", "Third?"]
    assert sentences("   ") == []


def test_plain_text_drops_markup_but_keeps_words() -> None:
    text = "1. Press **Power** and see [the guide](other.md).\n| E31 | Can't connect |\n|---|---|"
    assert plain_text(text) == "Press Power and see the guide. E31; Can't connect"


def test_real_articles_keep_every_line_within_the_bound() -> None:
    from pathlib import Path

    from bot.knowledge.articles import load_articles

    folder = Path(__file__).resolve().parents[3] / "knowledge_base" / "articles"
    articles, _ = load_articles(folder)
    for article in articles:
        passages = split_article(article)
        assert passages and all(words(p.text) <= 120 for p in passages), article.id
        everything = plain_text("\n\n".join(p.text for p in passages))
        for line in article.body.splitlines():
            if line.strip() and not line.startswith("#"):
                assert plain_text(line) in everything, (article.id, line)
