"""A synthetic corpus of health-provider pages, for benchmarks and scale tests.

    python benchmarks/make_corpus.py OUT --pages 10000 [--seed 7]

Pages are built from templates and the project's own lexicons (reference/lexicons/*.yaml: promotional
phrases, bound words, units) and taxonomy (procedures and their names): each page is one clinic's page
about one procedure, 400 to 1,500 words of headings, paragraphs and lists, with figures (recovery
times, success and complication rates, session counts...), promotional phrases, hedges, study and
citation cues, testimonials and sometimes readers' comments. About half the pages are HTML (with
navigation, links and a footer), half plain text. About 2% are exact copies and 2% near copies of an
earlier page (other URL), so the duplicate index has work to do. ``manifest.csv`` gives each page its
URL and source.

Deterministic: page i depends only on (seed, i), so the first N/4 pages of a 10,000-page corpus are the
2,500-page corpus of the same seed.
"""
from __future__ import annotations

import argparse
import csv
import html
import random
import re
import sys
import zlib
from functools import lru_cache
from pathlib import Path

import yaml

REFERENCE = Path(__file__).resolve().parents[1] / "reference"

CITIES = ["Lakeside", "Riverside", "Summit", "Westfield", "Northgate", "Harbor", "Cedar Park", "Maple Grove",
          "Oakridge", "Pinecrest", "Bayview", "Fairmont", "Brookhaven", "Silver Lake", "Highland", "Eastwood",
          "Stonebridge", "Willow Creek", "Clearwater", "Granite Bay", "Sunnyvale", "Ashford", "Kingsley", "Milton"]
KINDS = ["Spine Center", "Spine Institute", "Orthopedics", "Neurosurgery", "Pain Institute", "Vision Center",
         "Eye Institute", "Dental Studio", "Dental Group", "Aesthetics", "Med Spa", "Wellness Clinic",
         "Mind Clinic", "Health Partners", "Surgical Associates", "Medical Group"]
FIRST = ["Elena", "James", "Priya", "Michael", "Sara", "David", "Aisha", "Robert", "Mei", "Thomas", "Laura",
         "Carlos", "Hannah", "Samuel", "Olivia", "Daniel", "Fatima", "Kevin", "Grace", "Lucas"]
LAST = ["Ortiz", "Chen", "Patel", "Nguyen", "Walsh", "Kim", "Rossi", "Haddad", "Novak", "Okafor", "Meyer",
        "Lindqvist", "Brennan", "Silva", "Tanaka", "Fischer", "Moreau", "Kowalski", "Reyes", "Adams"]
JOURNALS = ["Spine", "The Spine Journal", "JAMA", "Ophthalmology", "Brain Stimulation", "The Lancet",
            "Journal of Neurosurgery", "Pain Medicine", "Dermatologic Surgery", "Journal of Dental Research"]
CONDITIONS = ["chronic neck pain", "low back pain", "arm pain", "nerve pain", "stiffness", "depression",
              "blurry vision", "missing teeth", "frown lines", "sciatica", "arthritis", "numbness"]

# Measure -> sentence templates. {b} is a bound word (may be empty), {p} a percent, {u} a percent sign
# form, {n}/{m} small numbers, {t} a time unit, {proc} the procedure name.
NUMERIC = {
    "recovery": ["Most patients return to normal activities within {n} to {m} {t} after {proc}.",
                 "Full recovery from {proc} usually takes {b} {n} {t}.",
                 "You can expect some soreness for {n} to {m} days, and most people are back to daily routines in {b} {m} {t}.",
                 "Healing after {proc} takes {b} {n} {t} for most patients."],
    "success": ["{proc_cap} is successful in {b} {p}{u} of patients.",
                "{b} {p}{u} of our patients report good to excellent results after {proc}.",
                "Studies show that {proc} improves symptoms in {p}{u} of cases.",
                "Our success rate for {proc} is {p}{u}."],
    "complication": ["The risk of complications is {b} {q}{u}.",
                     "Serious side effects occur in fewer than {q}{u} of patients.",
                     "Infection after {proc} affects about {q}{u} of patients."],
    "recurrence": ["Symptoms come back in {b} {q}{u} of patients within {n} years.",
                   "About {q}{u} of patients need a second surgery within {m} years."],
    "satisfaction": ["{p}{u} of patients say they are satisfied with {proc}.",
                     "{b} {p}{u} of patients would recommend {proc} to a friend."],
    "procedure_time": ["The procedure itself takes about {mins} minutes.",
                       "Each session lasts {b} {mins} minutes, and you can drive yourself home."],
    "hospital": ["Most patients go home after {d} days in the hospital.",
                 "The hospital stay is usually {d} to {d2} days."],
    "sessions": ["A typical course is {s} sessions over {w} weeks.",
                 "Most patients need {b} {s} treatments to see the full benefit."],
    "duration": ["Results last up to {mo} months.", "Relief lasts for {b} {y} years in most patients."],
    "prevalence": ["About {mil} million Americans suffer from {cond}.",
                   "{condition_cap} affects {b} {p}{u} of adults at some point in their lives."],
    "study": ["In a study of {big} patients followed for {y} years, {p}{u} reported lasting improvement.",
              "A {year} study published in {journal} followed {big} patients and found a response rate of {p}{u}.",
              "Researchers at {city} University found that {p}{u} of patients improved within {n} {t} (PMID: {pmid})."],
}
EVIDENCE = ["According to the {journal} review ({last} et al., {year}), outcomes depend on patient selection.",
            "The {org} recommends discussing every option with a specialist.",
            "Research shows that careful rehabilitation improves long-term results.",
            "Experts agree that smoking slows healing.",
            "See the full study at https://doi.org/10.{doi4}/{doi_tail} for details.",
            "In our clinic we have seen many patients return to the activities they love."]
HEDGES = ["Results may vary.", "Individual results vary, and your surgeon will explain what to expect.",
          "Some patients may need additional treatment.", "Recovery can take longer in older patients."]
PROMO_FRAMES = {
    "superlative": ["Our {x} team offers care you will not find elsewhere.", "We use {x} technology in every operating room."],
    "absolute_outcome": ["Many of our patients describe {x} after {proc}.", "With {proc}, expect {x}."],
    "safety": ["{proc_cap} is {x}.", "Our approach is {x} for most adults."],
    "efficacy": ["{proc_cap} is {x}.", "Our {x} protocol has helped thousands of people."],
    "comparative": ["Patients enjoy {x} than with traditional surgery.", "Our technique means {x}."],
    "social_proof": ["Our practice is {x} that {proc} works."],
    "anecdote": ["{x}, patients who follow the exercises recover best."],
    "authority": ["We use an {x} device.", "Dr. {doctor} is {x}."],
    "credential": ["Dr. {doctor} is a {x} surgeon with twenty years of practice."],
    "offer": ["Call today to book your {x}.", "We offer a {x} for new patients."],
}
FILLER = {
    "subject": ["Your surgeon", "Our care team", "The nurse coordinator", "Your physical therapist", "Dr. {doctor}",
                "The front desk team", "Your primary care doctor", "A member of our staff", "The anesthesiologist"],
    "verb": ["will review", "explains", "discusses", "goes over", "checks", "talks through", "writes down",
             "helps you understand", "answers questions about", "plans"],
    "object": ["your medical history", "the imaging from your last visit", "the medicines you take",
               "what to expect on the day of {proc}", "how to prepare at home", "the exercises for the first weeks",
               "the options other than {proc}", "the instructions for wound care", "how to manage {cond}",
               "when to call the office", "the follow-up schedule", "how to sleep comfortably after {proc}"],
    "tail": ["before you leave the office", "at your first appointment", "during the consultation",
             "so that nothing comes as a surprise", "in plain language", "with you and your family",
             "and gives you a printed copy", "at every follow-up visit", "before anything is scheduled"],
}
NEUTRAL = ["{proc_cap} is a treatment for {cond} when other options have not helped.",
           "The goal of {proc} is to reduce {cond} and help you move more comfortably.",
           "Bring a list of your questions and your current medicines to the appointment.",
           "Wear comfortable clothing and arrange for someone to drive you home.",
           "Walking every day helps circulation and supports healing.",
           "Avoid lifting heavy objects until your surgeon says it is safe.",
           "Most insurance plans cover {proc} when it is medically necessary.",
           "Our office staff can help you check your coverage before treatment.",
           "We will call you the day after {proc} to see how you are doing.",
           "Keep the treated area clean and dry, and follow the written instructions.",
           "Tell us if you have diabetes, heart disease or a bleeding disorder.",
           "Not everyone is a good candidate, and a careful examination comes first.",
           "Physical therapy often starts a few weeks later and is adjusted to your progress.",
           "Our {city} office has free parking and is close to public transport.",
           "{clinic} has served patients in {city} and the surrounding towns for many years.",
           "If you smoke, stopping before {proc} improves healing.",
           "Pain medicine is usually needed only for the first few days.",
           "Call the office if you notice fever, redness or swelling that gets worse."]
HEADINGS = {
    "overview": ["What is {proc}?", "About {proc}", "{proc_cap} at a glance"],
    "candidates": ["Who is a good candidate?", "Is {proc} right for you?"],
    "prepare": ["How to prepare", "Before your procedure"],
    "day": ["What happens on the day", "The procedure step by step"],
    "recovery": ["Recovery after {proc}", "What recovery looks like", "Recovery time"],
    "results": ["Results and success rates", "How well does {proc} work?", "Outcomes"],
    "risks": ["Risks and side effects", "Is {proc} safe?"],
    "why": ["Why choose {clinic}?", "Our team", "Why patients choose us"],
    "cost": ["Cost and insurance", "Paying for {proc}"],
    "faq": ["Frequently asked questions", "FAQ"],
}
SECTION_KINDS = {"overview": ["neutral", "neutral", "filler", "promo", "evidence"],
                 "candidates": ["neutral", "filler", "filler", "hedge"],
                 "prepare": ["filler", "neutral", "filler", "neutral"],
                 "day": ["filler", "procedure_time", "hospital", "neutral", "sessions"],
                 "recovery": ["recovery", "recovery", "neutral", "hedge", "filler", "duration"],
                 "results": ["success", "study", "satisfaction", "evidence", "hedge", "promo"],
                 "risks": ["complication", "recurrence", "neutral", "hedge", "promo"],
                 "why": ["promo", "promo", "neutral", "filler", "promo"],
                 "cost": ["neutral", "filler", "promo"],
                 "faq": ["prevalence", "neutral", "filler", "recovery", "sessions"]}
TESTIMONIALS = ["\u201cI was back at work in {n} weeks and the pain is gone,\u201d says {first} from {city}.",
                "\u201cDr. {doctor} changed my life. I wish I had done this years ago,\u201d writes {first}.",
                "\u201cAfter {s} sessions I felt like myself again,\u201d says {first} {initial}."]
COMMENTS = ["I had {proc} in {year} and my {cond} came back after {n} years.",
            "Mine took {m} weeks before I felt normal again.",
            "My doctor says {q}% of people need another procedure. Is that true?",
            "Does anyone know if insurance covers this?"]


@lru_cache(maxsize=1)
def lexicons() -> dict:
    def load(name):
        return yaml.safe_load((REFERENCE / name).read_text(encoding="utf-8"))

    promo = load("lexicons/promotional.yaml")
    quantities = load("lexicons/quantities.yaml")
    interventions = load("taxonomy/interventions.yaml")["interventions"]
    return {"promotional": {k: v for k, v in promo.items() if isinstance(v, list) and k in PROMO_FRAMES},
            "bounds": quantities["bounds"], "percent": quantities["units"]["percent"],
            "procedures": {k: [s for s in v if len(s) > 4] or v for k, v in interventions.items()}}


class PageMaker:
    """Builds page i from its own random generator."""

    def __init__(self, seed: int, i: int):
        self.rng = random.Random(seed * 1_000_003 + i)
        self.i = i
        lex = lexicons()
        rng = self.rng
        self.procedure = rng.choice(sorted(lex["procedures"]))
        self.names = lex["procedures"][self.procedure]
        city = rng.choice(CITIES)
        self.clinic = f"{city} {rng.choice(KINDS)}"
        self.domain = re.sub(r"[^a-z]+", "", self.clinic.lower()) + rng.choice(["", "health", "md", "care"]) + ".example"
        self.doctor = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        self.vars = {"city": city, "clinic": self.clinic, "doctor": self.doctor}

    def fill(self, template: str) -> str:
        rng = self.rng
        proc = rng.choice(self.names)
        bounds = lexicons()["bounds"]
        bound_kind = rng.choice(["", "", "lower", "upper", "approx"])
        b = rng.choice(bounds[bound_kind]) if bound_kind else ""
        unit = rng.choice(["%", "%", "%", " percent"])
        cond = rng.choice(CONDITIONS)
        values = dict(self.vars, proc=proc, proc_cap=proc[:1].upper() + proc[1:], b=b, u=unit,
                      p=rng.choice([60, 70, 75, 80, 85, 88, 90, 92, 95, 97, 98, 99]), q=rng.choice([1, 2, 3, 5, 8, 10, 15]),
                      n=rng.randint(1, 6), m=rng.randint(6, 12), t=rng.choice(["weeks", "months", "days"]),
                      mins=rng.choice([15, 20, 30, 45, 60, 90]), d=rng.randint(1, 3), d2=rng.randint(3, 5),
                      s=rng.choice([3, 6, 10, 20, 30, 36]), w=rng.choice([4, 6, 8, 9]), mo=rng.choice([3, 4, 6, 12]),
                      y=rng.randint(2, 10), mil=rng.choice([16, 31, 65, 80]), cond=cond,
                      condition_cap=cond[:1].upper() + cond[1:], big=rng.choice([48, 120, 307, 1200, 5400]),
                      year=rng.randint(1998, 2024), journal=rng.choice(JOURNALS), pmid=rng.randint(10**7, 4 * 10**7),
                      last=rng.choice(LAST), first=rng.choice(FIRST), initial=rng.choice("ABCDEFGHJKLMNPRSTW") + ".",
                      org=rng.choice(["CDC", "NIH", "American Academy of Orthopaedic Surgeons", "Mayo Clinic"]),
                      doi4=rng.randint(1000, 9999), doi_tail=f"j.x.{rng.randint(2000, 2024)}.{rng.randint(10, 999)}")
        text = template.format(**values)
        return re.sub(r" {2,}", " ", text).replace(" %", "%") if "{u}" in template else re.sub(r" {2,}", " ", text)

    def sentence(self, kind: str) -> str:
        rng = self.rng
        if kind == "filler":
            return self.fill(f"{rng.choice(FILLER['subject'])} {rng.choice(FILLER['verb'])} "
                             f"{rng.choice(FILLER['object'])} {rng.choice(FILLER['tail'])}.")
        if kind == "neutral":
            return self.fill(rng.choice(NEUTRAL))
        if kind == "hedge":
            return self.fill(rng.choice(HEDGES))
        if kind == "evidence":
            return self.fill(rng.choice(EVIDENCE))
        if kind == "promo":
            category = rng.choice(sorted(lexicons()["promotional"]))
            phrase = rng.choice(lexicons()["promotional"][category])
            frame = rng.choice(PROMO_FRAMES[category])
            return self.fill(frame.replace("{x}", phrase.replace("{", "").replace("}", "")))
        return self.fill(rng.choice(NUMERIC[kind]))

    def paragraph(self, kinds: list[str]) -> str:
        rng = self.rng
        n = rng.randint(3, 6)
        chosen = [rng.choice(kinds) for _ in range(n)]
        chosen = ["filler" if k not in ("neutral", "filler") and rng.random() < 0.45 else k for k in chosen]
        return " ".join(self.sentence(k) for k in chosen)

    def build(self) -> dict:
        """{"title", "sections": [(heading, [("p"|"ul", text or [items])])], "testimonials", "comments"}."""
        rng = self.rng
        target = rng.randint(400, 1500)
        proc = rng.choice(self.names)
        title = self.fill(rng.choice(["{proc_cap}: What to Expect", "{proc_cap} Recovery Time and Success Rates",
                                      "{proc_cap} in {city}", "Everything You Need to Know About {proc}"]))
        order = ["overview"] + rng.sample([k for k in HEADINGS if k not in ("overview", "why", "faq")], 6) + ["why", "faq"]
        sections, words = [], len(title.split())
        while words < target:
            for kind in order:
                heading = self.fill(rng.choice(HEADINGS[kind]))
                body = []
                for _ in range(rng.randint(1, 3)):
                    if rng.random() < 0.2:
                        body.append(("ul", [self.sentence(rng.choice(SECTION_KINDS[kind])) for _ in range(rng.randint(3, 5))]))
                    else:
                        body.append(("p", self.paragraph(SECTION_KINDS[kind])))
                sections.append((heading, body))
                words += len(heading.split()) + sum(len((t if isinstance(t, str) else " ".join(t)).split())
                                                    for _, t in body)
                if words >= target:
                    break
        testimonials = [self.fill(rng.choice(TESTIMONIALS)) for _ in range(rng.choice([0, 1, 2, 3]))]
        comments = ([(f"{rng.choice(FIRST)} {rng.choice(LAST)[0]}.", self.fill(rng.choice(COMMENTS)))
                     for _ in range(rng.randint(1, 4))] if rng.random() < 0.3 else [])
        return {"title": f"{title}", "proc": proc, "sections": sections, "testimonials": testimonials,
                "comments": comments}


def render_text(page: dict, clinic: str) -> str:
    lines = [page["title"], ""]
    for heading, body in page["sections"]:
        lines += [heading, ""]
        for kind, content in body:
            lines += ([f"- {item}" for item in content] if kind == "ul" else [content]) + [""]
    for t in page["testimonials"]:
        lines += [t, ""]
    lines += [f"Call {clinic} at 555-{zlib.crc32(clinic.encode()) % 900 + 100:03d}-0199 or book online.", ""]
    if page["comments"]:
        lines += [f"{len(page['comments'])} Comments", ""]
        for who, text in page["comments"]:
            lines += [f"{who} says:", text, ""]
    return "\n".join(lines)


def render_html(page: dict, clinic: str, domain: str, rng: random.Random) -> str:
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">',
           f'<head><meta charset="utf-8"><title>{e(page["title"])} | {e(clinic)}</title></head>', "<body>",
           f'<header><a href="/">{e(clinic)}</a> <a href="/about">About</a> <a href="/contact">Contact</a> '
           f'<a href="/insurance">Insurance</a></header>', "<main>", f"<h1>{e(page['title'])}</h1>"]
    for heading, body in page["sections"]:
        out.append(f"<h2>{e(heading)}</h2>")
        for kind, content in body:
            if kind == "ul":
                out.append("<ul>" + "".join(f"<li>{e(item)}</li>" for item in content) + "</ul>")
            else:
                text = e(content)
                if rng.random() < 0.15:
                    text += f' <a href="https://pubmed.ncbi.nlm.nih.gov/{rng.randint(10**7, 4 * 10**7)}/">Read the study</a>.'
                out.append(f"<p>{text}</p>")
    for t in page["testimonials"]:
        out.append(f"<blockquote>{e(t)}</blockquote>")
    out.append("</main>")
    if page["comments"]:
        out.append('<section id="comments" class="comments-area">')
        for n, (who, text) in enumerate(page["comments"]):
            out.append(f'<div class="comment" id="comment-{n}"><p class="comment-author">{e(who)} says:</p><p>{e(text)}</p></div>')
        out.append("</section>")
    out += [f"<footer>{e(clinic)} &middot; 555-{rng.randint(100, 999)}-0199 &middot; &copy; 2025 {e(domain)}. "
            "All rights reserved. <a href=\"/privacy\">Privacy policy</a></footer>", "</body>", "</html>"]
    return "\n".join(out)


def make_page(seed: int, i: int, html_share: float = 0.5) -> tuple[str, str, str, str]:
    """(file name, content, url, source) of page i; duplicates re-render an earlier page."""
    pick = random.Random(seed * 7_919 + i)
    roll = pick.random()
    original = pick.randrange(i) if i > 10 and roll < 0.04 else None
    maker = PageMaker(seed, i if original is None else original)
    page = maker.build()
    if original is not None and roll >= 0.02:  # a near copy: one paragraph rewritten, another source
        heading, body = page["sections"][0]
        page["sections"][0] = (heading, body + [("p", maker.paragraph(["neutral"]))])
    use_html = random.Random(seed * 31 + i).random() < html_share
    slug = re.sub(r"[^a-z0-9]+", "-", page["title"].lower()).strip("-")[:60]
    url = f"https://{maker.domain}/{slug}/" if original is None else f"https://mirror{i}.example/{slug}/"
    name = f"page-{i:06d}" + (".html" if use_html else ".txt")
    content = render_html(page, maker.clinic, maker.domain, random.Random(seed + i)) if use_html \
        else render_text(page, maker.clinic)
    return name, content, url, maker.clinic


def generate(out: Path, pages: int, seed: int = 7, html_share: float = 0.5) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["page", "url", "source"])
        for i in range(pages):
            name, content, url, source = make_page(seed, i, html_share)
            path = out / name
            path.write_text(content, encoding="utf-8")
            writer.writerow([name, url, source])
            files.append(path)
    return files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--pages", type=int, default=1000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--html-share", type=float, default=0.5)
    args = p.parse_args(argv)
    files = generate(args.out, args.pages, args.seed, args.html_share)
    words = sum(len(f.read_text(encoding="utf-8").split()) for f in files[:200])
    print(f"wrote {len(files)} pages to {args.out} (about {words // max(1, min(200, len(files)))} words each)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
