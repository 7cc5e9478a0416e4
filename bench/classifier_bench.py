"""Classifier quality and speed on our own labelled corpus, against two baselines.

    .venv/bin/python bench/classifier_bench.py [--corpus FILE ...] [--show-errors]

Three classifiers, measured in the same run: noxbot (the model with the rules' findings
among its inputs), the rules alone, and a naive keyword matcher. For each corpus file:
macro-F1 over the 11 labels (`none` included) and exact-match accuracy; for noxbot also
the exact-set match on messages asking for several rights, the share it sends to staff
triage, and its silent misses: requests (any right) it reads as `none` with a confidence at
or above `[classifier] triage_threshold`, which nobody would ever see. For the held-out
files (bench/corpus/heldout*.jsonl, never trained or tuned on) also per-kind precision,
recall and F1 and noxbot's macro-F1 on what it does not send to triage; then throughput on
one core. Training files are marked: a score on them says
only that the model learned them (bench/train_classifier.py prints the honest
leave-one-file-out figures). Misclassified ids are listed only with --show-errors.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import ClassifierSettings  # noqa: E402
from bot.reading.classifier import Classification, classify, classify_by_rules  # noqa: E402
from bot.rules.kinds import RequestKind  # noqa: E402

LABELS = [str(k) for k in RequestKind]
CORPUS = ROOT / "bench" / "corpus"

# The obvious keywords, no negation, no object check: what a first attempt looks like.
_BASELINE = {
    "access": r"registerutdrag|kopia|copy|what data|vilka uppgifter|access",
    "rectification": r"rätta|ratta|correct|update|uppdatera|ändra|change",
    "erasure": r"radera|ta bort|delete|remove|erase|glömd|forgotten",
    "restriction": r"begränsa|restrict|pausa|pause",
    "portability": r"portab|json|csv|export",
    "objection": r"invänd|object|profiler",
    "marketing_optout": r"nyhetsbrev|newsletter|unsubscribe|avregistrera|reklam|utskick|stop",
    "consent_withdrawal": r"samtycke|consent",
    "complaint": r"imy|klagomål|complain|skadestånd|datainspektionen",
    "info": r"hur länge|how long|cookies|tredje part|third part|rättslig grund|legal basis",
}
_BASELINE_RE = {k: re.compile(p, re.IGNORECASE) for k, p in _BASELINE.items()}


def baseline(text: str, subject: str, channel: str) -> list[str]:
    found = [k for k, p in _BASELINE_RE.items() if p.search(f"{subject}\n{text}")]
    return found or ["none"]


def ours(text: str, subject: str, channel: str) -> list[str]:
    return [str(k) for k in classify(text, subject=subject, channel=channel).kinds]


def rules(text: str, subject: str, channel: str) -> list[str]:
    return [str(k) for k in classify_by_rules(text, subject=subject, channel=channel).kinds]


CLASSIFIERS = {"noxbot": ours, "rules only": rules, "keyword baseline": baseline}
TRIAGE_THRESHOLD = ClassifierSettings().triage_threshold


Classifier = Callable[[str, str, str], list[str]]


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(rows: Sequence[dict], classifier: Classifier) -> tuple[dict, float, float, list]:
    counts = {label: [0, 0, 0] for label in LABELS}  # tp, fp, fn
    exact, errors = 0, []
    for row in rows:
        gold = set(row["kinds"])
        predicted = set(classifier(row["text"], row.get("subject", ""), row["channel"]))
        exact += gold == predicted
        if gold != predicted:
            errors.append((row["id"], sorted(gold), sorted(predicted)))
        for label in LABELS:
            counts[label][0] += label in gold and label in predicted
            counts[label][1] += label not in gold and label in predicted
            counts[label][2] += label in gold and label not in predicted
    per_kind = {}
    for label, (tp, fp, fn) in counts.items():
        precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_kind[label] = (precision, recall, f1, tp + fn)
    macro = sum(v[2] for v in per_kind.values()) / len(per_kind)
    return per_kind, macro, exact / len(rows), errors


def throughput(rows: Sequence[dict], classifier: Classifier, minimum: int = 2000) -> float:
    """Messages per second of this process's processor time: one core, whatever else the
    machine is doing (wall-clock time on a shared machine measures the neighbours)."""
    runs = max(1, -(-minimum // len(rows)))
    start = time.process_time()
    for _ in range(runs):
        for row in rows:
            classifier(row["text"], row.get("subject", ""), row["channel"])
    return runs * len(rows) / (time.process_time() - start)


def report(path: Path, show_errors: bool) -> None:
    rows = load(path)
    held_out = path.name.startswith("heldout")
    results = {name: evaluate(rows, f) for name, f in CLASSIFIERS.items()}
    role = "held out: never trained or tuned on" if held_out else "TRAINED ON"
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    print(f"\n== {shown}: {len(rows)} messages ({role}) ==")
    print(f"{'':<22}" + "".join(f"{name:>18}" for name in CLASSIFIERS))
    print(f"{'macro-F1 (11 labels)':<22}" + "".join(f"{r[1]:>18.3f}" for r in results.values()))
    print(f"{'exact-match accuracy':<22}" + "".join(f"{r[2]:>18.3f}" for r in results.values()))
    print(staff_view(rows).summary())
    if held_out:
        print(
            f"\n{'kind':<20}{'support':>8}" + "".join(f"{n + ' P/R/F1':>22}" for n in CLASSIFIERS)
        )
        for label in LABELS:
            support = results["noxbot"][0][label][3]
            cells = "".join(
                "{:>10.2f}{:>7.2f}{:>7.2f}".format(*r[0][label][:3]) for r in results.values()
            )
            print(f"{label:<20}{support:>8}{cells}")
        triage(rows)
    if show_errors:
        for name in ("noxbot",):
            print(f"misclassified by {name}:")
            for row_id, gold, predicted in results[name][3]:
                print(f"  {row_id}: expected {', '.join(gold)}; got {', '.join(predicted)}")
        print("silent misses (requests read as `none`, not sent to triage):")
        for row in rows:
            result = classify(row["text"], subject=row.get("subject", ""), channel=row["channel"])
            missed = row["kinds"] != ["none"] and not result.is_request
            if missed and result.confidence >= TRIAGE_THRESHOLD:
                print(f"  {row['id']}: expected {', '.join(row['kinds'])}")


@dataclass(frozen=True)
class StaffView:
    """What noxbot's answers mean for staff on one file."""

    requests: int  # messages asking for any right
    silent: int  # of those, read as `none` with a confidence at or above the threshold
    multi: int  # messages asking for two or more rights
    multi_exact: int  # of those, read with exactly the right set of kinds
    triaged: int  # messages sent to staff triage (confidence under the threshold)
    total: int

    @property
    def silent_share(self) -> float:
        return self.silent / self.requests if self.requests else 0.0

    @property
    def multi_exact_share(self) -> float:
        return self.multi_exact / self.multi if self.multi else float("nan")

    @property
    def triage_share(self) -> float:
        return self.triaged / self.total if self.total else 0.0

    def summary(self) -> str:
        return (
            f"noxbot: silent misses {self.silent} of {self.requests} requests "
            f"({self.silent_share:.1%}); exact set on multi-label "
            f"{self.multi_exact}/{self.multi} ({self.multi_exact_share:.3f}); "
            f"triage {self.triaged}/{self.total} ({self.triage_share:.1%}; "
            f"confidence < {TRIAGE_THRESHOLD})"
        )


def staff_view(
    rows: Sequence[dict], classifier: Callable[..., Classification] = classify
) -> StaffView:
    """Silent misses, exact-set match on multi-label messages and the triage rate."""
    requests = silent = multi = multi_exact = triaged = 0
    for row in rows:
        result = classifier(row["text"], subject=row.get("subject", ""), channel=row["channel"])
        gold = set(row["kinds"])
        sure = result.confidence >= TRIAGE_THRESHOLD
        triaged += not sure
        if gold != {"none"}:
            requests += 1
            silent += sure and not result.is_request
        if len(gold) > 1:
            multi += 1
            multi_exact += gold == {str(k) for k in result.kinds}
    return StaffView(requests, silent, multi, multi_exact, triaged, len(rows))


def triage(rows: Sequence[dict]) -> None:
    """What staff would see: the share sent to triage, and the quality of the rest."""
    sure = []
    for row in rows:
        result = classify(row["text"], subject=row.get("subject", ""), channel=row["channel"])
        if result.confidence >= TRIAGE_THRESHOLD:
            sure.append(row)
    share = 1 - len(sure) / len(rows)
    macro = evaluate(sure, ours)[1] if sure else float("nan")
    print(
        f"\nnoxbot sends {share:.0%} of these to staff triage (confidence < {TRIAGE_THRESHOLD}); "
        f"macro-F1 on the other {len(sure)}: {macro:.3f}"
    )


def speed(paths: Sequence[Path]) -> None:
    rows = [row for path in paths for row in load(path)]
    print(f"\nthroughput on {len(rows)} messages, one core (messages per processor second):")
    for name, classifier in CLASSIFIERS.items():
        print(f"  {name:<18}{throughput(rows, classifier):>10,.0f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args(argv)
    paths = args.corpus or sorted(
        CORPUS.glob("*.jsonl"), key=lambda p: (p.name.startswith("heldout"), p.name)
    )
    for path in paths:
        report(path.resolve(), args.show_errors)
    speed([p.resolve() for p in paths if p.name.startswith("heldout")] or paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
