"""One line out of jsonargparse's multi-line parse errors (``fm fit``, ``fm datagen``, ...).

jsonargparse reports a bad key or a broken YAML over many lines: the full usage, the union
of accepted types, and a dump of the whole parsed value. The user needs the key, the class
that refused it, the file, and the fix. :func:`parse_error_line` keeps those.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re

#: lines of jsonargparse's message that describe its machinery, not the user's mistake
_NOISE = (
    "Given value",
    "Subtypes:",
    "Errors:",
    "Does not validate against any of the Union subtypes",
    "- Expected a <class 'NoneType'>",
)
_REFUSED = re.compile(
    r"Problem with given class_path '(?P<cls>[\w.]+)':\s*(?:- )?"
    r"(?:Option|Key) '(?P<key>[\w.]+)' is not (?:accepted|expected)"
)


def config_files(argv: list[str]) -> list[str]:
    """The ``--config`` files named in ``argv`` (``--config X`` and ``--config=X``)."""
    out = []
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            out.append(argv[i + 1])
        elif arg.startswith("--config="):
            out.append(arg.split("=", 1)[1])
    return out


def accepted_parameters(class_path: str) -> list[str]:
    """The ``__init__`` parameters of ``class_path`` and its bases (empty if not importable)."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return []
    names: list[str] = []
    for klass in inspect.getmro(cls) if inspect.isclass(cls) else [cls]:
        init = getattr(klass, "__init__", None)
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            continue
        names += [
            p.name
            for p in params
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
    return list(dict.fromkeys(names))


def _overridden(message: str, argv: list[str]) -> bool:
    """Whether the key the error names was given on the command line (``--a.b.key=...``):
    the innermost ``Parser key "..."`` of the message, else its leading ``key:``."""
    keys = re.findall(r'Parser key "([^"]+)"', message)
    if not keys:
        head = re.match(r"\s*([A-Za-z_][\w.]*):", message)
        keys = [head.group(1)] if head else []
    if not keys:  # a class's own check inside a Union's error list: "- rounds must be >= 0"
        keys = re.findall(r"^\s*- ([A-Za-z_]\w*) must\b", message, re.M)
    if not keys:
        return False
    return keys[-1].rsplit(".", 1)[-1] in {k.rsplit(".", 1)[-1] for k in _given_keys(argv)}


def _given_keys(argv: list[str]) -> set[str]:
    """Keys set on the command line, without ``init_args`` parts
    (``--data.init_args.splitter.init_args.seed=3`` -> ``data.splitter.seed``)."""
    return {
        _plain_key(arg[2:].split("=", 1)[0])
        for arg in argv
        if arg.startswith("--") and arg.split("=", 1)[0] != "--config"
    }


def _plain_key(key: str) -> str:
    return ".".join(part for part in key.split(".") if part != "init_args")


#: an optional package's "needs X: run `uv sync ...`" sentence (parenthesis included)
_MISSING_PACKAGE = re.compile(r"\w+ needs [\w.]+: run `uv sync[^`]*`(?: \([^)]*\))?\.", re.S)


def parse_error_line(message: str, argv: list[str], command: str) -> str:
    """The one line to print for a jsonargparse parse error ``message``.

    Args:
        message: the parser's error text.
        argv: the command's arguments (to name the config file).
        command: the subcommand, for the help hint (``fit``, ``datagen run``, ...).
    """
    missing = _MISSING_PACKAGE.search(message)
    if missing:  # a class whose package is not installed: buried in a Union's error list
        return " ".join(missing[0].split())
    files = config_files(argv)
    where = files[-1] if len(files) == 1 else f"one of {', '.join(files)}" if files else None
    if where:
        message = message.replace('"<unicode string>"', where)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    kept = [line for line in lines if not line.startswith(_NOISE)]
    text = " ".join(line.removeprefix("- ") for line in kept) or message.strip()
    key = re.match(r'Parser key "(?P<key>[^"]+)":\s*', text)
    refused = _REFUSED.search(text)
    if refused:
        known = accepted_parameters(refused["cls"])
        close = difflib.get_close_matches(refused["key"], known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        text = f"{refused['cls'].rsplit('.', 1)[-1]} has no parameter '{refused['key']}'{hint}"
        text = f"{key['key']}: {text}" if key else text
    elif key:
        text = f"{key['key']}: {text[key.end() :]}"
    if "found character '\\t'" in message or (
        "cannot start any token" in message and _has_tab(files)
    ):
        text += " (YAML indents with spaces; replace the tab characters)"
    if text.startswith("Unexpected config:") and files and _no_settings(files[-1]):
        text = f"config {files[-1]} holds no settings (empty or only comments)"
        sample = "samples/" + (command.split()[0] if " " in command else "generated_configs")
        return f"{text}; start from a sample in {sample}/."
    about_the_file = "Problems parsing config" in text or text.startswith("config:")
    # a misspelt key: given on the command line when its whole path is (a key of the same
    # name elsewhere, e.g. a splitter's seed, does not count)
    misspelt = f"{_plain_key(key['key'])}.{refused['key']}" if refused and key else None
    on_command_line = _overridden(message, argv) or misspelt in _given_keys(argv)
    if "NestedArg" in message or on_command_line:  # from a command-line override
        text += " (command-line argument)"
    elif where and not about_the_file:
        text += f" (config {where})"
    return f"{text}. `fm {command} --help` lists the options."


def _text_of(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _has_tab(files: list[str]) -> bool:
    """Whether one of the config files has a tab at the start of a line's indentation."""
    return any(re.search(r"^[ ]*\t", _text_of(f) or "", re.MULTILINE) for f in files)


def _no_settings(path: str) -> bool:
    """Whether a config file is empty or holds only comments and blank lines."""
    text = _text_of(path)
    if text is None:
        return False
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())
