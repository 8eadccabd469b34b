#!/usr/bin/env python3
"""Default scikit-learn models on exactly the folds Omnichart used, side by side with our numbers.

  npm run train                                   # writes data/folds/*.json and models/leaderboard.json
  python3 bench/sklearn-reference/reference.py    # needs python3-sklearn (Debian) or scikit-learn
  python3 bench/sklearn-reference/reference.py --beyond-defaults
      # also: tuned and ensemble models (tuning nested in each training fold), to see whether anything
      # honest reaches the issue's accuracy targets
  python3 bench/sklearn-reference/reference.py --only pima-chart,ckd-chart
      # only these datasets (data/folds/<name>.json)

Every model is scikit-learn's default inside SimpleImputer(median) + StandardScaler, fitted on each
training fold only. The CSV is read as written (empty cell = missing), like the shared benchmark.
"""
import json
import math
import os
import sys

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = {
    "SVC": lambda: SVC(probability=True, random_state=0),
    "GaussianNB": GaussianNB,
    "DecisionTree": lambda: DecisionTreeClassifier(random_state=0),
    "RandomForest": lambda: RandomForestClassifier(random_state=0),
    "LogisticRegression": lambda: LogisticRegression(max_iter=5000),
    "KNeighbors": KNeighborsClassifier,
}

def inner_folds():
    return StratifiedKFold(5, shuffle=True, random_state=0)


def logreg():
    return LogisticRegression(max_iter=5000)


def soft_vote(*members):
    return lambda: VotingClassifier([(name, make()) for name, make in members], voting="soft")


# Grid searches run inside each outer training fold (GridSearchCV is refitted per fold), so no test row
# ever informs a choice.
BEYOND_DEFAULTS = {
    "LogisticRegression tuned C": lambda: GridSearchCV(
        logreg(), {"C": [0.01, 0.03, 0.1, 0.3, 1, 3, 10]}, cv=inner_folds()
    ),
    "LinearDiscriminant": LinearDiscriminantAnalysis,
    "LinearSVC C=0.1": lambda: SVC(kernel="linear", C=0.1, probability=True, random_state=0),
    "SVC tuned C, gamma": lambda: GridSearchCV(
        SVC(probability=True, random_state=0), {"C": [0.3, 1, 3, 10, 30], "gamma": ["scale", 0.003, 0.01, 0.03]}, cv=inner_folds()
    ),
    "vote LR+SVC+GNB": soft_vote(("lr", logreg), ("svc", MODELS["SVC"]), ("gnb", GaussianNB)),
    "vote LR+SVC+kNN15": soft_vote(
        ("lr", logreg), ("svc", MODELS["SVC"]), ("knn", lambda: KNeighborsClassifier(15))
    ),
    "vote LR+SVC": soft_vote(("lr", logreg), ("svc", MODELS["SVC"])),
    "vote LR+GNB": soft_vote(("lr", logreg), ("gnb", GaussianNB)),
    "forward selection + LR": lambda: make_pipeline(
        SequentialFeatureSelector(logreg(), n_features_to_select="auto", tol=0.002, cv=inner_folds()), logreg()
    ),
    "backward selection + LR": lambda: make_pipeline(
        SequentialFeatureSelector(
            logreg(), n_features_to_select="auto", tol=0.001, direction="backward", cv=inner_folds()
        ),
        logreg(),
    ),
    "L1 LogisticRegression, C tuned": lambda: GridSearchCV(
        LogisticRegression(penalty="l1", solver="liblinear", max_iter=5000),
        {"C": [0.03, 0.1, 0.3, 1, 3]},
        cv=inner_folds(),
    ),
    "degree-2 features + LR, C tuned": lambda: make_pipeline(
        PolynomialFeatures(2),
        StandardScaler(),
        GridSearchCV(logreg(), {"C": [0.003, 0.01, 0.03, 0.1, 0.3]}, cv=inner_folds()),
    ),
}


def mean_sd(values):
    values = [v for v in values if not math.isnan(v)]
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / max(1, len(values) - 1))
    return m, sd


def evaluate(X, y, folds, make):
    acc, auc, brier = [], [], []
    everything = np.arange(len(y))
    for fold in folds:
        test = np.array(fold["test"])
        train = np.setdiff1d(everything, test)
        model = make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), make())
        model.fit(X[train], y[train])
        p = model.predict_proba(X[test])[:, 1]
        acc.append(float(np.mean(model.predict(X[test]) == y[test])))
        auc.append(roc_auc_score(y[test], p) if len(set(y[test])) == 2 else float("nan"))
        brier.append(brier_score_loss(y[test], p))
    return {"accuracy": mean_sd(acc), "auc": mean_sd(auc), "brier": mean_sd(brier)}


def main():
    board_file = os.path.join(ROOT, "models", "leaderboard.json")
    ours = json.load(open(board_file))["datasets"] if os.path.exists(board_file) else {}
    rows = []
    only = next((a.split("=", 1)[1] if "=" in a else sys.argv[i + 2] for i, a in enumerate(sys.argv[1:]) if a.startswith("--only")), None)
    for name in sorted(os.listdir(os.path.join(ROOT, "data", "folds"))):
        if only and name[: -len(".json")] not in only.split(","):
            continue
        spec = json.load(open(os.path.join(ROOT, "data", "folds", name)))
        csv = os.path.join(ROOT, "data", spec["file"])
        header = open(csv).readline().strip().split(",")
        data = np.genfromtxt(csv, delimiter=",", skip_header=1)
        # A chart-native variant uses some of its base file's columns (all of them when not listed).
        columns = [header.index(c) for c in spec.get("columns", header[:-1])]
        X, y = data[:, columns], data[:, -1].astype(int)
        print(f"{spec['dataset']}: {len(spec['folds'])} folds from data/folds/{name}", file=sys.stderr)
        models = {**MODELS, **(BEYOND_DEFAULTS if "--beyond-defaults" in sys.argv else {})}
        results = {label: evaluate(X, y, spec["folds"], make) for label, make in models.items()}
        best = max(MODELS, key=lambda k: results[k]["accuracy"][0])
        mine = sorted(ours.get(spec["dataset"], []), key=lambda r: -r["metrics"]["accuracy"]["mean"])
        rows.append((spec["dataset"], mine, results, best))

    pct = lambda ms: f"{100 * ms[0]:.2f} ± {100 * ms[1]:.2f}"
    print("\n| dataset | Omnichart best (served) | acc % | AUC | scikit-learn best default | acc % | AUC | Δ acc (pp) |")
    print("|---|---|---:|---:|---|---:|---:|---:|")
    for dataset, mine, results, best in rows:
        ref = results[best]
        if mine:
            m = mine[0]["metrics"]
            ours_acc = (m["accuracy"]["mean"], m["accuracy"]["sd"])
            delta = 100 * (ours_acc[0] - ref["accuracy"][0])
            print(f"| {dataset} | {mine[0]['algorithm']} | {pct(ours_acc)} | {m['auc']['mean']:.4f} | {best} | "
                  f"{pct(ref['accuracy'])} | {ref['auc'][0]:.4f} | {delta:+.2f} |")
        else:
            print(f"| {dataset} | (not trained) | | | {best} | {pct(ref['accuracy'])} | {ref['auc'][0]:.4f} | |")
    print("\nAll scikit-learn models run (accuracy %, same folds):")
    for dataset, _, results, _ in rows:
        print(f"  {dataset:10s} " + "  ".join(f"{k} {100 * v['accuracy'][0]:.2f}" for k, v in results.items()))
    print("\nAll Omnichart algorithms (accuracy %, same folds):")
    for dataset, mine, _, _ in rows:
        print(f"  {dataset:10s} " + "  ".join(f"{r['algorithm']} {100 * r['metrics']['accuracy']['mean']:.2f}" for r in mine))


if __name__ == "__main__":
    main()
