"""Sample run directories for the HTML report tests, built from plain Python dicts.

    python tests/data/report/make_run.py OUT_DIR [--hostile | --large N]

``make_run`` writes a small realistic run (clinic pages about PRP knee injections: three audited
pages, a duplicate, a skipped and a failed page, fifteen claims, findings of every rule family and two
topics, one with a conflict and a reference range). ``make_hostile_run`` writes a run whose every
field is an injection payload. ``make_large_run`` writes a synthetic run of N pages for timing.
The report tests use these so they do not depend on the rest of the pipeline.
"""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

STARTED = "2024-05-01T09:00:00+00:00"
FINISHED = "2024-05-01T09:02:13+00:00"


# --------------------------------------------------------------------------------------------- helpers

def _write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _assemble(blocks: list[tuple[str, str, int]]) -> tuple[str, list[dict]]:
    """Page text and block records from (kind, text, level) triples, blocks separated by blank lines."""
    text, out = "", []
    for kind, body, level in blocks:
        if text:
            text += "\n\n"
        out.append({"start": len(text), "end": len(text) + len(body), "kind": kind, "level": level})
        text += body
    return text, out


def _span(text: str, snippet: str, occurrence: int = 1) -> tuple[int, int]:
    pos = -1
    for _ in range(occurrence):
        pos = text.find(snippet, pos + 1)
        if pos < 0:
            raise ValueError(f"{snippet!r} not in page text")
    return pos, pos + len(snippet)


class _Run:
    """Collects pages, claims and findings, then writes the run directory."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.pages: list[dict] = []
        self.texts: dict[str, dict] = {}
        self.claims: list[dict] = []
        self.findings: list[dict] = []
        self.topics: list[dict] = []
        self._text_of: dict[str, str] = {}
        self._page_of: dict[str, dict] = {}

    def page(self, page_id, source, url, title, blocks=None, status="audited", text_name=None, **extra) -> dict:
        row = {"page": page_id, "source": source, "url": url, "title": title,
               "path": f"corpus/{source}/{len(self.pages):03d}.html", "status": status,
               "error_code": "", "error": "", "duplicate_of": "", "words": 0, "claims": 0, "findings": 0}
        row.update(extra)
        if blocks is not None:
            text, block_rows = _assemble(blocks)
            name = text_name or f"page{len(self.pages):03d}"
            row["text_file"] = f"texts/{name}.json"
            row["words"] = len(text.split())
            self.texts[name] = {"page": page_id, "text": text, "blocks": block_rows, "links": []}
            self._text_of[page_id] = text
        self.pages.append(row)
        self._page_of[page_id] = row
        return row

    def link(self, page_id, snippet, href):
        name = self._page_of[page_id]["text_file"][len("texts/"):-len(".json")]
        start, end = _span(self._text_of[page_id], snippet)
        self.texts[name]["links"].append({"start": start, "end": end, "href": href})

    def claim(self, page_id, snippet, kind, category, occurrence=1, low=None, high=None, unit="", bound="",
              approx=False, evidence="none", evidence_text="", scope="provider", hedges=(), topic="",
              qualifiers=None, text=None, span=None) -> dict:
        page = self._page_of[page_id]
        page_text = self._text_of[page_id]
        start, end = span or _span(page_text, snippet, occurrence)
        sentence_start = max(page_text.rfind("\n", 0, start), page_text.rfind(". ", 0, start) + 1, 0)
        sentence_end = min([i for i in (page_text.find(". ", end), page_text.find("\n", end)) if i >= 0],
                           default=len(page_text))
        row = {"claim_id": f"{page_id}:{start}-{end}", "page": page_id, "source": page["source"],
               "url": page["url"], "kind": kind, "category": category,
               "text": page_text[start:end] if text is None else text,
               "sentence": page_text[sentence_start:sentence_end + 1].strip(),
               "start": start, "end": end, "low": low, "high": high, "unit": unit, "bound": bound,
               "approx": approx, "count": 1, "evidence": evidence, "evidence_text": evidence_text,
               "scope": scope, "hedges": list(hedges), "topic": topic, "qualifiers": qualifiers or {}}
        self.claims.append(row)
        page["claims"] += 1
        return row

    def finding(self, rule, level, message, claims=(), page=None, suggestion="", rationale="", topic="",
                evidence=None, evidence_text=None, reference=None, details=None, review=None) -> dict:
        claims = list(claims)
        first = claims[0] if claims else None
        if page is None:
            page = first["page"] if first else ""
        page_row = self._page_of.get(page)
        row = {"finding_id": f"{rule}-{len(self.findings) + 1:04d}", "rule": rule, "level": level,
               "message": message, "suggestion": suggestion, "rationale": rationale, "page": page,
               "source": page_row["source"] if page_row else "",
               "url": page_row["url"] if page_row else "",
               "topic": topic or (first["topic"] if first else ""),
               "claims": [{k: c[k] for k in ("claim_id", "page", "source", "url", "text", "sentence", "start",
                                              "end", "low", "high", "unit", "bound")} for c in claims],
               "evidence": evidence if evidence is not None else (first["evidence"] if first else "none"),
               "evidence_text": evidence_text if evidence_text is not None else (first["evidence_text"] if first else ""),
               "reference": reference, "details": details or {}, "review": review}
        self.findings.append(row)
        touched = {c["page"] for c in claims} or ({page} if page else set())
        for p in touched:
            self._page_of[p]["findings"] += 1
        return row

    def topic(self, topic, unit, label, claims, reference=None, conflict=False, groups=()):
        self.topics.append({"topic": topic, "unit": unit, "label": label,
                            "entries": [{k: c[k] for k in ("page", "source", "claim_id", "text", "low", "high", "bound")}
                                        for c in claims],
                            "reference": reference, "conflict": conflict, "groups": [list(g) for g in groups]})

    def write(self, settings: dict | None = None, inputs=None, version="0.1.0") -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "texts").mkdir(exist_ok=True)
        run = {"version": version, "started": STARTED, "finished": FINISHED,
               "settings": settings if settings is not None else {"workers": 4, "min_level": "info",
                                                                   "rules": "default", "language": "en"},
               "inputs": inputs if inputs is not None else ["corpus/"]}
        (self.out / "run.json").write_text(json.dumps(run, indent=2, ensure_ascii=False), encoding="utf-8")
        for name, body in self.texts.items():
            (self.out / "texts" / f"{name}.json").write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        _write_jsonl(self.out / "pages.jsonl", self.pages)
        _write_jsonl(self.out / "claims.jsonl", self.claims)
        _write_jsonl(self.out / "findings.jsonl", self.findings)
        _write_jsonl(self.out / "topics.jsonl", self.topics)
        return self.out


# --------------------------------------------------------------------------------------------- sample run

PRP_REFERENCE = {
    "low": 30, "high": 50, "unit": "percent",
    "citation": "Smith J, Lee K, et al. Platelet-rich plasma versus saline for knee osteoarthritis: "
                "a randomised trial. JAMA. 2021;325(3):250-260.",
    "url": "https://example.org/jama/2021/prp-knee",
    "pmid": "33000000", "doi": "10.1001/jama.2021.0001",
    "population": "adults 50-80 with knee osteoarthritis", "time_frame": "12 months",
}

PAGE_A = "clinic-a.example/knee-injections"
PAGE_B = "clinic-b-prp"
PAGE_C = "blog-42"


def make_run(out: Path) -> Path:
    """A small realistic run directory; returns its path."""
    r = _Run(out)
    r.page(PAGE_A, "clinic-a.example", "https://clinic-a.example/knee-injections",
           "Knee Injections That Work | Clinic A", [
               ("heading", "PRP knee injections", 1),
               ("paragraph", "Our PRP injections are clinically proven to reduce knee pain by 70-80% within "
                             "6 weeks. Most patients need only two sessions.", 0),
               ("heading", "Why choose us", 2),
               ("list_item", "The most advanced regenerative clinic in the state", 0),
               ("list_item", "Over 5,000 patients treated since 2010", 0),
               ("list_item", "Results guaranteed or your money back", 0),
               ("quote", "\u201cI was pain-free after one injection \u2014 a miracle cure!\u201d \u2014 Janet, 54", 0),
               ("paragraph", "Studies show PRP works for 9 out of 10 patients (Smith et al., 2019).", 0),
           ])
    r.page(PAGE_B, "clinic-b.example", "http://clinic-b.example/prp", "Platelet-rich plasma (PRP) therapy", [
        ("heading", "Platelet-rich plasma (PRP) therapy", 1),
        ("paragraph", "PRP reduces knee pain by up to 90% in just one visit. "
                      "It is the only treatment that regrows cartilage.", 0),
        ("paragraph", "Our success rate is 98.7%.", 0),
        ("cell", "Sessions", 0), ("cell", "1\u20133", 0), ("cell", "Price", 0), ("cell", "$450", 0),
        ("comment", "Bob: it reduced my pain by about 30%, worth it.", 0),
    ])
    r.page(PAGE_C, "blog.example", "https://blog.example/posts/42?utm=feed&x=1", "Does PRP help knee arthritis?", [
        ("heading", "Does PRP help knee arthritis?", 1),
        ("paragraph", "A 2021 trial found pain fell by 30-45% at 12 months compared with saline, according "
                      "to a randomised controlled trial (PMID 33000000).", 0),
        ("paragraph", "Best results: more than 50% of patients respond well to therapy.", 0),
    ])
    r.link(PAGE_C, "randomised controlled trial", "https://pubmed.ncbi.nlm.nih.gov/33000000/")
    r.page("clinic-a.example/knee-injections?print=1", "clinic-a.example",
           "https://clinic-a.example/knee-injections?print=1", "Knee Injections That Work | Clinic A",
           status="duplicate", duplicate_of=PAGE_A)
    r.page("clinic-d.example/home", "clinic-d.example", "https://clinic-d.example/", "", status="failed",
           error_code="E101", error="fetch failed: HTTP 404 Not Found")
    r.page("clinic-d.example/brochure.pdf", "clinic-d.example", "https://clinic-d.example/brochure.pdf", "",
           status="skipped", error_code="E120", error="unsupported content type application/pdf")

    # --- claims: page A (a numeric claim nested inside a promotional one)
    a_proven = r.claim(PAGE_A, "clinically proven to reduce knee pain by 70-80%", "promotional", "proven",
                       evidence="none")
    a_pain = r.claim(PAGE_A, "70-80%", "numeric", "pain reduction", low=70, high=80, unit="percent",
                     topic="prp.knee_pain_reduction", qualifiers={"time_frame": "6 weeks"})
    a_weeks = r.claim(PAGE_A, "within 6 weeks", "numeric", "time to effect", low=None, high=6, unit="week",
                      bound="within")
    a_most = r.claim(PAGE_A, "The most advanced", "promotional", "superlative")
    a_over = r.claim(PAGE_A, "Over 5,000 patients", "numeric", "patients treated", low=5000, high=None,
                     unit="patients", bound="over")
    a_guar = r.claim(PAGE_A, "Results guaranteed", "promotional", "guarantee")
    a_cure = r.claim(PAGE_A, "a miracle cure", "promotional", "cure", scope="testimonial")
    a_nine = r.claim(PAGE_A, "9 out of 10 patients", "numeric", "response rate", low=90, high=90, unit="percent",
                     evidence="cited", evidence_text="(Smith et al., 2019)", topic="prp.response_rate")
    # --- page B
    b_upto = r.claim(PAGE_B, "up to 90%", "numeric", "pain reduction", low=None, high=90, unit="percent",
                     bound="up to", topic="prp.knee_pain_reduction")
    b_only = r.claim(PAGE_B, "the only treatment that regrows cartilage", "promotional", "exclusive")
    b_rate = r.claim(PAGE_B, "98.7%", "numeric", "success rate", low=98.7, high=98.7, unit="percent")
    b_bob = r.claim(PAGE_B, "about 30%", "numeric", "pain reduction", low=30, high=30, unit="percent",
                    approx=True, scope="comment", hedges=["about"])
    # --- page C (a promotional claim crossing a numeric one)
    c_trial = r.claim(PAGE_C, "30-45%", "numeric", "pain reduction", low=30, high=45, unit="percent",
                      evidence="study", evidence_text="randomised controlled trial (PMID 33000000)",
                      topic="prp.knee_pain_reduction", qualifiers={"time_frame": "12 months", "comparator": "saline"})
    c_best = r.claim(PAGE_C, "Best results: more than 50%", "promotional", "superlative")
    c_more = r.claim(PAGE_C, "more than 50% of patients", "numeric", "response rate", low=50, high=None,
                     unit="percent", bound="more than", topic="prp.response_rate")

    # --- findings, every family
    r.finding("PRM001", "warning", "\u201cClinically proven\u201d with no study cited on the page.", [a_proven],
              suggestion="Cite the trial that proves it, or drop \u201cclinically proven\u201d.",
              rationale="Proof claims need a named study an editor can check.")
    r.finding("EVD001", "warning", "Numeric claim with no evidence: 70-80% less knee pain.", [a_pain],
              suggestion="A trial or audit reporting pain reduction after PRP, with its time frame.",
              rationale="Effect sizes without a source cannot be checked.")
    r.finding("REF001", "error", "70-80% is above the literature range of 30-50% for knee pain reduction.",
              [a_pain], suggestion="Compare with the cited trial; quote its range instead.",
              reference=PRP_REFERENCE, details={"distance": 20, "direction": "above"})
    r.finding("PRM002", "info", "Superlative: \u201cthe most advanced\u201d.", [a_most],
              suggestion="Say what is advanced, and by what measure.",
              review={"decision": "accepted", "reviewer": "editor@example.org", "reason": "Harmless puffery.",
                      "date": "2024-05-02"})
    r.finding("REG001", "error", "Guarantee of treatment results.", [a_guar],
              suggestion="Remove the guarantee; outcomes of medical treatment cannot be promised.",
              rationale="Advertising codes forbid guaranteeing the outcome of a treatment.")
    r.finding("REG002", "error", "Cure claim in a testimonial.", [a_cure],
              suggestion="Remove the testimonial or its cure wording.",
              rationale="Testimonials count as the provider's own claims.")
    r.finding("EVD002", "info", "Cited source: check it reports 9 in 10 patients responding.", [a_nine],
              suggestion="Find (Smith et al., 2019) and compare the figure.")
    r.finding("NUM001", "warning", "Count with no time frame: over 5,000 patients.", [a_over],
              suggestion="State the period, and whether these are patients or procedures.")
    r.finding("REF001", "error", "Up to 90% is above the literature range of 30-50% for knee pain reduction.",
              [b_upto], suggestion="Quote the range from a trial.", reference=PRP_REFERENCE)
    r.finding("PRM003", "warning", "Exclusivity claim: \u201cthe only treatment\u201d.", [b_only],
              suggestion="Name the comparison, or remove \u201cthe only\u201d.")
    r.finding("NUM002", "info", "Implausible precision: 98.7% success rate.", [b_rate],
              suggestion="The number of patients behind the rate and how success was defined.")
    r.finding("REG003", "warning", "No medical disclaimer on a page that makes treatment claims.", page=PAGE_B,
              suggestion="Add the standard disclaimer that results vary.")
    r.finding("EVD003", "info", "Claim backed by a study on the page.", [c_trial], evidence="study",
              suggestion="Check the study's population matches the claim.")
    r.finding("PRM002", "info", "Superlative: \u201cbest results\u201d.", [c_best],
              suggestion="Say what the results are compared with.")
    r.finding("CNF001", "warning", "Sources disagree on knee pain reduction after PRP: 30-45% vs 70-80% vs up to 90%.",
              [a_pain, b_upto, c_trial], page="", topic="prp.knee_pain_reduction",
              suggestion="The trial range (30-50%) settles it; the clinic figures are above it.",
              reference=PRP_REFERENCE, details={"groups": 2})

    r.topic("prp.knee_pain_reduction", "percent", "Knee pain reduction after PRP", [a_pain, b_upto, c_trial],
            reference=PRP_REFERENCE, conflict=True,
            groups=[["clinic-a.example", "clinic-b.example"], ["blog.example"]])
    r.topic("prp.response_rate", "percent", "Patients responding to PRP", [a_nine, c_more],
            conflict=False, groups=[["clinic-a.example", "blog.example"]])
    # silence "unused" linters; these claims carry no findings on purpose
    del a_weeks, b_bob, c_more
    return r.write()


# --------------------------------------------------------------------------------------------- hostile run

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "\"><svg onload=alert(1)>",
    "</textarea></script></style>",
    "<div <b>unclosed <a href='",
    "{{ 7*7 }}",
]


HOSTILE_ID = "../../<script>alert(1)</script>\"'"


def make_hostile_run(out: Path) -> Path:
    """A run whose text, titles, urls, sources, claims, messages and settings are injection payloads."""
    r = _Run(out)
    hostile_id = HOSTILE_ID
    blocks = [("heading", "<script>alert(1)</script> heading", 1)]
    blocks += [("paragraph", f"Payload {i}: {p} and 50% cure.", 0) for i, p in enumerate(PAYLOADS)]
    blocks += [("comment", "javascript:alert(1)", 0), ("list_item", "{{ 7*7 }} {% raw %} ${7*7}", 0)]
    r.page(hostile_id, "\"><svg onload=alert(1)>", "javascript:alert(1)", "<script>alert(1)</script>",
           blocks, text_name="hostile")
    r.link(hostile_id, "javascript:alert(1)", "javascript:alert(1)")
    r.page("data-url", "<img src=x onerror=alert(1)>", "  JaVaScRiPt:alert(1)", "<img src=x onerror=alert(1)>",
           [("paragraph", "Nothing here but 12% {{ 7*7 }}.", 0)], text_name="data-url")
    r.page("traversal", "evil.example", "data:text/html,<script>alert(1)</script>", "Traversal",
           status="audited", text_file="../../../../etc/passwd")
    r.page("failed-<script>", "</textarea></script></style>", "javascript:alert(1)", "</title><script>alert(1)</script>",
           status="failed", error_code="<b>E1</b>", error="<img src=x onerror=alert(1)>")

    claims = []
    for i, p in enumerate(PAYLOADS):
        claims.append(r.claim(hostile_id, p, "promotional", "<script>alert(1)</script>", evidence="none",
                              evidence_text="<img src=x onerror=alert(1)>", hedges=["<b>hedge</b>"],
                              qualifiers={"<i>k</i>": "<script>alert(1)</script>"}))
        claims.append(r.claim(hostile_id, "50% cure", "numeric", "\"><svg onload=alert(1)>", occurrence=i + 1,
                              low=50, high=None, unit="</script><script>alert(1)</script>", bound="<b>",
                              topic="<script>alert(1)</script>.x"))
    # a claim whose offsets are outside the text and one whose kind and level are nonsense
    r.claim(hostile_id, "", "<script>", "x", span=(10_000, 10_010), text="<script>alert(1)</script>")
    d = r.claim("data-url", "12%", "numeric\" onmouseover=\"alert(1)", "x", low=12, high=12, unit="percent")
    ref = {"low": 1, "high": 2, "unit": "<script>alert(1)</script>", "citation": "<script>alert(1)</script>",
           "url": "javascript:alert(1)", "pmid": "1\"><script>alert(1)</script>",
           "doi": "10.1/\"><script>alert(1)</script>", "population": "<b>x</b>", "time_frame": "{{ 7*7 }}"}
    for i, c in enumerate(claims):
        r.finding("\"><svg onload=alert(1)>" if i % 2 else "EVD001", "error\"><script>alert(1)</script>" if i == 3
                  else "error", PAYLOADS[i % len(PAYLOADS)], [c],
                  suggestion="<img src=x onerror=alert(1)>", rationale="</textarea></script></style>",
                  reference=ref if i % 3 == 0 else None,
                  details={"<script>": "<script>alert(1)</script>", "n": [1, "<b>"]},
                  review={"decision": "<script>alert(1)</script>", "reviewer": "\"><svg onload=alert(1)>",
                          "reason": "{{ 7*7 }}", "date": "<b>"} if i == 0 else None)
    r.finding("CNF001", "warning", "<script>alert('cnf')</script>", [claims[1], d], page="",
              topic="<script>alert(1)</script>.x", reference=ref)
    r.topic("<script>alert(1)</script>.x", "</script><script>alert(1)</script>", "<img src=x onerror=alert(1)>",
            [claims[1], d], reference=ref, conflict=True,
            groups=[["\"><svg onload=alert(1)>"], ["<img src=x onerror=alert(1)>"]])
    return r.write(settings={"<script>alert(1)</script>": "<img src=x onerror=alert(1)>",
                             "nested": {"a": ["</script>", "{{ 7*7 }}"]}},
                   inputs=["<script>alert(1)</script>"], version="<b>0.1.0</b>")


# --------------------------------------------------------------------------------------------- large run

def make_large_run(out: Path, n_pages: int = 10_000, claims_per_page: int = 8, seed: int = 7) -> Path:
    """A synthetic run of n_pages pages for timing the report; numbers only, no meaning."""
    rng = random.Random(seed)
    r = _Run(out)
    sentences = ["Our treatment reduces pain by {a}-{b}% in {w} weeks.",
                 "The best clinic in town, trusted by over {n} patients.",
                 "Guaranteed results for {a}% of clients.",
                 "Studies show up to {b}% improvement (Doe, 2020).",
                 "We have helped people for {w} years with a {a}% success rate."]
    topic_entries: dict[str, list] = {}
    for i in range(n_pages):
        source = f"clinic-{i % 997}.example"
        pid = f"{source}/page-{i}"
        paras = []
        for _ in range(claims_per_page // 2):
            s = rng.choice(sentences).format(a=rng.randint(10, 60), b=rng.randint(61, 99), w=rng.randint(2, 12),
                                             n=rng.randint(100, 9000))
            paras.append(("paragraph", s + " " + " ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet"])
                                                            for _ in range(40)), 0))
        r.page(pid, source, f"https://{source}/page-{i}", f"Page {i} of {source}",
               [("heading", f"Treatments at {source}", 1)] + paras, text_name=f"p{i:06d}")
        text = r._text_of[pid]
        for m in list(re.finditer(r"(?:up to |over )?\d+(?:-\d+)?%?(?: weeks| years| patients)?", text))[:claims_per_page]:
            c = r.claim(pid, m.group(0), "numeric", "measure", span=(m.start(), m.end()), low=1, high=2,
                        unit="percent", topic=f"t.{i % 50}")
            lvl = rng.choice(["info", "warning", "error"])
            r.finding(rng.choice(["EVD001", "PRM001", "NUM001", "REG001"]), lvl, f"Finding on {m.group(0)}", [c],
                      suggestion="Cite a source.")
            topic_entries.setdefault(c["topic"], []).append(c)
        for m in re.finditer(r"best clinic in town|Guaranteed results", text):
            r.claim(pid, m.group(0), "promotional", "superlative", span=(m.start(), m.end()))
    for key, entries in topic_entries.items():
        r.topic(key, "percent", f"Topic {key}", entries[:12], reference=None, conflict=False,
                groups=[[e["source"] for e in entries[:12]]])
    return r.write()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "sample-run")
    if "--hostile" in sys.argv:
        make_hostile_run(target)
    elif "--large" in sys.argv:
        make_large_run(target, int(sys.argv[sys.argv.index("--large") + 1]))
    else:
        make_run(target)
    print(target)
