"""Profiles: how the documents of one ``inbox/<profile>/`` folder become Messages requests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from batchdrop.config import DefaultProfileSettings

DEFAULT_PROFILE = "default"


class UnknownProfile(LookupError):
    """A folder under ``inbox/`` names no profile. A typo must not fall back to the default."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = sorted(known)
        super().__init__(f"no profile named {name!r}; profiles are: {', '.join(self.known)}")


@dataclass(frozen=True)
class Profile:
    name: str
    model: str
    max_tokens: int
    instruction: str
    system_prompt: str = ""
    temperature: float | None = None
    output_format: str = "markdown"

    @property
    def result_suffix(self) -> str:
        return ".json" if self.output_format == "json" else ".md"


class ProfileCatalog:
    """The profiles a window of documents can use, looked up by name."""

    def __init__(self, profiles: Iterable[Profile]) -> None:
        self._profiles = {p.name: p for p in profiles}

    @classmethod
    def with_default(cls, defaults: DefaultProfileSettings) -> ProfileCatalog:
        return cls(
            [
                Profile(
                    name=DEFAULT_PROFILE,
                    model=defaults.model,
                    max_tokens=defaults.max_tokens,
                    instruction=defaults.instruction,
                    system_prompt=defaults.system_prompt,
                )
            ]
        )

    def get(self, name: str) -> Profile:
        try:
            return self._profiles[name]
        except KeyError:
            raise UnknownProfile(name, self._profiles) from None

    def names(self) -> list[str]:
        return sorted(self._profiles)
