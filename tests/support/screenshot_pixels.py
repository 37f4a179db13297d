"""Reads a Chromium screenshot pixel by pixel where the page said its elements are, so
that a test checks what the screenshot shows and not only what the DOM holds: how far
an occupancy bar is filled, which colour a badge or a list item is drawn in.

The geometry comes from the browser script (CSS pixels of the document, and the device
pixel ratio of the screenshot); colours are "#rrggbb" as in the page's stylesheet.
"""

from PIL import Image


def rgb(hex_colour):
    h = hex_colour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def blend(colour, under, alpha):
    """colour drawn with opacity alpha over under (a card with opacity: .7)."""
    return tuple(round(alpha * c + (1 - alpha) * u) for c, u in zip(colour, under))


def near(a, b, tolerance):
    return max(abs(x - y) for x, y in zip(a, b)) <= tolerance


class Screenshot:
    def __init__(self, path, geometry):
        self.image = Image.open(path).convert("RGB")
        self.dpr = geometry["dpr"]

    def _pixels(self, box):
        d = self.dpr
        return (round(box["x"] * d), round(box["y"] * d), round((box["x"] + box["w"]) * d),
                round((box["y"] + box["h"]) * d))

    def bar_fill(self, box, colour, tolerance=12):
        """The filled share of a bar, read along its middle row: the pixels drawn in
        colour over the bar's width (the rounded ends sit above and below that row)."""
        x0, y0, x1, y1 = self._pixels(box)
        y = (y0 + y1) // 2
        filled = sum(1 for x in range(x0, x1) if near(self.image.getpixel((x, y)), colour, tolerance))
        return filled / (x1 - x0), x1 - x0

    def count(self, box, colour, tolerance=12):
        """How many pixels inside box are drawn in colour."""
        x0, y0, x1, y1 = self._pixels(box)
        return sum(1 for y in range(y0, y1) for x in range(x0, x1)
                   if near(self.image.getpixel((x, y)), colour, tolerance))
