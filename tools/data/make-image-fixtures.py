#!/usr/bin/python3
"""Writes the image-decoder fixtures in tests/data/images with Pillow (an independent encoder), for
the colour types a user's folder holds besides 8-bit RGB. Pixel formulas are recomputed by
ImageCodecTests: grey16 (x, y) = ((x*29 + y*53) % 256) * 257 (16-bit, so the 8-bit value is the
formula); palette (x, y) = PALETTE[(x + y) % 3]; the JPEGs are flat colour halves (left, right) so
lossy decoding stays within a few levels: CMYK left (0, 255, 255, 0) = red, right (255, 0, 255, 0)
= green; grey left 40, right 200."""
import os
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = os.path.join(root, "tests", "data", "images")
os.makedirs(out, exist_ok=True)

grey16 = Image.new("I;16", (8, 4))
grey16.putdata([((x * 29 + y * 53) % 256) * 257 for y in range(4) for x in range(8)])
grey16.save(os.path.join(out, "pil-grey16-8x4.png"))

palette = Image.new("P", (6, 4))
palette.putpalette([255, 0, 0, 0, 0, 255, 250, 250, 10] + [0] * (256 * 3 - 9))
palette.putdata([(x + y) % 3 for y in range(4) for x in range(6)])
palette.save(os.path.join(out, "pil-palette-6x4.png"))

cmyk = Image.new("CMYK", (32, 16))
cmyk.putdata([(0, 255, 255, 0) if x < 16 else (255, 0, 255, 0) for y in range(16) for x in range(32)])
cmyk.save(os.path.join(out, "pil-cmyk-32x16.jpg"), quality=95)

grey = Image.new("L", (32, 16))
grey.putdata([40 if x < 16 else 200 for y in range(16) for x in range(32)])
grey.save(os.path.join(out, "pil-grey-32x16.jpg"), quality=95)
print("wrote", sorted(os.listdir(out)))
