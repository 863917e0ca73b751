"""Language models: the OpenAI-compatible client, the built-in local server, the query job.

Submodules are imported where used (importing :mod:`harlab.llm.client` imports ``openai``):
:mod:`~harlab.llm.config` (``LLMConfig``, ``PROVIDER_PRESETS``), :mod:`~harlab.llm.client`,
:mod:`~harlab.llm.local_server`, :mod:`~harlab.llm.runner` (``query_samples``,
``response_pairs``) and :mod:`~harlab.llm.pricing`.
"""

from harlab.llm.config import PROVIDER_PRESETS, LLMConfig, Preset

__all__ = ["LLMConfig", "PROVIDER_PRESETS", "Preset"]
