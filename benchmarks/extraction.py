"""Extraction speed: words per second of claim extraction against a blank spaCy tokenizer pass over the
same texts, measured in the same run, and the cold-start time of `auditor extract` on a ~1,500-word page.

    python benchmarks/extraction.py [--repeat 20] [--out benchmarks/extraction.json]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import spacy

from auditor.ingest import iter_pages
from auditor.nlp import extract_claims, load_pipeline

ROOT = Path(__file__).resolve().parents[1]


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20, help="passes over the corpus pages per measurement")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "extraction.json"))
    args = ap.parse_args()

    pages = [p for p in iter_pages([ROOT / "corpus"]) if hasattr(p, "text")] * args.repeat
    words = sum(len(p.text.split()) for p in pages)
    tokenizer = spacy.blank("en")
    nlp = load_pipeline()
    texts = [p.text for p in pages]

    baseline = best_of(3, lambda: list(tokenizer.pipe(texts)))
    extraction = best_of(3, lambda: [extract_claims(nlp, p) for p in pages])

    # cold start: a fresh process extracting one ~1,500-word page
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "page.txt"
        body = "\n\n".join(p.text for p in pages[:5])
        page.write_text(" ".join(body.split(" ")[:1500]))
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "auditor", "extract", str(page), "-o", str(Path(tmp) / "c.jsonl")],
                       check=True)
        cold = time.perf_counter() - t

    figures = {
        "words": words,
        "tokenizer_words_per_s": round(words / baseline),
        "extraction_words_per_s": round(words / extraction),
        "extraction_vs_tokenizer": round(baseline / extraction, 3),
        "cold_start_extract_1500_words_s": round(cold, 2),
        "python": sys.version.split()[0],
        "spacy": spacy.__version__,
    }
    Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
