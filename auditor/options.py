"""AuditOptions: every knob of a run in one object; the CLI and the Python API both build it."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import OptionsError
from .rules import LEVELS


@dataclass
class AuditOptions:
    model: str | None = None  # an installed trained spaCy pipeline; None = blank English
    include_comments: bool = False  # also report claims made in readers' comments
    fail_on: str = "error"  # exit 1 when a finding reaches this level
    select: list[str] = field(default_factory=list)  # rule ids or prefixes to run (all when empty)
    ignore: list[str] = field(default_factory=list)  # rule ids or prefixes to skip
    levels: dict[str, str] = field(default_factory=dict)  # rule id -> level override
    rule_folders: list[Path] = field(default_factory=list)  # extra rule files layered over the shipped ones
    value_files: list[Path] = field(default_factory=list)  # extra reference values
    lexicon_files: list[Path | tuple[str, Path]] = field(default_factory=list)  # extra terms: file, or (lexicon, file)
    engine: str = "local"  # local | dask
    workers: int = 0  # processes for the local engine; 0 = one per core
    scheduler: str | None = None  # Dask scheduler address; None = a LocalCluster
    max_bytes: int = 20_000_000  # per input page
    max_text_chars: int = 2_000_000  # per extracted page text
    time_budget: float = 60.0  # seconds of NLP per page before it is reported as timed out
    report: bool = True  # write the HTML report
    progress: bool | None = None  # progress bar; None = only on a terminal
    baseline: Path | None = None  # reviewed findings to hide
    new_only: bool = False  # show only findings new since the baseline

    def validate(self) -> "AuditOptions":
        if self.fail_on not in LEVELS + ("never",):
            raise OptionsError(f"--fail-on must be one of {', '.join(LEVELS)} or never, not {self.fail_on!r}", "E301")
        if self.engine not in ("local", "dask"):
            raise OptionsError(f"--engine must be local or dask, not {self.engine!r}", "E302")
        if self.workers < 0:
            raise OptionsError("--workers must be 0 (all cores) or more", "E303")
        for rule, level in self.levels.items():
            if level not in LEVELS:
                raise OptionsError(f"level of {rule} must be one of {', '.join(LEVELS)}, not {level!r}", "E304")
        return self

    @property
    def processes(self) -> int:
        return self.workers or os.cpu_count() or 1
