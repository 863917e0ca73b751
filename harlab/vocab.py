"""The study's shared words, defined once: every module, the store, the CLI and the GUI import
them from here instead of spelling them out.

Metric names live in the metric registry (:mod:`harlab.scoring.metrics`), since a metric is more
than a name; everything else that is only a word is here.
"""

from __future__ import annotations

#: How the classifier's output reaches the language model: as a label in the prompt
#: (``unimodal``) or as the frames themselves (``multimodal``).
MODALITIES = ("unimodal", "multimodal")

#: The two sides of a pair: what the LLM was told or shown before and after the attack.
SIDES = ("original", "attacked")

#: The blind labels under which a rater sees the two sides, in a per-item random order.
SHOWN_SIDES = ("A", "B")

#: Compute devices a user may name for torch work (``cuda:N`` picks one GPU).
DEVICE_CHOICES = ("auto", "cpu", "cuda")

#: Devices the sentence-transformers scorer accepts (it also runs on Apple's ``mps``).
SCORER_DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

#: How keyframes are chosen from a video.
KEYFRAME_METHODS = ("uniform", "content")

#: Extra clean draws per sample that the study, the query stage, ``harlab query`` and the GUI's
#: Ask model ask unless told otherwise: two give the drift test a baseline (a spread needs two
#: values). The paper preset asks none unless set.
DEFAULT_NOISE_FLOOR = 2

#: The provider name of the built-in local model (llama.cpp's server, started by HARLab).
BUILTIN_PROVIDER = "builtin"
