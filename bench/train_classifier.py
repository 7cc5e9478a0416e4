"""Train the classifier's model on our labelled corpus and write bot/data/classifier_model.json.

    .venv/bin/pip install -e ".[train]"          # scikit-learn, for training only
    .venv/bin/python bench/train_classifier.py [--check]

Learns from every corpus file except heldout*.jsonl, which are never seen here. Before the
final fit it picks the regularisation and the decision threshold by leave-one-file-out
cross-validation: each file was written by a different author, so a fold measures what the
model makes of an author it has not read — the honest stand-in for real mail — and prints
that figure per file. `--check` only reports whether the shipped model is up to date.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.reading.classifier import training_features  # noqa: E402
from bot.reading.learned_model import (  # noqa: E402
    FEATURES_VERSION,
    MODEL_PATH,
    RIGHTS,
    RULE_EMPHASIS,
    SECOND_KIND_THRESHOLD,
)

CORPUS = ROOT / "bench" / "corpus"
C_GRID = (1.0, 3.0, 10.0)
REQUEST_GRID = (0.7, 0.8, 0.9, 1.01)  # 1.01: never (the kinds alone decide)
THRESHOLD_GRID = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
MIN_MESSAGES = 3  # a feature seen in fewer training messages is left out
CLASS_WEIGHT = "balanced"


def training_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.jsonl") if not p.name.startswith("heldout"))


def corpus_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load(paths: list[Path]) -> list[dict]:
    rows = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["file"] = path.name
                rows.append(row)
    return rows


def featurise(rows: list[dict]) -> list[Counter[str]]:
    found = []
    for row in rows:
        counts = Counter(
            training_features(row["text"], subject=row.get("subject", ""), channel=row["channel"])
        )
        for name in counts:
            if name.startswith("r:"):
                counts[name] *= RULE_EMPHASIS
        found.append(counts)
    return found


def fit(features: list[Counter[str]], rows: list[dict], c: float):
    """Vectoriser, one logistic regression per rights kind, and last one for "any right"."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    seen = Counter(f for counts in features for f in counts)
    kept = [{f: n for f, n in counts.items() if seen[f] >= MIN_MESSAGES} for counts in features]
    vectoriser = DictVectorizer()
    matrix = _int32(vectoriser.fit_transform(kept))
    models = []
    targets = [[str(kind) in r["kinds"] for r in rows] for kind in RIGHTS]
    targets.append([r["kinds"] != ["none"] for r in rows])
    for target in targets:
        model = LogisticRegression(
            C=c, solver="liblinear", max_iter=2000, class_weight=CLASS_WEIGHT
        )
        model.fit(matrix, target)
        models.append(model)
    return vectoriser, models


def _int32(matrix):
    """liblinear takes sparse matrices with 32-bit indices only."""
    import numpy as np

    matrix = matrix.tocsr()
    matrix.indices = matrix.indices.astype(np.int32)
    matrix.indptr = matrix.indptr.astype(np.int32)
    return matrix


def probabilities(vectoriser, models, features: list[Counter[str]]):
    matrix = _int32(vectoriser.transform(features))
    return [m.predict_proba(matrix)[:, 1] for m in models]


def macro_f1(rows: list[dict], predicted: list[set[str]]) -> float:
    labels = [str(k) for k in RIGHTS] + ["none"]
    total = 0.0
    for label in labels:
        tp = sum(label in p and label in r["kinds"] for r, p in zip(rows, predicted, strict=True))
        fp = sum(
            label in p and label not in r["kinds"] for r, p in zip(rows, predicted, strict=True)
        )
        fn = sum(
            label not in p and label in r["kinds"] for r, p in zip(rows, predicted, strict=True)
        )
        precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
        recall = tp / (tp + fn) if tp + fn else 1.0
        total += 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return total / len(labels)


def decide(probs, index: int, threshold: float, request_threshold: float) -> set[str]:
    """As bot.reading.classifier decides: the first kind at the threshold, others at the higher of
    it and SECOND_KIND_THRESHOLD; with none there but a sure request, the likeliest kind."""
    scores = {str(k): p[index] for k, p in zip(RIGHTS, probs, strict=False)}
    first = max(scores, key=scores.__getitem__)
    second = max(threshold, SECOND_KIND_THRESHOLD)
    found = {k for k, p in scores.items() if p >= threshold and (k == first or p >= second)}
    if not found and probs[-1][index] >= request_threshold:
        found = {first}
    return found or {"none"}


def cross_validate(rows: list[dict], features: list[Counter[str]]) -> dict:
    """Leave one file out, for every C; returns per (C, threshold, request threshold) the
    pooled predictions' macro-F1 and per file the macro-F1 at each setting."""
    files = sorted({r["file"] for r in rows})
    results: dict[tuple[float, float, float], dict[str, float]] = {}
    pooled: dict[tuple[float, float, float], list[set[str]]] = {}
    order: list[int] = []
    for name in files:
        test = [i for i, r in enumerate(rows) if r["file"] == name]
        train = [i for i, r in enumerate(rows) if r["file"] != name]
        order.extend(test)
        for c in C_GRID:
            vectoriser, models = fit([features[i] for i in train], [rows[i] for i in train], c)
            probs = probabilities(vectoriser, models, [features[i] for i in test])
            for threshold in THRESHOLD_GRID:
                for sure in REQUEST_GRID:
                    predicted = [decide(probs, j, threshold, sure) for j in range(len(test))]
                    score = macro_f1([rows[i] for i in test], predicted)
                    results.setdefault((c, threshold, sure), {})[name] = score
                    pooled.setdefault((c, threshold, sure), []).extend(predicted)
    ordered_rows = [rows[i] for i in order]
    return {
        key: {"pooled": macro_f1(ordered_rows, predicted), **results[key]}
        for key, predicted in pooled.items()
    }


def export(vectoriser, models, threshold: float, request_threshold: float, digest: str) -> dict:
    names = vectoriser.get_feature_names_out()
    weights = {}
    for column, name in enumerate(names):
        scale = RULE_EMPHASIS if str(name).startswith("r:") else 1.0
        row = [round(float(m.coef_[0][column]) * scale, 4) for m in models]
        if any(abs(w) >= 1e-4 for w in row):
            weights[str(name)] = row
    return {
        "features_version": FEATURES_VERSION,
        "corpus_digest": digest,
        "kinds": [str(k) for k in RIGHTS],
        "intercepts": [round(float(m.intercept_[0]), 4) for m in models],
        "threshold": threshold,
        "request_threshold": request_threshold,
        "weights": weights,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    paths = training_files()
    digest = corpus_digest(paths)
    if args.check:
        shipped = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
        current = (
            shipped["corpus_digest"] == digest and shipped["features_version"] == FEATURES_VERSION
        )
        print("the shipped model is current" if current else "the shipped model is STALE")
        return 0 if current else 1

    rows = load(paths)
    print(f"training on {len(rows)} messages from {', '.join(p.name for p in paths)}")
    features = featurise(rows)
    results = cross_validate(rows, features)
    best = max(results, key=lambda key: results[key]["pooled"])
    print("\nleave-one-file-out macro-F1 (11 labels), per C, threshold and request threshold:")
    for key in sorted(results):
        mark = "  <- chosen" if key == best else ""
        pooled = results[key]["pooled"]
        print(f"  C={key[0]:<4} t={key[1]:<5} request>={key[2]:<5} pooled {pooled:.3f}{mark}")
    print("\nper file at the chosen setting (each measured by a model that never saw it):")
    for name, score in sorted(results[best].items()):
        if name != "pooled":
            print(f"  {name:<16} {score:.3f}")
    vectoriser, models = fit(features, rows, best[0])
    model = export(vectoriser, models, best[1], best[2], digest)
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    MODEL_PATH.write_text(json.dumps(model, separators=(",", ":")) + "\n", encoding="utf-8")
    size = MODEL_PATH.stat().st_size // 1024
    print(f"\nwrote {MODEL_PATH.relative_to(ROOT)}: {len(model['weights'])} features, {size} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
