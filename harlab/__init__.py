"""HARLab core: adversarial attacks on human-action recognition and their effect on LLMs.

Nothing in this package imports Qt; the GUI lives in ``ui/``. ``import harlab`` and building the
``harlab`` command's parser load no heavy library. Modules import what they need (torch,
OpenCV, openai) at their top; the semantic scorer imports torch and sentence-transformers when
it loads a model.
"""

__version__ = "0.1.0"
