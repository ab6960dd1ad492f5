"""Configuration: ``[tool.auditor]`` in pyproject.toml or an ``auditor.toml``, layered under the CLI.

The file is found by walking up from the current folder (the first ``auditor.toml``, or
``pyproject.toml`` with a ``[tool.auditor]`` table, wins) or named with ``--config FILE``.
Precedence: command-line flags > the configuration file > defaults. A flag given on the command
line replaces the file's value (``--level`` replaces only the levels it names).

Keys::

    select = ["PRM", "EVD001"]          # rule ids or prefixes to run (all when empty)
    ignore = ["REG"]                    # rule ids or prefixes to skip
    fail_on = "warning"                 # info | warning | error | never
    rule_folders = ["house/rules"]      # extra rule files (FAMILY.yaml), as reference/rules/
    values = ["house/values.yaml"]      # extra reference values, as reference/values/*.yaml
    baseline = "auditor-baseline.json"  # reviewed findings (see `auditor review`)
    model = "en_core_web_sm"            # an installed spaCy pipeline
    include_comments = false

    [levels]                            # [tool.auditor.levels] in pyproject.toml
    PRM003 = "info"                     # a rule id or a prefix ("PRM"); the longest match wins

    [lexicons]                          # terms added to the shipped lexicons (not copied)
    promotional = "house/promotional.yaml"

Paths are relative to the configuration file. Unknown keys, wrong types, levels, missing files and
rule ids that match no rule are errors (E32x) naming the file, line and key.
"""
from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from .errors import OptionsError
from .options import AuditOptions
from .rules import LEVELS

FILE_NAMES = ("auditor.toml", "pyproject.toml")
DEFAULT = "default"
COMMAND_LINE = "command line"
DEFAULTS: dict[str, Any] = {
    "select": [], "ignore": [], "levels": {}, "fail_on": "error", "rule_folders": [], "lexicons": {},
    "values": [], "baseline": None, "model": None, "include_comments": False,
}
RULE_PREFIX = re.compile(r"^[A-Za-z]{1,3}\d{0,3}$")
# config key -> AuditOptions field, where they differ
OPTION_FIELD = {"values": "value_files", "lexicons": "lexicon_files"}


# -- reading the file ----------------------------------------------------------------------------

def find_config(start_dir: Path | str | None = None) -> Path | None:
    """The nearest auditor.toml, or pyproject.toml with [tool.auditor], from start_dir upwards."""
    here = Path(start_dir or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "auditor.toml"
        if own.is_file():
            return own
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(pyproject: Path) -> bool:
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # not ours to complain about unless it is named with --config
    return isinstance(data.get("tool"), dict) and "auditor" in data["tool"]


def load_config(start_dir: Path | str | None = None, explicit_path: Path | str | None = None,
                discover: bool = True) -> tuple[dict, dict]:
    """(config, sources): every key with its value (defaults filled in) and where each came from.

    sources maps a key to "default" or the configuration file's path; ``levels`` and ``lexicons``
    entries also have their own ("levels.PRM003"). sources["file"] is the file read, or None.
    """
    config = {k: _copy(v) for k, v in DEFAULTS.items()}
    sources: dict[str, Any] = {k: DEFAULT for k in DEFAULTS}
    if explicit_path is not None:
        file = Path(explicit_path)
        if not file.is_file():
            raise OptionsError(f"--config {file}: no such file", "E323")
    else:
        file = find_config(start_dir) if discover else None
    sources["file"] = str(file.resolve()) if file else None
    if file is None:
        return config, sources
    table, text = _read_table(file)
    where = str(file.resolve())
    for key, value in table.items():
        if key not in DEFAULTS:
            raise OptionsError(f"{_at(file, text, key)}unknown key {key!r} in {_table_name(file)} "
                               f"(known: {', '.join(sorted(DEFAULTS))})", "E321")
        config[key] = _checked(key, value, file, text)
        sources[key] = where
        if key in ("levels", "lexicons"):
            for name in config[key]:
                sources[f"{key}.{name}"] = where
    return config, sources


def _read_table(file: Path) -> tuple[dict, str]:
    try:
        text = file.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as e:
        raise OptionsError(f"{file}: cannot read: {e.strerror}", "E320") from None
    except UnicodeDecodeError:
        raise OptionsError(f"{file}: not UTF-8 text", "E320") from None
    except tomllib.TOMLDecodeError as e:
        raise OptionsError(f"{file}: not valid TOML: {e}", "E320") from None
    if file.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("auditor", {}) if isinstance(tool, dict) else {}
        if not isinstance(table, dict):
            raise OptionsError(f"{file}: [tool.auditor] must be a table", "E322")
        return table, text
    return data, text


def _table_name(file: Path) -> str:
    return "[tool.auditor]" if file.name == "pyproject.toml" else file.name


def _at(file: Path, text: str, key: str) -> str:
    """'FILE:LINE: ' for the line where key is set (best effort: TOML parsers do not keep lines)."""
    pattern = re.compile(rf"^\s*(?:\[\s*(?:tool\.auditor\.)?{re.escape(key)}\s*\]|[\"']?{re.escape(key)}[\"']?\s*[=.])",
                         re.M)
    start = max(text.find("[tool.auditor"), 0) if file.name == "pyproject.toml" else 0
    m = pattern.search(text, start)
    return f"{file}:{text.count(chr(10), 0, m.start()) + 1}: " if m else f"{file}: "


def _checked(key: str, value: Any, file: Path, text: str) -> Any:
    """The value of key, checked and with paths resolved against the file's folder."""
    base = file.resolve().parent

    def bad(message: str, sub: str | None = None) -> OptionsError:
        return OptionsError(f"{_at(file, text, sub or key)}{key}{'.' + sub if sub else ''}: {message}", "E322")

    def strings(v) -> list[str]:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise bad("must be a list of strings")
        return v

    def existing(p: str, kind: str, sub: str | None = None) -> Path:
        path = Path(p).expanduser()
        path = path if path.is_absolute() else base / path
        if kind == "folder" and not path.is_dir():
            raise bad(f"no such folder: {p}", sub)
        if kind == "file" and not path.is_file():
            raise bad(f"no such file: {p}", sub)
        return path

    if key in ("select", "ignore"):
        out = strings(value)
        for prefix in out:
            if not RULE_PREFIX.match(prefix):
                raise bad(f"{prefix!r} is not a rule id or prefix (like PRM or PRM003)")
        return [p.upper() for p in out]
    if key == "levels":
        if not isinstance(value, dict):
            raise bad('must be a table of rule id or prefix = level, e.g. PRM003 = "info"')
        out = {}
        for rule, level in value.items():
            if not RULE_PREFIX.match(rule):
                raise bad(f"{rule!r} is not a rule id or prefix (like PRM or PRM003)", rule)
            if level not in LEVELS:
                raise bad(f"must be one of {', '.join(LEVELS)}, not {level!r}", rule)
            out[rule.upper()] = level
        return out
    if key == "fail_on":
        if value not in LEVELS + ("never",):
            raise bad(f"must be one of {', '.join(LEVELS)} or never, not {value!r}")
        return value
    if key == "rule_folders":
        return [existing(p, "folder") for p in strings(value)]
    if key == "values":
        return [existing(p, "file") for p in strings(value)]
    if key == "lexicons":
        if not isinstance(value, dict):
            raise bad('must be a table of lexicon name = file(s), e.g. promotional = "house/promotional.yaml"')
        from . import reference
        known = reference.lexicon_names()
        out = {}
        for name, files in value.items():
            if name not in known:
                raise bad(f"no shipped lexicon {name!r} (lexicons: {', '.join(known)})", name)
            try:
                listed = strings(files)
            except OptionsError:
                raise bad("must be a file or a list of files", name) from None
            out[name] = [existing(p, "file", name) for p in listed]
        return out
    if key == "baseline":
        if not isinstance(value, str):
            raise bad("must be a file name")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path
    if key == "model":
        if not isinstance(value, str):
            raise bad("must be the name of an installed spaCy pipeline")
        return value
    if key == "include_comments":
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    raise bad("unknown key")  # pragma: no cover  (DEFAULTS and this function list the same keys)


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else list(value) if isinstance(value, list) else value


# -- layering the command line over the file -----------------------------------------------------

def effective(config: dict, sources: dict, cli_args: Any = None) -> tuple[dict, dict]:
    """The configuration with command-line flags applied over it, and the updated sources.

    cli_args is an argparse Namespace (or a dict); a flag counts as given when it is not None, not
    an empty list and not False.
    """
    args = _namespace(cli_args)
    values = {k: _copy(v) for k, v in config.items()}
    sources = dict(sources)

    def given(name: str):
        v = getattr(args, name, None)
        return None if v is None or v == [] or v is False else v

    for key, flag in (("select", "select"), ("ignore", "ignore")):
        if given(flag) is not None:
            values[key] = [p.upper() for p in getattr(args, flag)]
            sources[key] = COMMAND_LINE
    for key in ("fail_on", "model"):
        if given(key) is not None:
            values[key] = getattr(args, key)
            sources[key] = COMMAND_LINE
    if given("include_comments") is not None:
        values["include_comments"] = True
        sources["include_comments"] = COMMAND_LINE
    if given("baseline") is not None:
        values["baseline"] = Path(args.baseline)
        sources["baseline"] = COMMAND_LINE
    for item in given("level") or []:
        rule, sep, level = str(item).partition("=")
        rule = rule.strip().upper()
        if not sep or not RULE_PREFIX.match(rule) or level.strip() not in LEVELS:
            raise OptionsError(f"--level {item}: expected RULE=LEVEL with LEVEL one of {', '.join(LEVELS)}, "
                               "e.g. --level PRM003=info", "E322")
        values["levels"] = {**values["levels"], rule: level.strip()}
        sources["levels"] = COMMAND_LINE if sources.get("levels") == DEFAULT else sources["levels"]
        sources[f"levels.{rule}"] = COMMAND_LINE
    return values, sources


def options_from(config: dict, cli_args: Any = None) -> AuditOptions:
    """AuditOptions from a configuration (from :func:`load_config`) with the command line over it.

    Options the configuration does not know (engine, workers, progress, ...) are taken from the
    command line when given there; ``--no-report`` sets report=False.
    """
    values, _ = effective(config, {k: DEFAULT for k in config}, cli_args)
    args = _namespace(cli_args)
    kwargs: dict[str, Any] = {
        "select": values["select"], "ignore": values["ignore"], "fail_on": values["fail_on"],
        # prefixes first, so that a rule id's own level is applied last and wins
        "levels": dict(sorted(values["levels"].items(), key=lambda kv: (len(kv[0]), kv[0]))),
        "rule_folders": list(values["rule_folders"]), "value_files": list(values["values"]),
        "lexicon_files": [(name, Path(f)) for name, files in sorted(values["lexicons"].items()) for f in files],
        "model": values["model"], "include_comments": bool(values["include_comments"]),
        "baseline": Path(values["baseline"]) if values["baseline"] else None,
        "new_only": bool(getattr(args, "new_only", False)),
    }
    if getattr(args, "no_report", False):
        kwargs["report"] = False
    for f in dataclasses.fields(AuditOptions):  # the rest: flags other commands add (engine, workers, ...)
        if f.name not in kwargs and getattr(args, f.name, None) is not None:
            kwargs[f.name] = getattr(args, f.name)
    options = AuditOptions(**kwargs)
    if options.new_only and options.baseline is None:
        raise OptionsError("--new-only needs a baseline: --baseline FILE or baseline = \"...\" in the configuration",
                           "E324")
    return options


def check_rule_references(values: dict, sources: dict) -> None:
    """Every rule id or prefix in select, ignore and levels matches a rule (typos are errors)."""
    from .rules import load_registry
    ids = list(load_registry(values.get("rule_folders") or []).rules)
    for key in ("select", "ignore", "levels"):
        for prefix in values.get(key) or []:
            if not any(rule_id.startswith(prefix.upper()) for rule_id in ids):
                where = sources.get(f"{key}.{prefix}") or sources.get(key, DEFAULT)
                if where == COMMAND_LINE:
                    at = f"--{key.rstrip('s')} {prefix}: "
                else:
                    file = Path(where)
                    try:
                        at = _at(file, file.read_text(encoding="utf-8"), prefix if key == "levels" else key)
                    except OSError:
                        at = f"{file}: "
                    at += f"{key}: "
                raise OptionsError(f"{at}no rule id starts with {prefix!r}; `auditor rules` lists them", "E325")


def resolve_options(cli_args: Any = None, start_dir: Path | str | None = None) -> AuditOptions:
    """What the commands use: the configuration file (``--config``/``--no-config``) under the flags."""
    args = _namespace(cli_args)
    config, sources = load_config(start_dir, getattr(args, "config", None),
                                  discover=not getattr(args, "no_config", False))
    values, sources = effective(config, sources, args)
    check_rule_references(values, sources)
    return options_from(config, args)


def _namespace(cli_args: Any) -> Any:
    if cli_args is None:
        return SimpleNamespace()
    if isinstance(cli_args, dict):
        return SimpleNamespace(**cli_args)
    return cli_args


# -- showing it ----------------------------------------------------------------------------------

def describe(values: dict, sources: dict, fmt: str = "text") -> str:
    """The effective configuration, each value with its source, as TOML-like text or JSON."""
    import json
    rows: list[tuple[str, Any, str]] = []
    for key in DEFAULTS:
        value = values[key]
        if key in ("levels", "lexicons") and value:
            for name, v in sorted(value.items()):
                rows.append((f"{key}.{name}", _plain(v), sources.get(f"{key}.{name}", sources.get(key, DEFAULT))))
        else:
            rows.append((key, _plain(value), sources.get(key, DEFAULT)))
    if fmt == "json":
        return json.dumps({"file": sources.get("file"),
                           "settings": [{"key": k, "value": v, "source": s} for k, v, s in rows]}, indent=2) + "\n"
    lines = ["# effective configuration: command line > configuration file > defaults",
             f"# configuration file: {sources.get('file') or 'none found (auditor.toml or [tool.auditor] in pyproject.toml)'}"]
    shown = [(f"{k} = {_toml(v)}" if v is not None else f"# {k} = (not set)", s) for k, v, s in rows]
    width = max(len(text) for text, _ in shown)
    lines += [f"{text:<{width}}  # {source}" for text, source in shown]
    return "\n".join(lines) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _toml(value: Any) -> str:
    import json
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
