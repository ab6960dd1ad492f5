"""A tokenizer guard for hostile text.

spaCy splits prefixes and suffixes off a whitespace-free run one at a time, which is quadratic in the
run's length ("%%%%…" 20,000 long takes minutes). Runs longer than ``MAX_RUN`` characters are cut
into plain tokens of that length; everything else goes to the pipeline's own tokenizer. The Doc's
text is always exactly the input text, so offsets are unchanged.

``split_glued_punctuation`` also splits punctuation that scraped text glues between a word and a number
("Success rate:95%", "results.[2]", "rest—2 to 4 minutes"), so the phrase and the quantity are tokens of their
own.
"""
from __future__ import annotations

import re

from spacy.tokens import Doc

MAX_RUN = 100  # no real word is longer; URLs may be, and nothing is claimed inside them
LONG_RUN = re.compile(rf"\S{{{MAX_RUN + 1},}}+")
# punctuation that copied text glues between two tokens, where spaCy's English infixes do not split
GLUED_PUNCTUATION = [
    r"(?<=[A-Za-z)\]]):(?=[0-9])",  # "Success rate:95%": a list label glued to its value ("9:30" stays whole)
    r"(?<=[A-Za-z])[.,:;](?=[\[(][0-9])",  # "impressive results.[2]": a reference marker glued to the word before
    r"(?<=[A-Za-z])[\u2013\u2014](?=[0-9])",  # "rest—2 to 4 minutes": a dash set between a word and a number
]


def split_glued_punctuation(tokenizer) -> None:
    """Adds GLUED_PUNCTUATION to the tokenizer's infixes."""
    current = tokenizer.infix_finditer
    patterns = ([current.__self__.pattern] if current is not None else []) + GLUED_PUNCTUATION
    tokenizer.infix_finditer = re.compile("|".join(patterns)).finditer


class GuardedTokenizer:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab = tokenizer.vocab

    def __call__(self, text: str) -> Doc:
        if not LONG_RUN.search(text):
            return self.tokenizer(text)
        docs, pos = [], 0
        for m in LONG_RUN.finditer(text):
            if m.start() > pos:
                docs.append(self.tokenizer(text[pos:m.start()]))
            run = m.group(0)
            words = [run[i:i + MAX_RUN] for i in range(0, len(run), MAX_RUN)]
            docs.append(Doc(self.vocab, words=words, spaces=[False] * len(words)))
            pos = m.end()
        if pos < len(text):
            docs.append(self.tokenizer(text[pos:]))
        return Doc.from_docs(docs, ensure_whitespace=False)

    def pipe(self, texts, batch_size: int = 1000):
        for text in texts:
            yield self(text)

    # serialisation goes to the wrapped tokenizer, so a pipeline saved with the guard loads without it
    def to_bytes(self, **kwargs):
        return self.tokenizer.to_bytes(**kwargs)

    def from_bytes(self, data, **kwargs):
        self.tokenizer.from_bytes(data, **kwargs)
        return self

    def to_disk(self, path, **kwargs):
        self.tokenizer.to_disk(path, **kwargs)

    def from_disk(self, path, **kwargs):
        self.tokenizer.from_disk(path, **kwargs)
        return self
