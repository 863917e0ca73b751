"""The study's shared words are defined once, in harlab.vocab (issue 18): no module keeps its
own copy of a word list that the store, the scorer and the GUI all use."""

from __future__ import annotations

import ast
from pathlib import Path

from harlab import vocab
from harlab.data import video

ROOT = Path(__file__).resolve().parents[2]
WORD_LISTS = {name: getattr(vocab, name) for name in dir(vocab)
              if name.isupper() and isinstance(getattr(vocab, name), tuple)}


def _module_constants():
    for folder in ("harlab", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "vocab.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                    try:
                        value = ast.literal_eval(node.value)
                    except ValueError:
                        continue
                    yield path.relative_to(ROOT), node.lineno, value


def test_no_module_keeps_a_copy_of_a_word_list():
    copies = [f"{path}:{line} copies harlab.vocab.{name}"
              for path, line, value in _module_constants()
              for name, words in WORD_LISTS.items()
              if isinstance(value, (tuple, list, set, frozenset)) and len(words) > 1
              and set(value) == set(words)]
    assert not copies, "import these from harlab.vocab instead:\n" + "\n".join(copies)


def test_no_module_compares_with_the_builtin_provider_by_string():
    hits = []
    for folder in ("harlab", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path.name == "vocab.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Compare) and any(
                        isinstance(c, ast.Constant) and c.value == vocab.BUILTIN_PROVIDER
                        for c in [node.left, *node.comparators]):
                    hits.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not hits, ("use LLMConfig.is_builtin or harlab.vocab.BUILTIN_PROVIDER:\n"
                      + "\n".join(hits))


def test_keyframe_dispatch_covers_the_vocabulary():
    assert tuple(video.KEYFRAME_METHODS) == vocab.KEYFRAME_METHODS
