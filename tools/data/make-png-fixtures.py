#!/usr/bin/python3
"""Writes the PNG decoder fixtures in tests/data/png with Pillow (an independent encoder).
Pixel values follow formulas the C# test recomputes: RGBA (x, y) = (x*40+y*3, 255-x*20, y*60, 128+x+y);
grey (x, y) = (x*x*7 + y*31) % 256; RGB (x, y) = ((x*37+y*11) % 256, (x*y*5) % 256, (200 - x - y*9) % 256).
Prints the row filter types Pillow chose, so the fixtures are known to exercise several filters."""
import os, zlib
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
out = os.path.join(root, "tests", "data", "png")
os.makedirs(out, exist_ok=True)

def filters(path, bpp, width):
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big"); kind = data[pos + 4:pos + 8]
        if kind == b"IDAT": idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw = zlib.decompress(idat); stride = width * bpp + 1
    return [raw[i] for i in range(0, len(raw), stride)]

rgba = Image.new("RGBA", (7, 6))
rgba.putdata([((x * 40 + y * 3) % 256, 255 - x * 20, y * 60 % 256, 128 + x + y) for y in range(6) for x in range(7)])
grey = Image.new("L", (9, 5))
grey.putdata([(x * x * 7 + y * 31) % 256 for y in range(5) for x in range(9)])
rgb = Image.new("RGB", (33, 17))
rgb.putdata([((x * 37 + y * 11) % 256, (x * y * 5) % 256, (200 - x - y * 9) % 256) for y in range(17) for x in range(33)])
for name, image, bpp in [("pil-rgba-7x6.png", rgba, 4), ("pil-grey-9x5.png", grey, 1), ("pil-rgb-33x17.png", rgb, 3)]:
    path = os.path.join(out, name)
    image.save(path, optimize=True)
    print(name, "row filters:", filters(path, bpp, image.size[0]))
