"""Fit the answer ranker and the answerability model, report grouped cross-validation by report,
and write qa_service/qa/model.json (one fitted variant per set of sentence encoders).

    python benchmarks/train.py                  # CV + fit + write the model (every variant)
    python benchmarks/train.py --cv-only        # CV figures only
    python benchmarks/train.py --ablate         # CV with groups of features left out
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation import training as T  # noqa: E402
from qa_service.qa.answerer import variant_name  # noqa: E402
from qa_service.qa.adapter import QueryAdapter, save_adapters  # noqa: E402
from qa_service.qa.tower import QuestionTower, save_tower  # noqa: E402
from qa_service.qa.features import FEATURES  # noqa: E402

ADAPTERS = "adapters-{variant}.npz"  # beside --out; each variant's own (its candidates differ)
TOWER = "tower-{encoder}-{variant}.npz"
VARIANTS = (("wl", "lm"), ("wl",), ())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, default=ROOT / "models" / "train", help="index folder for the training corpus")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cv-only", action="store_true")
    ap.add_argument("--ablate", action="store_true")
    ap.add_argument("--alpha", type=float, default=1.0, help="the ranker's L2 penalty")
    ap.add_argument("--C", type=float, default=1.0, help="the answerability model's inverse L2 penalty")
    ap.add_argument("--decline-target", type=float, default=T.DECLINE_TARGET,
                    help="share of the answerable case-report training questions the threshold declines")
    ap.add_argument("--ranker-research-weight", type=float, default=T.RANKER_RESEARCH_WEIGHT,
                    help="weight of a research-paper question against a case question in the ranker's fit")
    ap.add_argument("--variants", default="wl+lm,wl,none", help="encoder sets to fit, e.g. 'wl+lm,wl,none'")
    ap.add_argument("--research", default="400,300",
                    help="COVID-QA and PubMedQA training questions to add ('0,0': case reports only)")
    ap.add_argument("--no-written", action="store_true",
                    help="leave out the questions written for training over E3C case texts")
    ap.add_argument("--no-adapt", action="store_true", help="no question adapters (the encoders' own cosines)")
    ap.add_argument("--no-tower", action="store_true",
                    help="a linear adapter for MiniLM too, instead of a fine-tuned question tower (which needs torch)")
    ap.add_argument("--retrieval", choices=("stock", "adapted"), default="adapted",
                    help="which question vectors pick the semantic candidates of test (and served) questions")
    ap.add_argument("--null-tower", action="store_true",
                    help="the tower also learns from unanswerable questions (a 'no sentence answers' option)")
    ap.add_argument("--out", type=Path, default=ROOT / "qa_service" / "qa" / "model.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    t0 = time.perf_counter()
    wanted = args.variants.split(",")
    artefact = {"written_by": "benchmarks/train.py", "commit": T.git_commit(), "data": T.data_files(),
                "features": list(FEATURES), "answerability_features": list(T.ANSWERABILITY_FEATURES),
                "folds": args.folds,
                "ranker_research_weight": args.ranker_research_weight, "variants": {}}
    for encoders in VARIANTS:
        name = variant_name(encoders)
        if name not in wanted:
            continue
        answerer = T.build_answerer(args.models, encoders)
        items = T.load_items()
        n_covid, n_pubmed = (int(n) for n in args.research.split(","))
        if n_covid or n_pubmed:
            covid = T.build_answerer(args.models.parent / "train-covidqa", encoders,
                                     sources=(T.COVIDQA / "corpus.jsonl",))
            pubmed_dir = args.models.parent / "train-pubmedqa-11k"
            pubmed = T.build_answerer(pubmed_dir, encoders, sources=(T.pubmedqa_corpus(pubmed_dir),))
            items += T.research_items(covid, pubmed, n_covid, n_pubmed)
        if not args.no_written:
            e3c_dir = args.models.parent / "train-e3c"
            items += T.e3c_written_items(T.build_answerer(e3c_dir, encoders, sources=(T.e3c_written_corpus(e3c_dir),)))
        T.prepare(answerer, items)
        recall = np.mean([bool(it.y.any()) for it in items if it.evidence])
        print(f"[{name}] {len(items)} questions over {len({it.group for it in items})} documents, prepared at "
              f"{time.perf_counter() - t0:.0f} s; evidence among the candidates: {recall:.3f}", flush=True)
        records: list = []
        tower = None if args.no_tower or args.no_adapt else QuestionTower(null=args.null_tower)
        retrieval = "stock" if args.no_adapt else args.retrieval
        cv = T.cross_validate(answerer, items, args.folds, alpha=args.alpha, C=args.C, records=records,
                              decline_target=args.decline_target, ranker_research_weight=args.ranker_research_weight,
                              adapt=not args.no_adapt, tower=tower, retrieval=retrieval)
        T.print_table(f"[{name}] cross-validated ({args.folds} folds grouped by report)", cv)
        r = np.array(records)
        curves = {"answerability": T.reliability(r[:, 0], r[:, 1]),
                  "top answer score": T.reliability(r[:, 2], r[:, 3])}
        for label, curve in curves.items():
            print(f"[{name}] reliability of {label} (out of fold): "
                  + "; ".join(f"{c['bin']}: n={c['n']} predicted {c['predicted']} observed {c['observed']}" for c in curve))
        if args.ablate:
            for label, keep in T.ABLATIONS.items():
                mask = np.array([keep(f) for f in FEATURES])
                m = T.cross_validate(answerer, items, args.folds, mask=mask, alpha=args.alpha, C=args.C,
                                    decline_target=args.decline_target,
                                    ranker_research_weight=args.ranker_research_weight,
                                    tower=tower, retrieval=retrieval)["all case-report questions"]
                print(f"[{name}] ablation {label}: hit@1 {m['hit@1']} MRR@5 {m['MRR@5']} open {m['hit@1 abstention off']} "
                      f"declined {m['answerable declined']} / unans {m['unanswerable declined']}", flush=True)
        if args.cv_only:
            continue
        adapters = {}
        if answerer.encoders and not args.no_adapt:
            T.crossfit(answerer, items, tower=tower)  # the ranker learns from adapted cosines of unseen reports
        ranker, model = T.fit(answerer, items, alpha=args.alpha, C=args.C, decline_target=args.decline_target,
                              ranker_research_weight=args.ranker_research_weight)
        if answerer.encoders and not args.no_adapt:
            adapters = T.fit_adapters(answerer, items, tower=tower)
            if retrieval == "adapted":
                T.prepare(answerer, items, adapters, retrieval)  # in-sample figures as the service answers
            else:
                T.apply_adapters(answerer, items, adapters)
        linear = {k: a for k, a in adapters.items() if isinstance(a, QueryAdapter)}
        towers = {k: a for k, a in adapters.items() if isinstance(a, QuestionTower)}
        if linear:
            name_file = ADAPTERS.format(variant=name)
            save_adapters(args.out.with_name(name_file), linear)
        for k, t in towers.items():
            save_tower(args.out.with_name(TOWER.format(encoder=k, variant=name)), t)
        insample = {src: T.summarize(m) for src, m in T.merge([T.evaluate(answerer, items, ranker, model,
                                                                       np.ones(len(FEATURES), bool))]).items()}
        T.print_table(f"[{name}] in-sample (fitted on these questions; not a generalization figure)", insample)
        artefact["variants"][name] = T.provenance(cv, insample, ranker, model) | {"reliability": curves,
                                                                                  "retrieval": retrieval}
        if linear:
            artefact["variants"][name]["adapters"] = {"file": name_file,
                                                      "encoders": {k: a.params() for k, a in linear.items()}}
        if towers:
            artefact["variants"][name]["towers"] = {k: {"file": TOWER.format(encoder=k, variant=name),
                                                        "params": t.params()} for k, t in towers.items()}
    if not args.cv_only:
        refitted = ", ".join(artefact["variants"])
        write_artefact(args.out, artefact)
        print(f"wrote {args.out} ({refitted} refitted) in {time.perf_counter() - t0:.0f} s")
    return 0


def write_artefact(out: Path, artefact: dict) -> None:
    """Write the model file; variants not refitted this run are kept from the file when it was fitted
    on the same features (so `--variants wl` refits one variant, and runs of different variants can go
    side by side: the read-modify-write holds a lock)."""
    import fcntl

    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if out.exists():
            old = json.loads(out.read_text(encoding="utf-8"))
            if old.get("features") == artefact["features"] and \
                    old.get("answerability_features") == artefact["answerability_features"]:
                artefact["variants"] = {**old.get("variants", {}), **artefact["variants"]}
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(artefact, indent=1) + "\n", encoding="utf-8")
        tmp.replace(out)


if __name__ == "__main__":
    raise SystemExit(main())
