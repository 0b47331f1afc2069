"""Geometry of the monthly commission chart, for the template to draw as inline SVG.

Pixel positions are integers scaled with integer arithmetic from minor units, so
no float comes near an amount even for drawing; labels use the exact formatter.
"""

from __future__ import annotations

from dataclasses import dataclass

from connector.money import format_money
from connector.report.model import MonthPoint

WIDTH = 720
HEIGHT = 240
LEFT = 16
RIGHT = 16
TOP = 40
BOTTOM = 56


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    label: str  # month
    value: str  # formatted amount
    negative: bool
    value_y: int  # where the amount is written: above a bar, below a negative one


@dataclass(frozen=True)
class Chart:
    currency: str
    width: int
    height: int
    zero_y: int
    bars: list[Bar]
    max_label: str
    min_label: str


def build_chart(currency: str, points: list[MonthPoint]) -> Chart:
    plot_height = HEIGHT - TOP - BOTTOM
    highest = max([0, *(p.amount_minor for p in points)])
    lowest = min([0, *(p.amount_minor for p in points)])
    span = (highest - lowest) or 1
    zero_y = TOP + plot_height * highest // span
    slot = (WIDTH - LEFT - RIGHT) // max(1, len(points))
    bar_width = min(64, max(4, slot * 7 // 10))
    bars: list[Bar] = []
    for i, p in enumerate(points):
        height = plot_height * abs(p.amount_minor) // span
        if p.amount_minor and height == 0:
            height = 1  # a non-zero month stays visible
        x = LEFT + i * slot + (slot - bar_width) // 2
        y = zero_y - height if p.amount_minor >= 0 else zero_y
        value_y = y + height + 12 if p.amount_minor < 0 else y - 4
        bars.append(
            Bar(x, y, bar_width, height, p.month, format_money(p.amount_minor, currency), p.amount_minor < 0, value_y)
        )
    return Chart(currency, WIDTH, HEIGHT, zero_y, bars, format_money(highest, currency), format_money(lowest, currency))
