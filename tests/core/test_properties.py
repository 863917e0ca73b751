"""Property-based tests (hypothesis): attacks, the YAML parsers, the CSV export.

- attacks (every registered one): for random shapes, eps and images, the output stays within
  eps (L-inf, and L2 for the L2 attacks) of the input and inside [0, 1], the input is
  never changed in place, the model's mode is restored;
- scenarios, rubric and study config: any YAML (random text, random documents, and the
  shipped files with values swapped) gives a valid object or a clear InputError, never a crash;
- CSV export: any Unicode, newlines, quotes and formula-like starts round-trip through
  ``csv`` and pandas (formula starts carry exactly one leading ``'``).
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

from harlab.attacks import (
    apgd,
    apgd_t,
    autoattack,
    bim,
    cw_l2,
    deepfool,
    fgsm,
    get_spec,
    mifgsm,
    pgd,
    sparse_frames,
    square,
)
from harlab.errors import InputError
from harlab.llm.scenarios import parse_scenario
from harlab.paths import RESOURCES
from harlab.rating.rubric_file import parse_rubric
from harlab.study.config import StudyConfig
from harlab.study.export import FORMULA_STARTS, safe_cell, to_csv

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------- attacks
class Tiny(nn.Module):
    """A 3-class conv net small enough for hundreds of attacks per second."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.drop = nn.Dropout(0.5)  # train/eval mode matters
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(self.drop(torch.relu(self.conv(x)).mean(dim=(2, 3))))


MODEL = Tiny()
ATTACKS = {
    "fgsm": lambda m, x, y, eps, t: fgsm(m, x, y, eps, targeted=t),
    "bim": lambda m, x, y, eps, t: bim(m, x, y, eps, steps=3, targeted=t),
    "pgd": lambda m, x, y, eps, t: pgd(m, x, y, eps, steps=3, targeted=t,
                                       generator=torch.Generator().manual_seed(0)),
    "mifgsm": lambda m, x, y, eps, t: mifgsm(m, x, y, eps, steps=3, targeted=t),
    "apgd": lambda m, x, y, eps, t: apgd(m, x, y, eps, steps=3, targeted=t),
    "apgd_t": lambda m, x, y, eps, t: apgd_t(m, x, y, eps, steps=3, n_target_classes=2,
                                             targeted=t),
    "square": lambda m, x, y, eps, t: square(m, x, y, eps, n_queries=6, targeted=t),
    "deepfool": lambda m, x, y, eps, t: deepfool(m, x, y, eps, steps=3, targeted=t),
    "cw_l2": lambda m, x, y, eps, t: cw_l2(m, x, y, eps, steps=2, search_steps=2, targeted=t),
    "autoattack": lambda m, x, y, eps, t: autoattack(m, x, y, eps, steps=2, n_target_classes=1,
                                                     n_queries=3, targeted=t),
    "sparse": lambda m, x, y, eps, t: sparse_frames(m, x, y, eps, k=1, targeted=t,
                                                    base_params={"steps": 2}),
}


@st.composite
def batches(draw):
    n = draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    kind = draw(st.sampled_from(["uniform", "binary", "edge"]))
    images = torch.rand(n, 3, h, w, generator=gen)
    if kind == "binary":
        images = (images > 0.5).float()  # every pixel on the boundary of [0, 1]
    elif kind == "edge":
        images = images.clamp(0.45, 0.55) * 0 + draw(st.sampled_from([0.0, 1.0, 0.5]))
    labels = torch.randint(0, 3, (n,), generator=gen)
    return images, labels


def test_every_registered_attack_is_property_tested():
    from harlab.attacks import ATTACKS as REGISTERED

    assert set(ATTACKS) == set(REGISTERED)


@settings(SETTINGS, max_examples=60)
@given(batch=batches(), eps=st.floats(1e-4, 1.0), name=st.sampled_from(sorted(ATTACKS)),
       targeted=st.booleans(), training=st.booleans())
def test_attacks_stay_in_the_eps_ball_and_the_pixel_range(batch, eps, name, targeted,
                                                          training):
    images, labels = batch
    before = images.clone()
    MODEL.train(training)
    adv = ATTACKS[name](MODEL, images, labels, eps, targeted)
    assert MODEL.training is training
    assert torch.equal(images, before)  # never in place
    assert adv.shape == images.shape and adv.dtype == images.dtype
    assert adv.data_ptr() != images.data_ptr()
    assert torch.isfinite(adv).all()
    assert adv.min() >= 0.0 and adv.max() <= 1.0
    assert (adv - images).abs().max() <= eps + 1e-6  # an L2 ball lies inside the L-inf one
    if get_spec(name).norm == "l2":
        assert (adv - images).flatten(1).norm(dim=1).max() <= eps + 1e-5


@SETTINGS
@given(eps=st.one_of(st.floats(allow_nan=True), st.integers(-10, 300), st.just(0.0)))
def test_attacks_accept_a_valid_eps_or_refuse_clearly(eps):
    images, labels = torch.rand(1, 3, 4, 4), torch.tensor([0])
    try:
        adv = fgsm(MODEL, images, labels, eps)
    except InputError as exc:
        assert "eps" in str(exc)
    else:
        assert 0 <= eps <= 1 and (adv - images).abs().max() <= eps + 1e-6  # 0: clean


# ------------------------------------------------------------------------------- parsers
def _shipped(name: str) -> str:
    return (RESOURCES / name).read_text(encoding="utf-8")


SCENARIO = _shipped("scenarios/generic_monitoring.yaml")
RUBRIC = _shipped("rubric.yaml")
STUDY = _shipped("study_ucf101_gpt4o.yaml")

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30))
documents = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12)
yaml_texts = st.one_of(
    st.text(max_size=300),
    documents.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.text(alphabet=":-[]{}#&*!|>'\"%@` \n\tabc019", max_size=200),
)


def _mutate(text: str, data: st.DataObject) -> str:
    """The shipped file with one top-level value replaced by a random document."""
    loaded = yaml.safe_load(text)
    if isinstance(loaded, dict) and loaded:
        key = data.draw(st.sampled_from(sorted(loaded, key=str)))
        loaded[key] = data.draw(documents)
        if data.draw(st.booleans()):
            loaded[data.draw(st.text(max_size=8))] = data.draw(scalars)
    return yaml.safe_dump(loaded, allow_unicode=True)


def _study_from_text(text: str) -> StudyConfig:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "study.yaml"
        path.write_text(text, encoding="utf-8")
        return StudyConfig.load(path)


PARSERS = {
    "scenario": (parse_scenario, SCENARIO),
    "rubric": (parse_rubric, RUBRIC),
    "study": (_study_from_text, STUDY),
}


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_shipped_files_parse(name):
    parse, text = PARSERS[name]
    assert parse(text) is not None


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(text=yaml_texts)
def test_random_yaml_is_a_valid_object_or_a_clear_error(name, text):
    parse, _ = PARSERS[name]
    try:
        parse(text)
    except InputError as exc:
        assert str(exc).strip()


@pytest.mark.parametrize("name", sorted(PARSERS))
@SETTINGS
@given(data=st.data())
def test_shipped_files_with_a_value_swapped_parse_or_fail_clearly(name, data):
    parse, shipped = PARSERS[name]
    text = _mutate(shipped, data)
    try:
        parse(text)
    except InputError as exc:
        assert str(exc).strip()


# --------------------------------------------------------------------------- CSV export
cells = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.sampled_from(list("=+-@\t\r\n\",'; ab\u00e9\u4e2d\U0001f600")),
            max_size=20),
    st.sampled_from(FORMULA_STARTS).flatmap(lambda s: st.text(max_size=10).map(lambda t: s + t)),
)


def _expected(value: str) -> str:
    return safe_cell(value)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(cells, cells, st.integers(-5, 5) | st.none()), min_size=1,
                     max_size=6))
def test_csv_export_round_trips_through_csv_and_pandas(rows):
    assume(all("\x00" not in a + b for a, b, _ in rows))  # NUL is not text a CSV can hold
    columns = ["original_response", "attacked_response", "n"]
    dict_rows = [dict(zip(columns, r, strict=True)) for r in rows]
    text = to_csv(columns, dict_rows)

    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == columns and len(parsed) == len(rows) + 1
    for (a, b, n), got in zip(rows, parsed[1:], strict=True):
        assert got == [_expected(a), _expected(b), "" if n is None else str(n)]
        for original, cell in ((a, got[0]), (b, got[1])):
            if original.startswith(FORMULA_STARTS):
                assert cell == "'" + original  # exactly one guard quote, text intact
            else:
                assert cell == original

    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False,
                        na_values=[], encoding="utf-8")
    assert list(frame.columns) == columns and len(frame) == len(rows)
    for (a, b, _), (_, got) in zip(rows, frame.iterrows(), strict=True):
        # pandas' C parser folds a lone \r inside quotes into \n only when it ends a line;
        # compare after the same universal-newline reading csv.reader does.
        assert got["original_response"] == _expected(a).replace("\r\n", "\n") or \
            got["original_response"] == _expected(a)
        assert got["attacked_response"] == _expected(b).replace("\r\n", "\n") or \
            got["attacked_response"] == _expected(b)
