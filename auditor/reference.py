"""The one loader of reference data: rules, patterns, lexicons, taxonomy and literature values.

Reference data ships inside the package as ``auditor.reference_data`` (the repository's ``reference/``
folder, mapped in pyproject.toml), so a checkout and an installed wheel resolve it the same way.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator

import yaml

from .errors import RuleError

LINE_KEY = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A safe loader that records each mapping's line and refuses duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise RuleError(f"duplicate key {key!r}", getattr(loader, "name", None), key_node.start_mark.line + 1, "E201")
        seen.add(key)
    mapping = loader.construct_mapping(node, deep=True)
    mapping[LINE_KEY] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def root() -> Path:
    """Folder of the shipped reference data."""
    return Path(str(resources.files("auditor.reference_data")))


def path(*parts: str) -> Path:
    return root().joinpath(*parts)


def load_yaml(file: Path | str, keep_lines: bool = False) -> Any:
    """Parse a YAML file; mappings carry ``__line__`` when keep_lines, for error messages."""
    file = Path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as e:
        raise RuleError(f"cannot read: {e.strerror}", str(file), code="E202") from None
    except UnicodeDecodeError:
        raise RuleError("not UTF-8 text", str(file), code="E202") from None
    loader = _LineLoader(text)
    loader.name = str(file)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise RuleError(f"not valid YAML: {getattr(e, 'problem', e)}", str(file),
                        mark.line + 1 if mark else None, "E203") from None
    finally:
        loader.dispose()
    return data if keep_lines else strip_lines(data)


def strip_lines(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: strip_lines(v) for k, v in data.items() if k != LINE_KEY}
    if isinstance(data, list):
        return [strip_lines(v) for v in data]
    return data


def load_jsonl(file: Path | str) -> Iterator[tuple[int, dict]]:
    """Rows of a JSON-lines file with their line numbers; a bad line is a RuleError."""
    file = Path(file)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise RuleError(f"cannot read: {e.strerror}", str(file), code="E202") from None
    except UnicodeDecodeError:
        raise RuleError("not UTF-8 text", str(file), code="E202") from None
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            raise RuleError(f"not JSON: {e.msg}", str(file), n, "E203") from None


@lru_cache(maxsize=None)
def lexicon(name: str) -> Any:
    """A lexicon from reference/lexicons/NAME.yaml with the user's overlays merged in (cached; read-only)."""
    data = load_yaml(path("lexicons", f"{name}.yaml"))
    for file in _overlays.get(name, ()):
        data = merge_overlay(data, load_yaml(file), file)
    return data


def any_of(patterns: Iterable[str]) -> re.Pattern:
    """One case-insensitive expression matching any of a lexicon's regular expressions."""
    return re.compile("|".join(f"(?:{rx})" for rx in patterns), re.I)


# -- the user's own lexicon terms, layered over the shipped lexicons (never copied into them) -----

_overlays: dict[str, tuple[Path, ...]] = {}
# caches built from lexicons elsewhere; cleared with lexicon()'s when the overlays change
_DERIVED_CACHES = (("auditor.components.quantities", "grammar"), ("auditor.components.layout", "_scope_cues"))


def lexicon_names() -> list[str]:
    """Names of the shipped lexicons (reference/lexicons/*.yaml)."""
    return sorted(p.stem for p in path("lexicons").glob("*.yaml"))


def overlay_map(entries: Any) -> dict[str, tuple[Path, ...]]:
    """{name: (file, ...)} from a mapping, or from a list of files and (name, file) pairs.

    A bare file overlays the lexicon named by its stem (``house/promotional.yaml`` -> promotional).
    """
    if isinstance(entries, dict):
        pairs = [(name, f) for name, files in entries.items()
                 for f in ([files] if isinstance(files, (str, Path)) else files)]
    else:
        pairs = [tuple(e) if isinstance(e, (tuple, list)) else (Path(e).stem, e) for e in entries or []]
    out: dict[str, list[Path]] = {}
    for name, file in pairs:
        out.setdefault(str(name), []).append(Path(file))
    return {name: tuple(files) for name, files in out.items()}


def set_overlays(entries: Any) -> None:
    """Layer the user's lexicon files over the shipped ones (see :func:`overlay_map`); {} removes them.

    Each overlay is checked now (the lexicon exists, the file reads, the shapes fit), so a mistake is
    reported before any page is read.
    """
    global _overlays
    wanted = overlay_map(entries)
    if wanted == _overlays:
        return
    known = set(lexicon_names())
    for name, files in wanted.items():
        if name not in known:
            raise RuleError(f"no shipped lexicon {name!r} to add terms to (lexicons: {', '.join(sorted(known))})",
                            str(files[0]), code="E212")
    _overlays = wanted
    _clear_lexicon_caches()
    try:
        for name in wanted:
            lexicon(name)
    except Exception:
        _overlays = {}
        _clear_lexicon_caches()
        raise


def overlays() -> dict[str, tuple[Path, ...]]:
    return dict(_overlays)


def _clear_lexicon_caches() -> None:
    import sys
    lexicon.cache_clear()
    for module, name in _DERIVED_CACHES:
        fn = getattr(sys.modules.get(module), name, None)
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()


def merge_overlay(base: Any, extra: Any, file: Path | str, where: str = "") -> Any:
    """base with extra layered on: mappings merge key by key, lists gain the new items, scalars are replaced."""
    if extra is None:
        return base
    if base is None:
        return extra
    if isinstance(base, dict) and isinstance(extra, dict):
        out = dict(base)
        for key, value in extra.items():
            out[key] = merge_overlay(base.get(key), value, file, f"{where}.{key}" if where else str(key))
        return out
    if isinstance(base, list) and isinstance(extra, list):
        return base + [v for v in extra if v not in base]
    if isinstance(base, (dict, list)) or isinstance(extra, (dict, list)):
        want = "a mapping" if isinstance(base, dict) else "a list" if isinstance(base, list) else "a single value"
        raise RuleError(f"{where or 'the lexicon'} must be {want}, as in the shipped lexicon", str(file), code="E213")
    return extra


def check_keys(row: dict, allowed: set[str], required: set[str], file: Path | str, what: str) -> None:
    """Unknown or missing keys in a reference row are errors with file and line."""
    line = row.get(LINE_KEY)
    keys = set(row) - {LINE_KEY}
    unknown = sorted(keys - allowed)
    if unknown:
        raise RuleError(f"{what}: unknown key(s) {', '.join(unknown)}", str(file), line, "E204")
    missing = sorted(required - keys)
    if missing:
        raise RuleError(f"{what}: missing key(s) {', '.join(missing)}", str(file), line, "E205")


# -- the user's own reference values ------------------------------------------------------------

_VALUE_TYPES = {"id": (str,), "topic": (str,), "unit": (str,), "citation": (str,), "low": (int, float),
                "high": (int, float), "qualifiers": (dict,)}


def check_value_file(file: Path | str) -> None:
    """A reference values file has the shape of reference/values/*.yaml: a mapping whose ``values`` is a list of
    mappings, with text ids, topics, units and citations, numbers or nothing as low and high. A RuleError (E204)
    names the file and line otherwise; the keys themselves are checked where the values are loaded."""
    data = load_yaml(file, keep_lines=True)
    if data is None:
        return
    rows = data.get("values") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        line = data.get(LINE_KEY) if isinstance(data, dict) else 1
        raise RuleError("a values file is a mapping with a list under 'values', as reference/values/*.yaml",
                        str(file), line, "E204")
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise RuleError(f"value {n} is not a mapping of id, topic, low, high, unit, citation, ...",
                            str(file), data.get(LINE_KEY), "E204")
        for key, types in _VALUE_TYPES.items():
            value = row.get(key)
            if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
                kind = "a number" if types == (int, float) else "a mapping" if types == (dict,) else "text"
                raise RuleError(f"value {row.get('id', n)}: {key} must be {kind}, not {value!r}",
                                str(file), row.get(LINE_KEY), "E204")
