"""The words of the attack inspector: the header line, the frame titles, the eps list.

A *frame-level* prediction is the classifier's answer for one keyframe; the *video-level*
prediction is the mean softmax over all keyframes, which decides the video's class (and so
whether it is a sample). The inspector shows both, and every title says which it is.
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np

from harlab.errors import InputError


def verdict_text(view: Any) -> str:
    """The header: video, true class, video-level prediction before and after, the verdict."""
    a = view.attack
    verdict = ("correct before, wrong after: a sample" if a.flipped else
               "wrong before the attack" if a.clean_pred != a.true_index else
               "the attack did not flip this video")
    return (f"<b>{html.escape(a.video)}</b> ({html.escape(view.source)}) · true "
            f"<b>{html.escape(a.true_label)}</b><br>Video-level prediction (mean over "
            f"{len(a.clean_frames)} keyframes): {html.escape(a.classes[a.clean_pred])} → "
            f"{html.escape(a.classes[a.adv_pred])} at {html.escape(a.attack)} eps "
            f"{a.eps * 255:.3g}/255 · <i>{verdict}</i>")


def frame_titles(a: Any, k: int) -> dict[str, str]:
    """Titles of the keyframe grid for keyframe ``k`` (frame-level predictions)."""
    clean_name, clean_p = a.clean_top5(k)[0]
    adv_name, adv_p = a.adv_top5(k)[0]
    where = f"keyframe {k + 1}/{len(a.clean_frames)}"
    return {"clean": f"Original, {where}<br>this frame: {clean_name} {clean_p:.0%}",
            "adv": f"Adversarial<br>this frame: {adv_name} {adv_p:.0%}",
            "pert": f"|perturbation|<br>max {np.abs(a.delta[k]).max() * 255:.0f}/255",
            "cam_clean": f"Grad-CAM: {clean_name}",
            "cam_adv": f"Grad-CAM: {adv_name}"}


def parse_eps_255(text: str) -> list[float]:
    """``"0, 2, 4, 8"`` -> ``[0.0, 2.0, 4.0, 8.0]`` (1/255 units, ascending, unique).

    Raises:
        InputError: an entry is not a number, or is outside 0..255.
    """
    values = []
    for part in (p for p in re.split(r"[,\s;]+", text.strip()) if p):
        try:
            value = float(part.removesuffix("/255"))
        except ValueError:
            raise InputError(f"eps list entry {part!r} is not a number; give eps in 1/255 "
                             "units separated by commas, e.g. 0, 2, 4, 8") from None
        if not 0 <= value <= 255:
            raise InputError(f"eps {value:g}/255 is outside 0..255; give eps in 1/255 units")
        values.append(value)
    if not values:
        raise InputError("the eps list is empty; give eps in 1/255 units, e.g. 0, 2, 4, 8")
    return sorted(set(values))
