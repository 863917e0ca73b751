"""Project errors.

Every message names the value, what was expected, and the fix, e.g.
``eps must be in (0, 1] on the [0, 1] pixel scale, got 8 (did you mean 8/255?)``.
"""


class HarlabError(Exception):
    """Base class of every error HARLab raises on purpose."""


class InputError(HarlabError, ValueError):
    """A value given by the user (argument, file, setting) is not acceptable."""


class DatasetError(InputError):
    """A dataset folder, split file or video is missing or malformed."""


class CheckpointError(InputError):
    """A checkpoint file is missing, corrupt, foreign or for another class set."""


class StoreError(HarlabError):
    """A project folder or its database cannot be opened or written."""


class LLMError(HarlabError):
    """A language-model request failed after its retries."""
