"""The schema (config/schema/*.yaml) as the one place a default or a description is written.

- Descriptions are whole: YAML cuts an unquoted description of a flow mapping at its first comma
  (`{type: string, description: A, b.}` reads as `description: A` plus a key `b.`) and a plain
  block one at ` #`; both are found by reparsing the files' node trees, and so are empty ones.
- Library defaults equal the schema's: the settings classes and functions that take a config
  section's keys as parameters, and every `.get("<key>", <number, boolean or string>)` fallback in
  vero/ whose key is a schema key's name.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

from vero.config import SCHEMA_DIR, load_schema, schema_default

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILES = sorted(Path(SCHEMA_DIR).glob("*.yaml"))

# JSON Schema keywords the project's schema files use or may use; any other key where a keyword is
# expected is a fragment of a description cut at a comma.
KEYWORDS = {
    "$schema", "$id", "$ref", "$defs", "$comment", "title", "description", "type", "default", "enum",
    "const", "properties", "additionalProperties", "patternProperties", "propertyNames", "required",
    "items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains", "minProperties",
    "maxProperties", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "format", "oneOf", "anyOf", "allOf", "not", "if", "then",
    "else", "dependentRequired", "dependentSchemas", "examples", "deprecated", "readOnly",
}  # fmt: skip
_NAMED = {"properties", "patternProperties", "$defs", "dependentSchemas"}
_SUBSCHEMA = {"additionalProperties", "items", "not", "if", "then", "else", "contains", "propertyNames"}
_SUBSCHEMAS = {"oneOf", "anyOf", "allOf", "prefixItems"}


def cut_descriptions(text: str, name: str = "<schema>") -> list[str]:
    """Problems with the descriptions of one schema file's text, one line each (empty: none)."""
    root = yaml.compose(text)
    problems: list[str] = []
    lines = text.splitlines()

    def where(node) -> str:
        return f"{name}:{node.start_mark.line + 1}"

    def schema(node, path: str) -> None:
        if not isinstance(node, yaml.MappingNode):
            return
        for key, value in node.value:
            k = key.value
            if (
                node.flow_style
                and isinstance(value, yaml.ScalarNode)
                and value.value == ""
                and not value.style
            ):
                problems.append(f"{where(key)}: {path}: {k!r} has no value (a description cut at a comma?)")
            elif k not in KEYWORDS:
                problems.append(f"{where(key)}: {path}: {k!r} is not a schema keyword (a description cut?)")
            if k == "description":
                desc = value.value if isinstance(value, yaml.ScalarNode) else None
                if not isinstance(desc, str) or not desc.strip():
                    problems.append(f"{where(value)}: {path}: empty description")
                elif value.style is None and value.end_mark.line == value.start_mark.line:
                    rest = lines[value.end_mark.line][value.end_mark.column :]
                    if rest.lstrip().startswith("#"):
                        problems.append(f"{where(value)}: {path}: description cut at ' #'")
            elif k in _NAMED and isinstance(value, yaml.MappingNode):
                for prop, sub in value.value:
                    schema(sub, f"{path}.{prop.value}" if path else prop.value)
            elif k in _SUBSCHEMA:
                schema(value, f"{path}.<{k}>")
            elif k in _SUBSCHEMAS and isinstance(value, yaml.SequenceNode):
                for i, sub in enumerate(value.value):
                    schema(sub, f"{path}.<{k}[{i}]>")

    schema(root, "")
    return problems


def test_schema_descriptions_are_whole():
    assert len(SCHEMA_FILES) >= 10, SCHEMA_DIR
    problems = [p for f in SCHEMA_FILES for p in cut_descriptions(f.read_text(), f"config/schema/{f.name}")]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "text, found",
    [
        ("properties:\n  a: {type: string, description: A, b c.}\n", ["'b c.' has no value"]),
        ("properties:\n  a: {type: string, description: A, b: c}\n", ["'b' is not a schema keyword"]),
        ("properties:\n  a: {type: string, description: ''}\n", ["empty description"]),
        ("properties:\n  a:\n    type: string\n    description: x # y\n", ["cut at ' #'"]),
        ('properties:\n  a: {type: string, description: "A, b: c # d."}\n', []),
        ("properties:\n  a:\n    type: string\n    description: >\n      A, b: c.\n", []),
    ],
)
def test_cut_descriptions_finds_each_kind_of_cut(text, found):
    problems = cut_descriptions(text)
    assert len(problems) == len(found), problems
    for p, f in zip(problems, found, strict=True):
        assert f in p


def test_schema_default_reads_the_schema():
    assert schema_default("data.filter.min_source_rows") == 1000
    assert (
        schema_default("reward.judge.serve.gpus")
        == load_schema()["properties"]["reward"]["properties"]["judge"]["properties"]["serve"]["properties"][
            "gpus"
        ]["default"]
    )
    with pytest.raises(KeyError, match=r"data\.filter\.no_such_key"):
        schema_default("data.filter.no_such_key")


# ---- library defaults against the schema ------------------------------------------------------------


def _defaults(obj) -> dict:
    """Parameter defaults of a function or class, field defaults (factories called) of a dataclass."""
    if dataclasses.is_dataclass(obj):
        out = {}
        for f in dataclasses.fields(obj):
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
        return out
    params = inspect.signature(obj).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def _same(a, b) -> bool:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return norm(a) == norm(b)


def _settings():
    from vero.analysis.probe import run_probe
    from vero.analysis.skills.llm import LLMExtractor
    from vero.data.filtering import FilterSettings
    from vero.data.question_filter import QuestionFilterSettings
    from vero.eval.backends import OpenAIBackend, ServedVLLMBackend
    from vero.eval.scoring import score_all
    from vero.prompts import TrainingPrompt
    from vero.rewards.judge import JudgeClient
    from vero.rewards.types import RewardConfig

    reward_names = {
        "overlong_enabled": "overlong.enabled",
        "overlong_buffer": "overlong.buffer",
        "overlong_penalty": "overlong.penalty",
        "overlong_max_length": "overlong.max_length",
    }
    # (what, its config section, parameter -> key where the names differ)
    return [
        (FilterSettings, "data.filter", {}),
        (QuestionFilterSettings, "data.filter.question_filter", {}),
        (RewardConfig, "reward", reward_names),
        (TrainingPrompt, "data.prompt", {}),
        (JudgeClient, "reward.judge", {}),
        (OpenAIBackend, "eval.openai", {}),
        (ServedVLLMBackend, "eval.vllm_server", {}),
        (run_probe, "analysis.probe", {}),
        (LLMExtractor, "analysis.skills.llm", {}),
        (score_all, "reward.judge", {"judge_concurrency": "max_concurrency"}),
    ]


def _section(path: str) -> dict:
    node = load_schema()
    for part in path.split("."):
        node = node["properties"][part]
    return node["properties"]


@pytest.mark.parametrize("obj, section, names", _settings(), ids=lambda x: getattr(x, "__name__", None))
def test_library_defaults_equal_the_schema(obj, section, names):
    keys = _section(section)
    compared, wrong = [], []
    for param, value in _defaults(obj).items():
        key = names.get(param, param)
        if key.split(".")[0] not in keys:
            continue
        compared.append(param)
        if value is None:
            continue  # None = not given: the code takes the configured or the schema's value
        expected = schema_default(f"{section}.{key}")
        if not _same(value, expected):
            wrong.append(f"{obj.__name__}.{param} = {value!r}, schema {section}.{key} = {expected!r}")
    assert compared, f"{obj.__name__} shares no parameter with {section}: the table is stale"
    assert not wrong, "\n".join(wrong)


def _schema_leaves() -> dict[str, list]:
    """Schema key name -> the defaults of every schema key of that name."""
    out: dict[str, list] = {}

    def walk(node):
        for name, sub in (node.get("properties") or {}).items():
            if isinstance(sub, dict):
                if "default" in sub:
                    out.setdefault(name, []).append(sub["default"])
                walk(sub)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"])

    walk(load_schema())
    return out


# `.get(key, value)` calls on mappings that are not config sections although the key shares a
# schema key's name: (file, key) -> what the mapping is.
NOT_CONFIG = {
    ("vero/data/filtering.py", "curated"): "a per-source summary of the filter report",
    ("vero/data/readers.py", "curated"): "the reader's keyword arguments (already resolved)",
    ("vero/eval/scorers.py", "precision"): "a metric's parameters in the benchmark registry",
    ("vero/plan.py", "hidden_size"): "a model's config.json vision section",
    ("vero/eval/comparison.py", "source"): "a paper_reference entry of the registry",
    ("vero/eval/reproduce.py", "source"): "a paper_reference entry of the registry",
    ("vero/eval/registry.py", "layout"): "a benchmark's data layout in the registry",
}


def config_fallbacks(root: Path) -> list[tuple[str, int, str, object]]:
    """(file, line, key, value) of each `.get("key", constant)` in root/vero: a number, a boolean or a
    non-empty string ("" and containers are "absent" sentinels, not defaults)."""
    leaves = _schema_leaves()
    found = []
    for path in sorted((root / "vero").rglob("*.py")):
        rel = str(path.relative_to(root))
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in ("get", "setdefault") or len(node.args) != 2:
                continue
            key, default = node.args
            if not (isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value in leaves):
                continue
            if isinstance(default, ast.Constant) and isinstance(default.value, (bool, int, float, str)):
                if default.value == "":
                    continue
                found.append((rel, node.lineno, key.value, default.value))
    return sorted(found, key=lambda t: (t[0], t[1]))


def _equal_default(value, default) -> bool:
    return isinstance(value, bool) == isinstance(default, bool) and _same(value, default)


def contradictions(root: Path) -> list[str]:
    """The fallbacks under root/vero that equal no schema default of a key of their name."""
    leaves = _schema_leaves()
    return [
        f"{rel}:{line}: .get({key!r}, {value!r}); the schema's {key!r} defaults: {leaves[key]}"
        for rel, line, key, value in config_fallbacks(root)
        if (rel, key) not in NOT_CONFIG and not any(_equal_default(value, d) for d in leaves[key])
    ]


def test_config_fallbacks_equal_a_schema_default():
    wrong = contradictions(REPO_ROOT)
    assert not wrong, "fallbacks that contradict the schema (use vero.config.schema_default):\n" + "\n".join(
        wrong
    )


def test_config_fallbacks_check_finds_a_planted_contradiction(tmp_path):
    (tmp_path / "vero").mkdir()
    (tmp_path / "vero" / "m.py").write_text(
        "def f(serve, judge, ev):\n"
        '    return serve.get("gpus", 1), serve.get("port"), judge.get("max_concurrency", 64.0)\n'
        '    return ev.get("backend", "hf"), ev.get("backend", "")\n'
    )
    planted = str(Path("vero", "m.py"))  # (a path this repository does not have; tests/test_links.py)
    assert config_fallbacks(tmp_path) == [
        (planted, 2, "gpus", 1),
        (planted, 2, "max_concurrency", 64.0),
        (planted, 3, "backend", "hf"),
    ]
    wrong = contradictions(tmp_path)
    assert (
        len(wrong) == 2
        and "m.py:2: .get('gpus', 1)" in wrong[0]
        and "m.py:3: .get('backend', 'hf')" in wrong[1]
    )
