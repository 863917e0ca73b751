"""Procedural stick-figure actions for the demo dataset, drawn with OpenCV.

A figure is a set of 2-D joints computed from segment lengths and angles (or two-bone inverse
kinematics where a hand or foot must touch something). Angles are in degrees from straight
down, positive toward the way the figure faces: 0 is down, 90 forward, 180 up.

Each action is a function ``(phase, scene) -> drawing ops`` so that the pose alone tells the
classes apart (on all fours, on a bicycle, at a table, upside down, arms overhead, punching,
plank, walking a dog) while actor, scene, speed and camera vary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

# segment lengths as fractions of the standing body height
ADULT = dict(torso=0.30, neck=0.04, head=0.075, upper_arm=0.16, forearm=0.15, thigh=0.24,
             shin=0.23)
BABY = dict(torso=0.30, neck=0.03, head=0.12, upper_arm=0.13, forearm=0.12, thigh=0.15,
            shin=0.14)


@dataclass
class Scene:
    """What stays fixed within a clip (actor and camera)."""

    rng: np.random.Generator
    width: int
    height: int
    ground_y: float
    scale: float          # standing body height in pixels
    facing: int           # +1 faces right, -1 left
    x0: float             # start position of the figure's reference point
    speed_px_s: float     # travel speed along the ground
    skin: tuple
    shirt: tuple
    pants: tuple
    prop: tuple           # colour of the bicycle, bag, table, dog...
    prop2: tuple
    thickness: float


def _dir(angle_deg: float, facing: int) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([math.sin(a) * facing, math.cos(a)])


def _ik(start: np.ndarray, target: np.ndarray, l1: float, l2: float, bend: int) -> np.ndarray:
    """Middle joint of a two-bone limb from ``start`` reaching ``target``; ``bend`` picks side."""
    d = target - start
    dist = float(np.hypot(*d))
    dist = min(max(dist, abs(l1 - l2) + 1e-3), l1 + l2 - 1e-3)
    a = (l1 * l1 - l2 * l2 + dist * dist) / (2 * dist)
    h = math.sqrt(max(l1 * l1 - a * a, 0.0))
    u = d / (np.hypot(*d) + 1e-9)
    perp = np.array([-u[1], u[0]]) * bend
    return start + u * a + perp * h


def _dim(color: tuple, f: float = 0.65) -> tuple:
    return tuple(int(c * f) for c in color)


class Ops:
    """A list of drawing operations, painted back to front."""

    def __init__(self, scene: Scene):
        self.s = scene
        self.items: list[tuple] = []

    def line(self, a, b, color, width):
        self.items.append(("line", a, b, color, max(1, int(round(width)))))

    def circle(self, c, r, color, fill=True, width=2):
        self.items.append(("circle", c, r, color, -1 if fill else max(1, int(width))))

    def rect(self, a, b, color):
        self.items.append(("rect", a, b, color))

    def ellipse(self, c, axes, angle, color):
        self.items.append(("ellipse", c, axes, angle, color))

    def paint(self, img: np.ndarray, shift: tuple[float, float] = (0.0, 0.0)) -> None:
        sx, sy = shift

        def p(pt):
            return (int(round(pt[0] + sx)), int(round(pt[1] + sy)))

        for op in self.items:
            kind = op[0]
            if kind == "line":
                cv2.line(img, p(op[1]), p(op[2]), op[3], op[4], cv2.LINE_AA)
            elif kind == "circle":
                cv2.circle(img, p(op[1]), max(1, int(round(op[2]))), op[3], op[4], cv2.LINE_AA)
            elif kind == "rect":
                cv2.rectangle(img, p(op[1]), p(op[2]), op[3], -1)
            elif kind == "ellipse":
                axes = (max(1, int(op[2][0])), max(1, int(op[2][1])))
                cv2.ellipse(img, p(op[1]), axes, op[3], 0, 360, op[4], -1, cv2.LINE_AA)


def draw_figure(ops: Ops, j: dict, body: dict, s: Scene, k: float) -> None:
    """Paint a figure from joints ``j``: far limbs darker, then torso and head, then near."""
    w = s.thickness * k
    for side, f in (("f", 0.6), ("n", 1.0)):
        if side == "n":
            ops.line(j["pelvis"], j["neck"], s.shirt, w * 1.6)
            ops.circle(j["head"], body["head"] * k, s.skin)
        ops.line(j["pelvis"], j[f"knee_{side}"], _dim(s.pants, f), w * 1.2)
        ops.line(j[f"knee_{side}"], j[f"foot_{side}"], _dim(s.pants, f), w * 1.1)
        ops.line(j["neck"], j[f"elbow_{side}"], _dim(s.shirt, f), w)
        ops.line(j[f"elbow_{side}"], j[f"hand_{side}"], _dim(s.skin, f), w * 0.9)


def _chain(j: dict, name: str, start, a1: float, l1: float, a2: float, l2: float,
           facing: int, mid: str, end: str) -> None:
    j[f"{mid}_{name}"] = start + _dir(a1, facing) * l1
    j[f"{end}_{name}"] = j[f"{mid}_{name}"] + _dir(a2, facing) * l2


def _upright(pelvis, torso_deg, body, k, facing) -> dict:
    j = {"pelvis": np.asarray(pelvis, float)}
    j["neck"] = j["pelvis"] + _dir(torso_deg, facing) * body["torso"] * k
    j["head"] = j["neck"] + _dir(torso_deg, facing) * (body["neck"] + body["head"]) * k
    return j


def _travel(s: Scene, t: float) -> float:
    return s.x0 + s.facing * s.speed_px_s * t


# -- the actions ------------------------------------------------------------------------------

def jumping_jack(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, k = ADULT, s.scale
    open_ = 0.5 - 0.5 * math.cos(ph)
    hop = 0.06 * k * max(0.0, math.sin(ph))
    leg = 6 + 20 * open_
    pelvis = (s.x0, s.ground_y - (b["thigh"] + b["shin"]) * k * math.cos(math.radians(leg)) - hop)
    j = _upright(pelvis, 180, b, k, 1)
    arm = 15 + 150 * open_
    for side, sign in (("n", 1), ("f", -1)):
        _chain(j, side, j["neck"], sign * arm, b["upper_arm"] * k, sign * (arm + 10),
               b["forearm"] * k, 1, "elbow", "hand")
        _chain(j, side, j["pelvis"], sign * leg, b["thigh"] * k, sign * leg, b["shin"] * k, 1,
               "knee", "foot")
    draw_figure(ops, j, b, s, k)


def walking_with_dog(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, k, f = ADULT, s.scale, s.facing
    x = _travel(s, t)
    swing = 28 * math.sin(ph)
    pelvis = (x, s.ground_y - (b["thigh"] + b["shin"]) * k * 0.97
              - 0.015 * k * abs(math.cos(ph)))
    j = _upright(pelvis, 176, b, k, f)
    for side, sgn in (("n", 1), ("f", -1)):
        th = sgn * swing
        _chain(j, side, j["pelvis"], th, b["thigh"] * k,
               th - 25 * max(0.0, math.sin(ph * sgn + 1.2)), b["shin"] * k, f, "knee", "foot")
    _chain(j, "n", j["neck"], 35, b["upper_arm"] * k, 60, b["forearm"] * k, f, "elbow", "hand")
    _chain(j, "f", j["neck"], 20 * math.sin(ph), b["upper_arm"] * k, 20 * math.sin(ph) + 15,
           b["forearm"] * k, f, "elbow", "hand")
    # the dog trots ahead on a leash
    dx = x + f * 0.55 * k
    dy = s.ground_y - 0.20 * k
    body_l, body_h = 0.20 * k, 0.065 * k
    for off, phase_off in ((-0.7, 0), (0.7, math.pi)):
        for lag in (0.0, 0.5):
            leg_top = np.array([dx + f * off * body_l, dy])
            foot = leg_top + np.array([f * 0.06 * k * math.sin(ph * 2 + phase_off + lag * 3),
                                       0.20 * k])
            ops.line(leg_top, foot, _dim(s.prop, 0.7 + 0.3 * lag), s.thickness * k * 0.6)
    ops.ellipse((dx, dy), (body_l, body_h), 0, s.prop)
    head = np.array([dx + f * body_l * 1.15, dy - 0.08 * k])
    ops.line((dx + f * body_l * 0.8, dy), head, s.prop, s.thickness * k * 0.8)
    ops.circle(head, 0.055 * k, s.prop)
    ops.line((dx - f * body_l, dy), (dx - f * body_l * 1.5, dy - 0.08 * k * (1 + math.sin(ph * 3))),
             s.prop, s.thickness * k * 0.4)
    ops.line(j["hand_n"], head, s.prop2, 2)
    draw_figure(ops, j, b, s, k)


def boxing_punching_bag(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, k, f = ADULT, s.scale, s.facing
    pelvis = (s.x0, s.ground_y - (b["thigh"] + b["shin"]) * k * 0.95)
    j = _upright(pelvis, 168, b, k, f)
    for side, sgn in (("n", 1), ("f", -1)):
        _chain(j, side, j["pelvis"], sgn * 16, b["thigh"] * k, sgn * 10, b["shin"] * k, f,
               "knee", "foot")
        ext = max(0.0, math.sin(ph if side == "n" else ph + math.pi)) ** 0.7
        _chain(j, side, j["neck"], 45 + 45 * ext, b["upper_arm"] * k, 150 - 60 * ext,
               b["forearm"] * k, f, "elbow", "hand")
    reach = (b["upper_arm"] + b["forearm"]) * k
    swing = 0.05 * k * (math.sin(ph - 0.6) + math.sin(ph + math.pi - 0.6))
    bx = j["neck"][0] + f * (reach + 0.10 * k) + f * abs(swing)
    top = j["neck"][1] - 0.15 * k
    ops.line((bx, 0), (bx, top), (60, 60, 60), 2)
    ops.ellipse((bx, top + 0.22 * k), (0.10 * k, 0.24 * k), 0, s.prop)
    draw_figure(ops, j, b, s, k)


def push_ups(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, k, f = ADULT, s.scale, s.facing
    depth = 0.5 - 0.5 * math.cos(ph)
    foot = np.array([s.x0 - f * 0.45 * k, s.ground_y])
    body_len = (b["thigh"] + b["shin"] + b["torso"]) * k
    arm = (b["upper_arm"] + b["forearm"]) * k
    top = math.degrees(math.asin(min(0.95, arm * 0.97 / body_len)))
    low = top * 0.35
    ang = top - (top - low) * depth
    u = np.array([math.cos(math.radians(ang)) * f, -math.sin(math.radians(ang))])
    j = {"pelvis": foot + u * (b["thigh"] + b["shin"]) * k}
    j["neck"] = foot + u * body_len
    j["head"] = j["neck"] + u * (b["neck"] + b["head"]) * k + np.array([0, -0.02 * k])
    shoulder_top = foot + np.array([math.cos(math.radians(top)) * f, 0]) * body_len
    for side, dx in (("n", 0.0), ("f", 0.03 * k)):
        j[f"knee_{side}"] = foot + u * b["shin"] * k + np.array([f * dx, 0])
        j[f"foot_{side}"] = foot + np.array([f * dx, 0])
        hand = np.array([shoulder_top[0] + f * dx, s.ground_y])
        j[f"hand_{side}"] = hand
        j[f"elbow_{side}"] = _ik(j["neck"], hand, b["upper_arm"] * k, b["forearm"] * k, f)
    draw_figure(ops, j, b, s, k)


def baby_crawling(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, f = BABY, s.facing
    k = s.scale * 0.75
    x = _travel(s, t)
    hip_h = b["thigh"] * k
    sh_h = (b["upper_arm"] + b["forearm"]) * k * 0.95
    pelvis = np.array([x, s.ground_y - hip_h - 0.01 * k * math.sin(2 * ph)])
    neck = pelvis + np.array([f * b["torso"] * k, 0])
    neck[1] = s.ground_y - sh_h
    j = {"pelvis": pelvis, "neck": neck}
    j["head"] = neck + _dir(125, f) * (b["neck"] + b["head"]) * k
    for side, sgn in (("n", 1), ("f", -1)):
        sw = 22 * math.sin(ph) * sgn
        _chain(j, side, pelvis, sw, b["thigh"] * k, -88, b["shin"] * k, f, "knee", "foot")
        hand = np.array([neck[0] + f * math.sin(math.radians(-sw)) * sh_h * 0.8, s.ground_y])
        j[f"hand_{side}"] = hand
        j[f"elbow_{side}"] = _ik(neck, hand, b["upper_arm"] * k, b["forearm"] * k, -f)
    draw_figure(ops, j, b, s, k)


def biking(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, k, f = ADULT, s.scale * 0.9, s.facing
    x = _travel(s, t)
    r = 0.21 * k
    rear = np.array([x - f * 0.33 * k, s.ground_y - r])
    front = rear + np.array([f * 0.68 * k, 0])
    crank = rear + np.array([f * 0.30 * k, 0.02 * k])
    seat = crank + np.array([-f * 0.10 * k, -0.40 * k])
    bar = front + np.array([-f * 0.07 * k, -0.47 * k])
    col, tw = s.prop, max(2, s.thickness * k * 0.45)
    spin = t * s.speed_px_s / max(r, 1) * f
    for c in (rear, front):
        ops.circle(c, r, (30, 30, 30), fill=False, width=max(2, tw * 0.8))
        for n in range(3):
            a = spin + n * math.pi / 3
            d = np.array([math.cos(a), math.sin(a)]) * r
            ops.line(c - d, c + d, (150, 150, 150), 1)
    for a, c2 in ((rear, crank), (crank, seat), (seat, rear), (seat, bar), (crank, bar),
                  (bar, front)):
        ops.line(a, c2, col, tw)
    pedal_r = 0.08 * k
    pelvis = seat + np.array([0, -0.03 * k])
    j = {"pelvis": pelvis}
    j["neck"] = pelvis + _dir(128, f) * b["torso"] * k
    j["head"] = j["neck"] + _dir(118, f) * (b["neck"] + b["head"]) * k
    for side, off in (("n", 0.0), ("f", math.pi)):
        a = ph + off
        pedal = crank + np.array([math.cos(a) * f, math.sin(a)]) * pedal_r
        j[f"foot_{side}"] = pedal
        j[f"knee_{side}"] = _ik(pelvis, pedal, b["thigh"] * k, b["shin"] * k, -f)
        j[f"hand_{side}"] = bar
        j[f"elbow_{side}"] = _ik(j["neck"], bar, b["upper_arm"] * k, b["forearm"] * k, f)
    draw_figure(ops, j, b, s, k)


def cutting_in_kitchen(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, k, f = ADULT, s.scale, s.facing
    pelvis = (s.x0, s.ground_y - (b["thigh"] + b["shin"]) * k * 0.98)
    j = _upright(pelvis, 172, b, k, f)
    for side, sgn in (("n", 1), ("f", -1)):
        _chain(j, side, j["pelvis"], sgn * 4, b["thigh"] * k, sgn * 3, b["shin"] * k, f,
               "knee", "foot")
    table_y = s.ground_y - 0.52 * k
    x_near = s.x0 + f * 0.18 * k
    x_far = s.x0 + f * 0.75 * k
    board = np.array([s.x0 + f * 0.38 * k, table_y - 0.02 * k])
    chop = 0.5 + 0.5 * math.sin(ph)
    knife_hand = board + np.array([f * (0.02 * k + 0.04 * k * math.sin(ph * 0.5)),
                                   -0.05 * k - 0.16 * k * chop])
    hold = board + np.array([f * 0.14 * k, -0.05 * k])
    for side, target in (("n", knife_hand), ("f", hold)):
        j[f"hand_{side}"] = target
        j[f"elbow_{side}"] = _ik(j["neck"], target, b["upper_arm"] * k, b["forearm"] * k, -f)
    draw_figure(ops, j, b, s, k)
    lo, hi = sorted((x_near, x_far))
    ops.rect((lo, table_y), (hi, table_y + 0.05 * k), s.prop)
    for lx in (lo + 0.03 * k, hi - 0.03 * k):
        ops.line((lx, table_y), (lx, s.ground_y), _dim(s.prop, 0.7), s.thickness * k * 0.6)
    ops.rect((board[0] - 0.08 * k, table_y - 0.025 * k), (board[0] + 0.2 * k * f, table_y),
             (120, 170, 210))
    ops.ellipse(hold + np.array([0, 0.025 * k]), (0.06 * k, 0.03 * k), 0, s.prop2)
    blade = knife_hand + np.array([f * 0.02 * k, 0.09 * k])
    ops.line(knife_hand, blade, (220, 220, 220), max(2, s.thickness * k * 0.35))


def handstand_walking(ph: float, t: float, s: Scene, ops: Ops) -> None:
    b, k, f = ADULT, s.scale, s.facing
    x = _travel(s, t)
    arm = (b["upper_arm"] + b["forearm"]) * k
    neck = np.array([x, s.ground_y - arm * 0.97])
    sway = 6 * math.sin(ph * 0.5)
    j = {"neck": neck}
    j["pelvis"] = neck + _dir(180 + sway, f) * b["torso"] * k
    j["head"] = neck + _dir(-10, f) * (b["neck"] + b["head"]) * k * 0.9
    for side, sgn in (("n", 1), ("f", -1)):
        step = 14 * math.sin(ph) * sgn
        hand = np.array([x + f * math.sin(math.radians(step)) * arm, s.ground_y])
        j[f"hand_{side}"] = hand
        j[f"elbow_{side}"] = _ik(neck, hand, b["upper_arm"] * k, b["forearm"] * k, f)
        split = 180 + sway + sgn * (12 + 8 * math.sin(ph))
        _chain(j, side, j["pelvis"], split, b["thigh"] * k, split - sgn * 15, b["shin"] * k, f,
               "knee", "foot")
    draw_figure(ops, j, b, s, k)


#: class name -> (drawing function, cycles per second, travels along the ground)
ACTIONS = {
    "BabyCrawling": (baby_crawling, 0.9, True),
    "Biking": (biking, 1.2, True),
    "CuttingInKitchen": (cutting_in_kitchen, 2.2, False),
    "HandstandWalking": (handstand_walking, 1.0, True),
    "JumpingJack": (jumping_jack, 1.3, False),
    "BoxingPunchingBag": (boxing_punching_bag, 1.6, False),
    "PushUps": (push_ups, 0.8, False),
    "WalkingWithDog": (walking_with_dog, 1.0, True),
}
