"""Unit tests of compare.py's table logic (no PyTorch needed): python3 -m unittest discover -s tools/bench -p 'test_*.py'"""
import os
import sys
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402


def rounds(*ms, peak=100.0, params=None, images=None):
    rows = []
    for i, value in enumerate(ms):
        row = {"ms": value, "gflops": 0, "peak_mb": peak + i, "cpu_ms": value / 2}
        if params is not None:
            row["params"] = params
        if images is not None:
            row["images_per_s"] = images / value
        rows.append(row)
    return rows


class SummariseTests(unittest.TestCase):
    def test_medians_ratios_and_the_lower_ratio(self):
        ours = rounds(10.0, 30.0, 20.0, params=7, images=1000.0)
        theirs = {"2.6": rounds(25.0, 15.0, 30.0, params=7, images=1000.0), "1.13": rounds(40.0, 60.0, 50.0, peak=300.0, params=7, images=1000.0)}
        row = compare.summarise("train_step_x", ours, theirs, ["2.6", "1.13"])
        self.assertEqual(row["tessera_ms"], 20.0)
        self.assertAlmostEqual(row["2.6_ratio"], 25.0 / 20.0)
        self.assertAlmostEqual(row["1.13_ratio"], 50.0 / 20.0)
        self.assertAlmostEqual(row["ratio"], 1.25)          # the lower of the two counts
        self.assertEqual(row["1.13_peak_mb"], 302.0)        # the maximum over the rounds
        self.assertEqual((row["tessera_params"], row["2.6_params"]), (7, 7))

    def test_markdown_has_provenance_and_one_row_per_bench(self):
        row = compare.summarise("sgemm_256", rounds(1.0), {"2.6": rounds(2.0)}, ["2.6"])
        table = compare.markdown([row], ["2.6"], ["commit abc", "CPU: Test CPU"])
        lines = table.splitlines()
        self.assertEqual(lines[:2], ["- commit abc", "- CPU: Test CPU"])
        self.assertIn("| bench | Tessera ms | 2.6 ms | ratio vs 2.6 | ratio (lower) |", table)
        self.assertEqual(lines[-1].split(" | ")[:5], ["| sgemm_256", "1.00", "2.00", "2.00", "**2.00**"])
        self.assertNotIn("params", table)                   # no train step, no parameter column


class PeerTests(unittest.TestCase):
    def test_pytorch_113_gets_its_environment_unless_set(self):
        with mock.patch.dict(os.environ, {"OPENBLAS_CORETYPE": "Zen"}, clear=False):
            argv, env = compare.peer_command("1.13")
        self.assertEqual(argv[0], "/usr/bin/python3")
        self.assertEqual(env["OPENBLAS_CORETYPE"], "Zen")
        self.assertIn("mmap_threshold", env["GLIBC_TUNABLES"])

    def test_unknown_peer_is_a_clear_error(self):
        with self.assertRaises(SystemExit) as raised:
            compare.peer_command("3.0")
        self.assertIn("expected a comma-separated list of 2.6 and 1.13, found '3.0'", str(raised.exception))


if __name__ == "__main__":
    unittest.main()
