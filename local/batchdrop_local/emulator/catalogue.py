"""The emulator's model catalogue: the Models API objects of models.json, with config overrides.

Each entry of models.json is a ModelInfo object as `GET /v1/models/{id}` serves it, plus an
`emulator` object of facts the API never shows (the tokenizer ratio, whether thinking is always
on, whether the model refuses sampling parameters). `model_overrides` in EmulatorConfig is merged
onto entries (nested objects key by key) and may add models, so a test can deprecate or retire one.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_FILE = Path(__file__).with_name("models.json")
INTERNAL_KEY = "emulator"
"""The key of an entry's internal facts; never served."""
LIFECYCLES = ("active", "deprecated", "retired")
_REQUIRED = ("display_name", "created_at", "lifecycle", "max_input_tokens", "max_tokens", "capabilities")
_DATES = ("created_at", "deprecated_at", "retires_at")
_INTERNAL_FIELDS = {
    "tokenizer_ratio",
    "thinking_always_on",
    "rejects_sampling",
    "exclusive_sampling",
    "output_300k_beta",
    "default_effort",
    "aliases",
    "replacement",
}


@dataclass(frozen=True)
class ModelEntry:
    """One model: what the Models API serves (`info`) and the emulator's own facts about it."""

    info: dict[str, Any]
    internal: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.info["id"])

    @property
    def lifecycle(self) -> str:
        return str(self.info["lifecycle"])

    @property
    def max_tokens(self) -> int:
        return int(self.info["max_tokens"])

    @property
    def tokenizer_ratio(self) -> float:
        return float(self.internal.get("tokenizer_ratio", 1.0))

    @property
    def thinking_always_on(self) -> bool:
        return bool(self.internal.get("thinking_always_on", False))

    @property
    def rejects_sampling(self) -> bool:
        return bool(self.internal.get("rejects_sampling", False))

    @property
    def exclusive_sampling(self) -> bool:
        return bool(self.internal.get("exclusive_sampling", False))

    @property
    def output_300k_beta(self) -> bool:
        return bool(self.internal.get("output_300k_beta", False))

    @property
    def default_effort(self) -> str:
        return str(self.internal.get("default_effort", "high"))

    def supports(self, *path: str) -> bool:
        """Whether the capability at `path` (e.g. "thinking", "types", "adaptive") is supported."""
        node: Any = self.info["capabilities"]
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        return isinstance(node, dict) and node.get("supported") is True

    def effort_levels(self) -> tuple[str, ...]:
        if not self.supports("effort"):
            return ()
        return tuple(
            level for level in ("low", "medium", "high", "xhigh", "max") if self.supports("effort", level)
        )

    def created_key(self) -> tuple[str, str]:
        return (str(self.info["created_at"]), self.id)


class Catalogue:
    """Models by id (and alias), newest first; built once per configuration."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self._entries = sorted(entries, key=ModelEntry.created_key, reverse=True)
        self._by_id: dict[str, ModelEntry] = {}
        for entry in self._entries:
            self._by_id[entry.id] = entry
        for entry in self._entries:
            for alias in entry.internal.get("aliases") or ():
                self._by_id.setdefault(str(alias), entry)

    @classmethod
    def build(cls, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Catalogue:
        """The shipped catalogue with `overrides` merged on (an id not in it adds a model)."""
        raw = {entry["id"]: entry for entry in copy.deepcopy(_shipped())}
        for model_id, override in (overrides or {}).items():
            base = raw.get(model_id, {"id": model_id, "type": "model"})
            raw[model_id] = _merge(base, dict(override))
        return cls([_entry(model_id, entry) for model_id, entry in raw.items()])

    def get(self, model_id: str) -> ModelEntry | None:
        """The model named by an id or alias, whatever its lifecycle; None if unknown."""
        return self._by_id.get(model_id)

    def __getitem__(self, model_id: str) -> ModelEntry:
        """The model named by an id or alias; KeyError if unknown."""
        entry = self._by_id.get(model_id)
        if entry is None:
            raise KeyError(f"no model {model_id!r} in the catalogue")
        return entry

    def listing(self, lifecycles: tuple[str, ...]) -> list[ModelEntry]:
        """The models in `lifecycles`, newest first."""
        return [entry for entry in self._entries if entry.lifecycle in lifecycles]


def check_overrides(overrides: object) -> dict[str, dict[str, Any]]:
    """Validate `model_overrides` (a mapping of model id to fields): building the merged
    catalogue must succeed. Returns a plain copy; ValueError says what is wrong."""
    if not isinstance(overrides, Mapping):
        raise ValueError(f"model_overrides must map model ids to objects of fields, got {overrides!r}")
    plain: dict[str, dict[str, Any]] = {}
    for model_id, fields in overrides.items():
        if not isinstance(model_id, str) or not model_id:
            raise ValueError(f"model_overrides: model ids must be non-empty strings, got {model_id!r}")
        if not isinstance(fields, Mapping):
            raise ValueError(f"model_overrides[{model_id!r}] must be an object of fields, got {fields!r}")
        if "id" in fields and fields["id"] != model_id:
            raise ValueError(f"model_overrides[{model_id!r}]: id cannot be changed")
        plain[model_id] = copy.deepcopy(dict(fields))
    Catalogue.build(plain)
    return plain


@cache
def _shipped() -> tuple[dict[str, Any], ...]:
    document = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return tuple(document["models"])


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _entry(model_id: str, raw: dict[str, Any]) -> ModelEntry:
    where = f"model {model_id!r}"
    missing = [name for name in _REQUIRED if name not in raw]
    if missing:
        raise ValueError(f"{where} needs {', '.join(missing)} (a new model must give every ModelInfo field)")
    if raw["lifecycle"] not in LIFECYCLES:
        raise ValueError(
            f"{where}: lifecycle must be one of {', '.join(LIFECYCLES)}, got {raw['lifecycle']!r}"
        )
    for name in _DATES:
        value = raw.get(name)
        if value is None and name != "created_at":
            continue
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{where}: {name} must be an RFC 3339 time, got {value!r}") from None
    for name in ("max_input_tokens", "max_tokens"):
        value = raw[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{where}: {name} must be a positive integer, got {value!r}")
    if not isinstance(raw["capabilities"], dict):
        raise ValueError(f"{where}: capabilities must be an object")
    internal = raw.pop(INTERNAL_KEY, None) or {}
    if not isinstance(internal, dict) or set(internal) - _INTERNAL_FIELDS:
        unknown = sorted(set(internal) - _INTERNAL_FIELDS) if isinstance(internal, dict) else internal
        raise ValueError(f"{where}: unknown {INTERNAL_KEY} field(s) {unknown}")
    info = {
        "id": model_id,
        "type": "model",
        "deprecated_at": None,
        "retires_at": None,
        "line": None,
        **raw,
    }
    return ModelEntry(info=info, internal=internal)
