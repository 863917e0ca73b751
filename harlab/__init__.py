"""HARLab core: adversarial attacks on human-action recognition and their effect on LLMs.

Nothing in this package imports Qt; the GUI lives in ``ui/``. Heavy libraries (torch, OpenCV,
sentence-transformers, openai) are imported lazily inside the functions that need them.
"""

__version__ = "0.1.0"
