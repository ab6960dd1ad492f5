"""The files of a run folder and a report, written whole or not at all, and read back strictly.

Writing goes under a temporary name, then the file is moved into place: a crash never leaves half a
table or half a report behind. ``mkstemp`` makes its files private; the finished file gets the usual
mode (0666 less the umask), since a run folder or a report is read by others (a colleague, a web
server). Light on imports: commands that only read or write files do not load spaCy.
"""
from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

from .errors import OptionsError


@lru_cache(maxsize=1)
def file_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write data (text as UTF-8) to path so that a crash never leaves a half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with AtomicFile(path, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))


def read_jsonl(file: Path) -> list[dict]:
    """Every row of a JSONL file an editor's command relies on; a line that is not JSON stops with E306
    naming the file and line (the lenient reader for a run in progress is ``batch.iter_jsonl``)."""
    rows = []
    with Path(file).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise OptionsError(f"{file}:{n}: not JSON ({e.msg})", "E306") from None
    return rows


class AtomicFile:
    """A file written under a temporary name and moved into place on success; ``discard()`` drops it."""

    def __init__(self, path: Path, mode: str):
        self.path = Path(path)
        self.mode = mode
        self._discard = False

    def __enter__(self) -> "AtomicFile":
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        text = "b" not in self.mode
        self.file = os.fdopen(fd, self.mode, **({"encoding": "utf-8", "newline": ""} if text else {}))
        return self

    def write(self, data) -> None:
        self.file.write(data)

    def discard(self) -> None:
        self._discard = True

    def __exit__(self, exc_type, exc, tb):
        try:
            self.file.close()
            if exc_type is None and not self._discard:
                os.chmod(self.tmp, file_mode())
                os.replace(self.tmp, self.path)
        finally:
            Path(self.tmp).unlink(missing_ok=True)
        return False
