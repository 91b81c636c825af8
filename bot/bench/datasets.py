"""Labelled intent datasets for the NLU benchmark, as lists of (text, label) pairs.

The public sets are read in place from the shared datasets folder (`../shared/datasets`
relative to the repository root, see each set's PROVENANCE.md); nothing is copied into the
project. Texts are whitespace-normalised (stray newlines and non-breaking spaces in BANKING77
become single spaces) so that every example is one line of plain text.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

Example = tuple[str, str]
PathLike = str | Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATASETS_DIR = REPO_ROOT.parent / "shared" / "datasets"
NAMED_DATASETS = ("banking77", "clinc150", "project")

CLINC_OOS_LABEL = "oos"
PROJECT_OOS_LABEL = "out_of_scope"


@dataclass(frozen=True)
class Dataset:
    """Train/test (and optional validation) examples of one benchmark set."""

    name: str
    train: list[Example]
    test: list[Example]
    val: list[Example] | None = None
    # label of out-of-scope examples, if the set has them
    oos_label: str | None = None

    @property
    def labels(self) -> list[str]:
        return sorted({label for _, label in self.train})


def normalise_text(text: str) -> str:
    """One line, single spaces, no leading/trailing whitespace."""
    return " ".join(text.split())


def _clean(pairs: Iterable[tuple[str, str]]) -> list[Example]:
    examples = []
    for text, label in pairs:
        text, label = normalise_text(str(text)), str(label).strip()
        if text and label:
            examples.append((text, label))
    return examples


def load_csv(path: PathLike) -> list[Example]:
    """A CSV file with a header holding a `text` column and a `label` column.

    BANKING77's own `category` column is accepted in place of `label`.
    """
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        fields = [name.strip() for name in reader.fieldnames or []]
        label_field = next((name for name in ("label", "category") if name in fields), None)
        if "text" not in fields or label_field is None:
            raise ValueError(f"{path}: expected a header with columns 'text,label', got {fields}")
        reader.fieldnames = fields
        return _clean((row["text"], row[label_field]) for row in reader)


def load_banking77(datasets_dir: PathLike = DEFAULT_DATASETS_DIR) -> Dataset:
    """BANKING77: 77 intents, train/test only (no validation split, no out-of-scope class)."""
    root = Path(datasets_dir) / "banking77"
    return Dataset("banking77", train=load_csv(root / "train.csv"), test=load_csv(root / "test.csv"))


def load_clinc150(datasets_dir: PathLike = DEFAULT_DATASETS_DIR, variant: str = "data_full.json") -> Dataset:
    """CLINC150 ("full"): 150 intents plus out-of-scope ("oos") in every split.

    The out-of-scope examples are merged into each split ("oos-train" setting of the paper):
    train = train + oos_train, val = val + oos_val, test = test + oos_test.
    """
    data = json.loads((Path(datasets_dir) / "clinc150" / variant).read_text(encoding="utf-8"))

    def split(name: str) -> list[Example]:
        return _clean(data[name]) + _clean(data[f"oos_{name}"])

    return Dataset("clinc150", train=split("train"), val=split("val"), test=split("test"), oos_label=CLINC_OOS_LABEL)


def load_rasa_nlu(path: PathLike) -> list[Example]:
    """Intent examples of a Rasa NLU file or directory, entity annotations stripped.

    Uses Rasa's own reader, so `[Pulse 700](product)` becomes `Pulse 700`. Regexes, lookup
    tables and synonyms in the files are ignored.
    """
    from rasa.shared.nlu.training_data.loading import load_data

    training_data = load_data(str(path))
    return _clean(
        (message.get("text"), message.get("intent"))
        for message in training_data.intent_examples
        if message.get("text") and message.get("intent")
    )


def load_project(repo_root: PathLike = REPO_ROOT) -> Dataset:
    """The project's data: train on `data/nlu`, test on the held-back `tests/nlu/heldout.yml`."""
    root = Path(repo_root)
    train = load_rasa_nlu(root / "data" / "nlu")
    test = load_rasa_nlu(root / "tests" / "nlu" / "heldout.yml")
    has_oos = any(label == PROJECT_OOS_LABEL for _, label in train + test)
    return Dataset("project", train=train, test=test, oos_label=PROJECT_OOS_LABEL if has_oos else None)


def load_dataset(
    spec: str,
    datasets_dir: PathLike = DEFAULT_DATASETS_DIR,
    repo_root: PathLike = REPO_ROOT,
    oos_label: str | None = None,
) -> Dataset:
    """`banking77`, `clinc150`, `project` or `csv:TRAIN.csv,TEST.csv`."""
    if spec == "banking77":
        return load_banking77(datasets_dir)
    if spec == "clinc150":
        return load_clinc150(datasets_dir)
    if spec == "project":
        return load_project(repo_root)
    if spec.startswith("csv:"):
        paths = [part.strip() for part in spec[len("csv:") :].split(",")]
        if len(paths) != 2 or not all(paths):
            raise ValueError(f"expected csv:TRAIN.csv,TEST.csv, got {spec!r}")
        train, test = load_csv(paths[0]), load_csv(paths[1])
        name = f"csv:{Path(paths[0]).name},{Path(paths[1]).name}"
        return Dataset(name, train=train, test=test, oos_label=oos_label)
    raise ValueError(f"unknown dataset {spec!r}: use one of {', '.join(NAMED_DATASETS)} or csv:TRAIN,TEST")


def stratified_subset(examples: Sequence[Example], limit: int | None, seed: int = 0) -> list[Example]:
    """A deterministic subset of about `limit` examples with the label proportions kept.

    Each label gets its proportional share (largest remainders first, at least one per label
    while the budget lasts); examples within a label are picked by a seeded shuffle, and the
    subset keeps the original order. `None` or a limit >= len(examples) returns everything.
    """
    if limit is None or limit >= len(examples):
        return list(examples)
    if limit <= 0:
        return []
    by_label: dict[str, list[int]] = defaultdict(list)
    for index, (_, label) in enumerate(examples):
        by_label[label].append(index)
    labels = sorted(by_label)
    total = len(examples)
    shares = {label: limit * len(by_label[label]) / total for label in labels}
    quota = {label: int(shares[label]) for label in labels}
    # at least one example per label, smallest labels first, while the budget lasts
    for label in sorted(labels, key=lambda name: (len(by_label[name]), name)):
        if quota[label] == 0 and sum(quota.values()) < limit:
            quota[label] = 1
    remaining = limit - sum(quota.values())
    for label in sorted(labels, key=lambda name: (-(shares[name] - int(shares[name])), name)):
        if remaining <= 0:
            break
        if quota[label] < len(by_label[label]):
            quota[label] += 1
            remaining -= 1
    chosen: list[int] = []
    for label in labels:
        indices = list(by_label[label])
        random.Random(f"{seed}:{label}").shuffle(indices)
        chosen.extend(indices[: quota[label]])
    return [examples[index] for index in sorted(chosen)]
