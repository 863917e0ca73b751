"""What reaches the user's terminal: HARLab's own messages and progress bars, never a
third-party library's warnings, log lines or progress bars unless ``-v`` is given.

Libraries such as transformers print notes (e.g. "Token indices sequence length is longer than
the specified maximum sequence length") that HARLab reports itself, in words that say what they
mean for the study (a truncated semantic score is flagged in the exports). With ``-v`` their
output is shown again, for debugging.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

#: Loggers of libraries HARLab calls; kept at ERROR on a quiet terminal.
THIRD_PARTY_LOGGERS = ("transformers", "sentence_transformers", "huggingface_hub", "httpx",
                       "httpcore", "openai", "urllib3", "filelock", "PIL", "matplotlib",
                       "torch", "llama_cpp")

# Read by the libraries when they are imported: no progress bars, no advisory warnings.
_QUIET_ENV = {"TRANSFORMERS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
              "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TOKENIZERS_PARALLELISM": "false"}


def quiet_third_party(verbose: int = 0) -> None:
    """Keep third-party warnings and progress bars off the terminal (``verbose`` 0), or let
    them through (``verbose`` >= 1). Call once at start-up, before the libraries are used."""
    if verbose:
        return
    for key, value in _QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    transformers = sys.modules.get("transformers")
    if transformers is not None:  # imported before us: its own verbosity switch
        transformers.utils.logging.set_verbosity_error()
    # Python warnings from libraries go to the log (debug), not to the terminal; HARLab's own
    # code raises errors or logs instead of warning.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"(transformers|sentence_transformers|torch"
                            r"|torchvision|huggingface_hub)(\..*)?$")
