"""The band chips' text meets WCAG AA contrast (4.5:1) on their backgrounds, read from app.css."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[2] / "static" / "css" / "app.css").read_text()


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    high, low = sorted([_luminance(a), _luminance(b)], reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("band", [1, 2, 3, 4])
def test_band_chip_text_is_readable(band: int) -> None:
    variables = dict(re.findall(r"--([a-z]+):(#[0-9a-fA-F]{6})", CSS))
    rule = re.search(rf"\.band-{band} \{{ background:(#[0-9a-fA-F]{{6}}); color:var\(--([a-z]+)\)", CSS)
    assert rule, f".band-{band} rule not found"
    background, name = rule.groups()
    assert _contrast(variables[name], background) >= 4.5
