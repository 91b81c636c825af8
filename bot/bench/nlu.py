"""NLU intent benchmark: the project's pipeline against Rasa's sparse baseline.

    python -m bot.bench.nlu [--dataset banking77|clinc150|project|csv:TRAIN,TEST ...]
                            [--pipelines project,baseline] [--json PATH]
                            [--limit-train N] [--limit-test N] [--datasets DIR]

For each dataset and pipeline: write the training examples as a temporary Rasa NLU file and
config, train with `rasa.model_training.train_nlu`, load the model with `Agent.load`, and parse
the test set in batches through the loaded prediction graph (the same graph and components as
`agent.parse_message`, fed a list of messages). A sample of test messages is also parsed one
by one through `agent.parse_message` to report the single-message latency a live bot sees and
to check that batching does not change predictions.

Pipelines:
- project: `config.yml`'s pipeline, minus FallbackClassifier, response selectors and pure
  entity extractors / synonym mappers (only tokenizers, featurizers and intent classifiers
  decide the intent).
- baseline: WhitespaceTokenizer, CountVectorsFeaturizer (words), CountVectorsFeaturizer
  (char_wb 1-4), Rasa's LogisticRegressionClassifier.

Out of scope: when a set has an out-of-scope label, the classifier is trained with it as a
class. If the set also has a validation split (CLINC150), a confidence threshold below which
the prediction becomes out-of-scope is tuned on validation only (see `select_threshold`) and
applied to test. Without a validation split no threshold is used; nothing is tuned on test.

Results go to stdout as Markdown tables; progress and Rasa's own output go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

from bot.bench.datasets import (
    DEFAULT_DATASETS_DIR,
    NAMED_DATASETS,
    REPO_ROOT,
    Dataset,
    Example,
    load_dataset,
    stratified_subset,
)

logger = logging.getLogger(__name__)

PIPELINE_NAMES = ("project", "baseline")
BASELINE_PIPELINE: list[dict[str, Any]] = [
    {"name": "WhitespaceTokenizer"},
    {"name": "CountVectorsFeaturizer"},
    {"name": "CountVectorsFeaturizer", "analyzer": "char_wb", "min_ngram": 1, "max_ngram": 4},
    {"name": "LogisticRegressionClassifier"},
]
# intent classifiers that do not decide the intent from features
_NOT_INTENT_MODELS = ("FallbackClassifier", "ResponseSelector")
MAX_IN_SCOPE_DROP = 0.01  # threshold may cost at most 1 point of in-scope validation accuracy
DEFAULT_THRESHOLDS = tuple(round(0.005 * i, 3) for i in range(200))  # 0.000 ... 0.995


# --------------------------------------------------------------------------------------------
# Metrics and threshold selection (pure functions)
# --------------------------------------------------------------------------------------------


def apply_threshold(labels: Sequence[str], confidences: Sequence[float], threshold: float, oos_label: str) -> list[str]:
    """Predictions with every label whose confidence is below `threshold` replaced by oos."""
    return [oos_label if conf < threshold else label for label, conf in zip(labels, confidences)]


def compute_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], oos_label: str | None = None
) -> dict[str, float | None]:
    """Accuracy and macro-F1; with an oos label present in `y_true`, also out-of-scope recall
    and precision (oos as the positive class) and in-scope accuracy (accuracy on the examples
    whose true label is not oos; predicting oos for them counts as wrong).

    Macro-F1 averages over the labels of `y_true` (a class the test set lacks is not averaged
    in, but predicting it still costs the true class its recall).
    """
    if len(y_true) != len(y_pred) or not y_true:
        raise ValueError("need equally long, non-empty label lists")
    y_true, y_pred = list(y_true), list(y_pred)
    metrics: dict[str, float | None] = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=sorted(set(y_true)), average="macro", zero_division=0)),
        "oos_recall": None,
        "oos_precision": None,
        "in_scope_accuracy": None,
    }
    if oos_label is not None and oos_label in y_true:
        true_oos = [label == oos_label for label in y_true]
        pred_oos = [label == oos_label for label in y_pred]
        metrics["oos_recall"] = float(recall_score(true_oos, pred_oos, zero_division=0))
        metrics["oos_precision"] = float(precision_score(true_oos, pred_oos, zero_division=0))
        in_scope = [(t, p) for t, p in zip(y_true, y_pred) if t != oos_label]
        if in_scope:
            metrics["in_scope_accuracy"] = float(accuracy_score([t for t, _ in in_scope], [p for _, p in in_scope]))
    return metrics


@dataclass
class ThresholdChoice:
    threshold: float
    objective: float  # (in-scope accuracy + oos recall) / 2 on validation
    in_scope_accuracy: float
    oos_recall: float
    in_scope_accuracy_without_threshold: float
    oos_recall_without_threshold: float


def select_threshold(
    y_true: Sequence[str],
    labels: Sequence[str],
    confidences: Sequence[float],
    oos_label: str,
    candidates: Sequence[float] = DEFAULT_THRESHOLDS,
    max_in_scope_drop: float = MAX_IN_SCOPE_DROP,
) -> ThresholdChoice:
    """The out-of-scope confidence threshold to use, chosen on validation predictions.

    Maximises (in-scope accuracy + oos recall) / 2 among the candidates whose in-scope accuracy
    is at most `max_in_scope_drop` below the no-threshold in-scope accuracy; ties go to the
    lowest threshold. Threshold 0 (no threshold) is always a candidate.
    """
    if oos_label not in y_true or all(label == oos_label for label in y_true):
        raise ValueError("validation labels need both in-scope and out-of-scope examples")

    def evaluate(threshold: float) -> tuple[float, float]:
        metrics = compute_metrics(y_true, apply_threshold(labels, confidences, threshold, oos_label), oos_label)
        return metrics["in_scope_accuracy"], metrics["oos_recall"]  # type: ignore[return-value]

    base_in_scope, base_recall = evaluate(0.0)
    best = ThresholdChoice(
        0.0, (base_in_scope + base_recall) / 2, base_in_scope, base_recall, base_in_scope, base_recall
    )
    for threshold in sorted({float(c) for c in candidates}):
        if threshold <= 0.0:
            continue
        in_scope, recall = evaluate(threshold)
        if in_scope < base_in_scope - max_in_scope_drop - 1e-12:
            continue
        objective = (in_scope + recall) / 2
        if objective > best.objective + 1e-12:
            best = ThresholdChoice(threshold, objective, in_scope, recall, base_in_scope, base_recall)
    return best


# --------------------------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------------------------


def intent_pipeline(pipeline: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The components of a Rasa pipeline that decide the intent.

    Keeps model loaders, tokenizers, featurizers and intent classifiers (by their registered
    component types, so custom components are classified too); drops FallbackClassifier,
    response selectors and components that only extract or map entities.
    """
    from rasa.engine.recipes.default_recipe import DefaultV1Recipe

    kinds = DefaultV1Recipe.ComponentType
    keep_types = {kinds.MODEL_LOADER, kinds.MESSAGE_TOKENIZER, kinds.MESSAGE_FEATURIZER, kinds.INTENT_CLASSIFIER}
    kept = []
    for component in pipeline:
        registered = DefaultV1Recipe._from_registry(component["name"])
        class_names = {cls.__name__ for cls in registered.clazz.__mro__}
        if class_names & set(_NOT_INTENT_MODELS):
            continue
        if registered.types & keep_types:
            kept.append(dict(component))
    return kept


def read_project_config(config_path: Path) -> dict[str, Any]:
    from rasa.shared.utils.io import read_config_file

    return read_config_file(str(config_path))


def nlu_config(pipeline: Sequence[dict[str, Any]], project_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "recipe": project_config.get("recipe", "default.v1"),
        "assistant_id": "nlu-benchmark",
        "language": project_config.get("language", "en"),
        "pipeline": [dict(component) for component in pipeline],
    }


# --------------------------------------------------------------------------------------------
# Rasa training and prediction
# --------------------------------------------------------------------------------------------


def configure_environment() -> None:
    """Offline, quiet, uncached Rasa; set before Rasa is imported."""
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # no training cache: every run trains from scratch (honest timings) and the project's
    # .rasa/cache is left alone
    os.environ["RASA_MAX_CACHE_SIZE"] = "0"
    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def write_training_files(examples: Sequence[Example], config: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Temporary Rasa NLU YAML (built as in-memory `TrainingData`) and config file."""
    from rasa.shared.nlu.training_data.entities_parser import ENTITY_REGEX
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from rasa.shared.utils.io import write_yaml

    markup = [text for text, _ in examples if ENTITY_REGEX.search(text)]
    if markup:  # Rasa's YAML would read these as entity annotations
        raise ValueError(f"{len(markup)} texts look like Rasa entity markup, e.g. {markup[0]!r}")
    training_data = TrainingData([Message.build(text=text, intent=label) for text, label in examples])
    nlu_path, config_path = directory / "nlu.yml", directory / "config.yml"
    nlu_path.write_text(training_data.nlu_as_yaml(), encoding="utf-8")
    write_yaml(config, config_path)
    return nlu_path, config_path


class _Recorder(contextlib.ExitStack):
    """Sends stdout to stderr and records warnings (kept for the report)."""

    def __enter__(self) -> list[warnings.WarningMessage]:
        super().__enter__()
        self.enter_context(contextlib.redirect_stdout(sys.stderr))
        self.records = self.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        return self.records


def summarise_warnings(records: Sequence[warnings.WarningMessage]) -> list[str]:
    counts: dict[str, int] = {}
    for record in records:
        if issubclass(record.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue
        lines = [line.strip() for line in str(record.message).splitlines() if line.strip()]
        key = f"{record.category.__name__}: {' '.join(lines[:2])[:160]}"
        counts[key] = counts.get(key, 0) + 1
    return [f"{key} (x{count})" if count > 1 else key for key, count in counts.items()]


@dataclass
class Prediction:
    labels: list[str]
    confidences: list[float]
    seconds: float


class TrainedModel:
    """A Rasa NLU model trained in a temporary directory and loaded with `Agent.load`."""

    def __init__(self, examples: Sequence[Example], config: dict[str, Any], directory: Path) -> None:
        from rasa.core.agent import Agent
        from rasa.model_training import train_nlu

        nlu_path, config_path = write_training_files(examples, config, directory)
        with _Recorder() as records:
            start = time.perf_counter()
            result = train_nlu(str(config_path), str(nlu_path), str(directory / "models"), fixed_model_name="nlu")
            self.train_seconds = time.perf_counter() - start
            model_path = getattr(result, "model", result)
            if not model_path:
                raise RuntimeError(f"training failed (config {config_path})")
            start = time.perf_counter()
            self.agent = Agent.load(model_path)
            self.load_seconds = time.perf_counter() - start
        self.warnings = summarise_warnings(records)
        processor = self.agent.processor
        self._graph_runner = processor.graph_runner
        self._target = processor.model_metadata.nlu_target

    def predict(self, texts: Sequence[str], batch_size: int) -> Prediction:
        """Parse through the loaded prediction graph, `batch_size` messages per graph run."""
        from rasa.core.channels.channel import UserMessage
        from rasa.engine.constants import PLACEHOLDER_MESSAGE

        labels: list[str] = []
        confidences: list[float] = []
        with _Recorder():
            start = time.perf_counter()
            for offset in range(0, len(texts), batch_size):
                messages = [UserMessage(text) for text in texts[offset : offset + batch_size]]
                results = self._graph_runner.run(inputs={PLACEHOLDER_MESSAGE: messages}, targets=[self._target])
                for message in results[self._target]:
                    intent = message.get("intent") or {}
                    labels.append(str(intent.get("name")))
                    confidences.append(float(intent.get("confidence") or 0.0))
            seconds = time.perf_counter() - start
        if len(labels) != len(texts):
            raise RuntimeError(f"graph returned {len(labels)} parses for {len(texts)} messages")
        return Prediction(labels, confidences, seconds)

    def parse_one_by_one(self, texts: Sequence[str]) -> tuple[list[str], list[float]]:
        """`agent.parse_message` per text; returns the intents and each call's seconds."""

        async def run() -> tuple[list[str], list[float]]:
            names, seconds = [], []
            for text in texts:
                start = time.perf_counter()
                parse = await self.agent.parse_message(text)
                seconds.append(time.perf_counter() - start)
                names.append(str((parse.get("intent") or {}).get("name")))
            return names, seconds

        with _Recorder():
            return asyncio.run(run())


# --------------------------------------------------------------------------------------------
# Benchmark
# --------------------------------------------------------------------------------------------


def _log(message: str) -> None:
    print(f"[bench-nlu {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def benchmark_pipeline(
    dataset: Dataset, pipeline_name: str, config: dict[str, Any], batch_size: int, latency_sample: int
) -> dict[str, Any]:
    test_texts = [text for text, _ in dataset.test]
    test_true = [label for _, label in dataset.test]
    with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
        _log(f"{dataset.name}/{pipeline_name}: training on {len(dataset.train)} examples")
        model = TrainedModel(dataset.train, config, Path(tmp))
        _log(
            f"{dataset.name}/{pipeline_name}: trained in {model.train_seconds:.1f} s, loaded in {model.load_seconds:.1f} s"
        )
        for warning in model.warnings:
            _log(f"  warning: {warning}")

        result: dict[str, Any] = {
            "pipeline": pipeline_name,
            "train_seconds": model.train_seconds,
            "load_seconds": model.load_seconds,
            "warnings": model.warnings,
            "threshold": None,
            "threshold_selection": None,
        }
        threshold = 0.0
        if dataset.oos_label and dataset.val:
            val_true = [label for _, label in dataset.val]
            val = model.predict([text for text, _ in dataset.val], batch_size)
            choice = select_threshold(val_true, val.labels, val.confidences, dataset.oos_label)
            threshold = choice.threshold
            result["threshold"] = threshold
            result["threshold_selection"] = {
                **asdict(choice),
                "split": "val",
                "max_in_scope_drop": MAX_IN_SCOPE_DROP,
                "val_inference_seconds": val.seconds,
            }
            _log(f"{dataset.name}/{pipeline_name}: threshold {threshold:.3f} chosen on val ({choice})")

        test = model.predict(test_texts, batch_size)
        _log(f"{dataset.name}/{pipeline_name}: parsed {len(test_texts)} test messages in {test.seconds:.1f} s")
        result["metrics_without_threshold"] = compute_metrics(test_true, test.labels, dataset.oos_label)
        predictions = test.labels
        if threshold > 0 and dataset.oos_label:
            predictions = apply_threshold(test.labels, test.confidences, threshold, dataset.oos_label)
        result["metrics"] = compute_metrics(test_true, predictions, dataset.oos_label)
        result["inference"] = {
            "path": f"batched through the loaded Rasa prediction graph ({batch_size} messages per run)",
            "messages": len(test_texts),
            "seconds": test.seconds,
            "ms_per_message": 1000 * test.seconds / len(test_texts),
        }

        if latency_sample > 0:
            sample_indices = _spread_indices(len(test_texts), latency_sample)
            sample = [test_texts[i] for i in sample_indices]
            names, seconds = model.parse_one_by_one(sample)
            agreement = sum(names[k] == test.labels[i] for k, i in enumerate(sample_indices)) / len(sample)
            ms = [1000 * s for s in seconds]
            result["single_message"] = {
                "path": "agent.parse_message, one message at a time",
                "messages": len(sample),
                "median_ms": statistics.median(ms),
                "mean_ms": statistics.fmean(ms),
                "p95_ms": float(np.percentile(ms, 95)),
                "intent_agreement_with_batched": agreement,
            }
            _log(
                f"{dataset.name}/{pipeline_name}: single-message median {statistics.median(ms):.2f} ms, agreement {agreement:.3f}"
            )
    return result


def _spread_indices(total: int, count: int) -> list[int]:
    """`count` indices spread evenly over range(total) (deterministic)."""
    if count >= total:
        return list(range(total))
    return sorted({int(i * total / count) for i in range(count)})


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}"


def format_table(dataset_result: dict[str, Any]) -> str:
    has_oos = any(r["metrics"]["oos_recall"] is not None for r in dataset_result["results"])
    has_threshold = any(r["threshold"] is not None for r in dataset_result["results"])
    columns = ["pipeline", "accuracy %", "macro-F1 %"]
    if has_oos:
        columns += ["OOS recall %", "OOS precision %", "in-scope acc %"]
    if has_threshold:
        columns += ["threshold"]
    columns += ["train s", "inference s", "ms/msg (batched)", "ms/msg (single, median)"]

    def row(name: str, result: dict[str, Any], metrics: dict[str, Any], threshold: float | None) -> list[str]:
        cells = [name, _pct(metrics["accuracy"]), _pct(metrics["macro_f1"])]
        if has_oos:
            cells += [_pct(metrics["oos_recall"]), _pct(metrics["oos_precision"]), _pct(metrics["in_scope_accuracy"])]
        if has_threshold:
            cells += ["–" if threshold is None else f"{threshold:.3f}"]
        single = result.get("single_message")
        cells += [
            f"{result['train_seconds']:.1f}",
            f"{result['inference']['seconds']:.1f}",
            f"{result['inference']['ms_per_message']:.2f}",
            "–" if not single else f"{single['median_ms']:.2f}",
        ]
        return cells

    rows = []
    for result in dataset_result["results"]:
        rows.append(row(result["pipeline"], result, result["metrics"], result["threshold"]))
        if result["threshold"] is not None:
            rows.append(row(f"{result['pipeline']} (no threshold)", result, result["metrics_without_threshold"], 0.0))
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def _describe(dataset: Dataset, full: Dataset) -> dict[str, Any]:
    def count(examples: list[Example] | None, original: list[Example] | None) -> str | None:
        if examples is None:
            return None
        return (
            f"{len(examples)}"
            if original is None or len(original) == len(examples)
            else f"{len(examples)} of {len(original)}"
        )

    return {
        "name": dataset.name,
        "train": count(dataset.train, full.train),
        "val": count(dataset.val, full.val),
        "test": count(dataset.test, full.test),
        "labels": len(dataset.labels),
        "oos_label": dataset.oos_label,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.bench.nlu", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        action="append",
        help="banking77, clinc150, project or csv:TRAIN.csv,TEST.csv (columns text,label); repeatable "
        "(default: " + ", ".join(NAMED_DATASETS) + ")",
    )
    parser.add_argument("--pipelines", default=",".join(PIPELINE_NAMES), help="comma-separated: project,baseline")
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS_DIR, help="shared datasets folder")
    parser.add_argument("--config", type=Path, default=REPO_ROOT / "config.yml", help="project Rasa config")
    parser.add_argument("--json", type=Path, help="write all numbers to this JSON file")
    parser.add_argument("--limit-train", type=int, help="stratified, deterministic subset of N training examples")
    parser.add_argument("--limit-test", type=int, help="stratified, deterministic subset of N test (and val) examples")
    parser.add_argument(
        "--oos-label", help="out-of-scope label of csv: datasets (no threshold: they have no val split)"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="messages per prediction-graph run")
    parser.add_argument(
        "--latency-sample", type=int, default=200, help="test messages also parsed one by one (0: skip)"
    )
    args = parser.parse_args(argv)
    pipelines = [name.strip() for name in args.pipelines.split(",") if name.strip()]
    unknown = sorted(set(pipelines) - set(PIPELINE_NAMES))
    if unknown or not pipelines:
        parser.error(f"unknown pipelines {unknown}; choose from {', '.join(PIPELINE_NAMES)}")
    args.pipelines = pipelines
    args.dataset = args.dataset or list(NAMED_DATASETS)
    return args


def _load_average() -> list[float] | None:
    """1/5/15-minute load averages: other processes on the machine skew the timings."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover
        return None


def _cpu_info() -> dict[str, Any]:
    info: dict[str, Any] = {"cpu_count": os.cpu_count()}
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        pass
    return info


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_environment()
    started = time.perf_counter()
    command = "python -m bot.bench.nlu " + shlex.join(sys.argv[1:] if argv is None else list(argv))

    import rasa

    project_config = read_project_config(args.config)
    pipelines = {
        "project": intent_pipeline(project_config.get("pipeline") or []),
        "baseline": [dict(component) for component in BASELINE_PIPELINE],
    }
    cpu = _cpu_info()
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": command,
        **cpu,
        "python": platform.python_version(),
        "rasa": rasa.__version__,
        "config": str(args.config),
        "pipelines": {name: pipelines[name] for name in args.pipelines},
        "limit_train": args.limit_train,
        "limit_test": args.limit_test,
        "datasets": [],
    }
    print("# NLU intent benchmark\n")
    print(f"- date: {report['date']}")
    print(f"- command: `{command}`")
    print(f"- CPUs: {cpu['cpu_count']}" + "".join(f", {k}: {v}" for k, v in cpu.items() if k != "cpu_count"))
    report["load_average_at_start"] = _load_average()
    print(f"- load average at start (1/5/15 min): {report['load_average_at_start']}")
    print(f"- Rasa {rasa.__version__}, Python {report['python']}")
    for name in args.pipelines:
        print(f"- {name} pipeline: " + ", ".join(_component_label(c) for c in pipelines[name]))
    single = (
        f"single: median of {args.latency_sample} `agent.parse_message` calls"
        if args.latency_sample
        else "no single-message sample"
    )
    print(f"- inference: test set parsed in batches of {args.batch_size} through the loaded Rasa graph; {single}")
    if "clinc150" in args.dataset:
        print(
            "- OOS threshold (CLINC150): tuned on val + oos_val only, max (in-scope acc + OOS recall)/2 with in-scope "
            "val accuracy at most 1 point below no threshold; applied to test"
        )

    uses_embeddings = any(
        component["name"].endswith("SentenceEmbeddingFeaturizer")
        for name in args.pipelines
        for component in pipelines[name]
    )
    if uses_embeddings:  # load the process-wide model outside the timed training
        from bot.embeddings import SentenceTransformerEmbedder

        with _Recorder():
            start = time.perf_counter()
            SentenceTransformerEmbedder().embed(["warm up"])
            report["embedding_model_load_seconds"] = time.perf_counter() - start
        print(
            f"- sentence-embedding model loaded once per process in "
            f"{report['embedding_model_load_seconds']:.1f} s (not in train times)"
        )
    sys.stdout.flush()

    for spec in args.dataset:
        full = load_dataset(spec, args.datasets, REPO_ROOT, oos_label=args.oos_label)
        dataset = Dataset(
            full.name,
            train=stratified_subset(full.train, args.limit_train),
            test=stratified_subset(full.test, args.limit_test),
            val=None if full.val is None else stratified_subset(full.val, args.limit_test),
            oos_label=full.oos_label,
        )
        dataset_result: dict[str, Any] = {**_describe(dataset, full), "results": []}
        dataset_result["load_average_before"] = _load_average()
        for name in args.pipelines:
            config = nlu_config(pipelines[name], project_config)
            dataset_result["results"].append(
                benchmark_pipeline(dataset, name, config, args.batch_size, args.latency_sample)
            )
        dataset_result["load_average_after"] = _load_average()
        report["datasets"].append(dataset_result)
        sizes = ", ".join(
            f"{split} {dataset_result[split]}" for split in ("train", "val", "test") if dataset_result[split]
        )
        print(f"\n## {dataset.name}\n")
        print(
            f"{sizes}; {dataset_result['labels']} labels"
            + (f"; out-of-scope label `{dataset.oos_label}`" if dataset.oos_label else "")
            + "\n"
        )
        print(format_table(dataset_result))
        notes = [f"{r['pipeline']}: {w}" for r in dataset_result["results"] for w in r["warnings"]]
        notes += [
            f"{r['pipeline']}: single-message parses agree with batched on "
            f"{100 * r['single_message']['intent_agreement_with_batched']:.1f}% of {r['single_message']['messages']}"
            for r in dataset_result["results"]
            if r.get("single_message")
        ]
        notes.append(
            f"load average (1/5/15 min) before {dataset_result['load_average_before']}, "
            f"after {dataset_result['load_average_after']}"
        )
        print("\n" + "\n".join(f"- {note}" for note in notes))
        sys.stdout.flush()
        if args.json:  # rewrite after every dataset so a crash keeps what was measured
            report["total_seconds"] = time.perf_counter() - started
            _write_json(args.json, report)

    report["total_seconds"] = time.perf_counter() - started
    print(f"\nTotal time: {report['total_seconds']:.0f} s")
    if args.json:
        _write_json(args.json, report)
    return 0


def _component_label(component: dict[str, Any]) -> str:
    options = ", ".join(f"{k}={v}" for k, v in component.items() if k != "name")
    name = component["name"].rsplit(".", 1)[-1]
    return f"{name}({options})" if options else name


def _write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
