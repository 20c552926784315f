#!/usr/bin/python3
"""Regenerates every golden fixture: /usr/bin/python3 tools/goldens/generate.py [family ...]

Each gen_<family>.py module defines build() -> Family. Fixtures land in tests/goldens/ and are
committed, so the C# tests need no PyTorch. Deterministic: same PyTorch, same bytes.
"""
import importlib
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
torch.set_num_threads(1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    families = sorted(f[4:-3] for f in os.listdir(here) if f.startswith("gen_") and f.endswith(".py"))
    wanted = sys.argv[1:] or families
    unknown = [w for w in wanted if w not in families]
    if unknown:
        sys.exit(f"unknown families {unknown}; have {families}")
    print(f"torch {torch.__version__}")
    for name in wanted:
        module = importlib.import_module(f"gen_{name}")
        module.build().write()


if __name__ == "__main__":
    main()
