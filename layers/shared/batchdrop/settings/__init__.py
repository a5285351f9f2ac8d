"""Settings read once per container from the environment that template.yaml sets.

``variables`` declares each variable once (name, default, bounds, meaning); ``models`` holds one
model per function (SubmitSettings, PollSettings, CompleteSettings), composed of shared groups.
"""

from batchdrop.settings.models import (
    AnthropicAccess,
    CompleteSettings,
    CreationSettings,
    DefaultProfileSettings,
    PollSettings,
    StackResources,
    SubmitSettings,
)
from batchdrop.settings.variables import ConfigurationError

__all__ = [
    "AnthropicAccess",
    "CompleteSettings",
    "ConfigurationError",
    "CreationSettings",
    "DefaultProfileSettings",
    "PollSettings",
    "StackResources",
    "SubmitSettings",
]
