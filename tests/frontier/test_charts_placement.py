"""The gap chart's label placement scores all candidate offsets at once (``_candidate_costs``).

These tests hold it to the per-candidate loop it replaced, kept here as the reference: the
``_shifted`` box of each candidate, costed by ``Bbox``/``Path`` objects one at a time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from matplotlib.path import Path
from matplotlib.transforms import Bbox

from frontier import charts


def _reference_cost(
    candidate: tuple[float, float, str],
    first: Bbox,
    anchor: Any,
    points: float,
    frame: Bbox,
    boxes: Any,
    lines: Sequence[Path],
) -> float:
    """One candidate's cost as the loop computed it (box, padding, lines, leader line)."""
    box = charts._shifted(first, anchor, points, candidate)
    padded = box.expanded(1.08, 1.15)
    inside = frame.containsx(box.x0) and frame.containsx(box.x1)
    inside = inside and frame.containsy(box.y0) and frame.containsy(box.y1)
    x0, x1 = sorted((padded.x0, padded.x1))
    y0, y1 = sorted((padded.y0, padded.y1))
    hit = (x0 <= boxes[:, 2]) & (boxes[:, 0] <= x1) & (y0 <= boxes[:, 3]) & (boxes[:, 1] <= y1)
    crossings = sum(line.intersects_bbox(padded, filled=False) for line in lines)
    cost = (0 if inside else charts._OUTSIDE_COST) + charts._OVERLAP_COST * int(hit.sum())
    cost += crossings
    _, dy, ha = candidate
    if abs(dy) > charts._TIERS[0]:
        start = (box.x0 + charts._RELPOS[ha] * box.width, box.y0 if dy > 0 else box.y1)
        stop = (start[0] + 0.8 * (anchor[0] - start[0]), start[1] + 0.8 * (anchor[1] - start[1]))
        cost += charts._OVERLAP_COST * _reference_segment_hits(start, stop, boxes)
    return cost


def _reference_segment_hits(start: Any, stop: Any, boxes: Any) -> int:
    (ax_, ay), (bx, by) = start, stop
    low, high = np.zeros(len(boxes)), np.ones(len(boxes))
    ok = np.ones(len(boxes), dtype=bool)
    for begin, delta, lo, hi in (
        (ax_, bx - ax_, boxes[:, 0], boxes[:, 2]),
        (ay, by - ay, boxes[:, 1], boxes[:, 3]),
    ):
        if delta == 0:
            ok &= (lo <= begin) & (begin <= hi)
            continue
        t1, t2 = (lo - begin) / delta, (hi - begin) / delta
        low = np.maximum(low, np.minimum(t1, t2))
        high = np.minimum(high, np.maximum(t1, t2))
    return int((ok & (low <= high)).sum())


def _step_line(rng: random.Random, frame: Bbox) -> Path:
    xs = sorted(rng.uniform(frame.x0, frame.x1) for _ in range(rng.randint(1, 12)))
    ys = [rng.uniform(frame.y0, frame.y1) for _ in xs]
    vertices = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if i:
            vertices.append((x, ys[i - 1]))
        vertices.append((x, y))
    return Path(vertices)


@pytest.mark.parametrize("seed", range(40))
def test_candidate_costs_match_the_per_candidate_loop(seed: int) -> None:
    charts._matplotlib()
    rng = random.Random(seed)
    frame = Bbox.from_extents(100, 80, 1080, 560)
    # Obstacles on a coarse grid, so that edges often coincide exactly with a candidate's.
    obstacles = []
    for _ in range(rng.randint(0, 30)):
        x, y = rng.randrange(60, 1100, 5), rng.randrange(40, 600, 5)
        obstacles.append(Bbox.from_bounds(x, y, rng.choice((0, 10, 60, 140)), rng.choice((0, 10))))
    lines = [_step_line(rng, frame) for _ in range(2)] + [Path([(0.0, 0.0)])]
    boxes = charts._extents(obstacles)
    first = Bbox.from_bounds(0, 0, rng.uniform(20, 200), rng.uniform(10, 20))
    anchor = np.array([rng.uniform(60, 1120), rng.uniform(40, 600)])
    for side in (1, -1):
        candidates = charts._candidates(side, charts._HEADLINE_TIERS)
        costs = charts._candidate_costs(candidates, first, anchor, 150 / 72, frame, boxes, lines)
        expected = [
            _reference_cost(c, first, anchor, 150 / 72, frame, boxes, lines) for c in candidates
        ]
        assert costs.tolist() == expected
