using System.Diagnostics;
using Tessera.Models.Training;
using Xunit;

namespace Tessera.Tests.Training;

/// <summary>
/// The CLI end to end as a child process: a run killed with SIGKILL right after its first
/// checkpoint, then resumed with --resume, ends with the same weights (byte for byte) as an
/// uninterrupted run; and bad input exits non-zero with a clear message and no partial files.
/// </summary>
public sealed class KillResumeTests
{
    private const string Recipe = """
        {
          "name": "kill-test",
          "steps": 120,
          "batch": 8,
          "size": 12,
          "devices": 2,
          "checkpoint_every": 10,
          "eval_batches": 1,
          "model": { "type": "small-cnn", "width": 4, "batch_norm": true },
          "optimizer": { "type": "adamw", "lr": 0.01 },
          "tasks": [
            { "name": "strokes", "source": "shapes" },
            { "name": "bars", "source": "shapes-bars", "size": 16, "batch": 4 }
          ]
        }
        """;

    [Fact]
    public void KilledRunResumesToTheSameFinalWeights()
    {
        string folder = TrainingFixtures.TempFolder();
        string recipe = Path.Combine(folder, "kill-test.json");
        File.WriteAllText(recipe, Recipe);
        string straight = Path.Combine(folder, "straight"), killed = Path.Combine(folder, "killed");

        var (code, output) = Tessera(folder, "train", recipe, "--out", straight, "--quiet", "--threads", "1");
        Assert.True(code == 0, output);
        Assert.StartsWith("{", output.Trim().Split('\n')[^1], StringComparison.Ordinal);
        // A second run into a folder that holds a run is refused and leaves the first run intact.
        var before = File.ReadAllBytes(Path.Combine(straight, "log.jsonl"));
        (code, output) = Tessera(folder, "train", recipe, "--out", straight, "--steps", "5", "--quiet", "--threads", "1");
        Assert.True(code != 0, output);
        Assert.Contains("already holds a run", output, StringComparison.Ordinal);
        Assert.Contains("--resume", output, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(straight, "log.jsonl")));

        var checkpoint = Path.Combine(killed, "checkpoint.safetensors");
        using (var child = Start(folder, "train", recipe, "--out", killed, "--quiet", "--threads", "1"))
        {
            var clock = Stopwatch.StartNew();
            while (!File.Exists(checkpoint) && !child.HasExited && clock.Elapsed.TotalSeconds < 60) Thread.Sleep(5);
            Assert.False(child.HasExited, "the run finished before it could be killed");
            child.Kill(entireProcessTree: true); // SIGKILL on Unix: no cleanup runs
            child.WaitForExit();
        }
        long killedAt = Checkpoint.ReadStep(checkpoint);
        Assert.InRange(killedAt, 10, 110);
        Assert.False(File.Exists(Path.Combine(killed, "model.safetensors")));

        (code, output) = Tessera(folder, "train", recipe, "--out", killed, "--resume", "--quiet", "--threads", "1");
        Assert.True(code == 0, output);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "model.safetensors")), File.ReadAllBytes(Path.Combine(killed, "model.safetensors")));
        Assert.Equal(120, RunLog.Read(Path.Combine(killed, "log.jsonl")).Count);

        // What 'tessera eval' runs: the checkpoint's own recipe, rebuilt and evaluated.
        var evaluation = global::Tessera.Models.Recipes.CheckpointEvaluation.Run(checkpoint, Path.Combine(folder, "eval"), evalBatches: 1);
        Assert.Equal(120L, evaluation["steps"]);
        Assert.Contains("strokes/top1", evaluation.Keys);
        Assert.True(File.Exists(Path.Combine(folder, "eval", "metrics.json")));
    }

    [Fact]
    public void BadInputExitsNonZeroWithAClearMessageAndNoFiles()
    {
        string folder = TrainingFixtures.TempFolder();
        string bad = Path.Combine(folder, "bad.json");
        File.WriteAllText(bad, "{\n  \"name\": \"bad\",\n  \"steps\": 3,,\n}");
        string corrupt = Path.Combine(folder, "corrupt.safetensors");
        File.WriteAllBytes(corrupt, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        string good = Path.Combine(folder, "good.json");
        File.WriteAllText(good, Recipe);
        var cases = new (string[] Args, string Message)[]
        {
            (["train", bad, "--out", Path.Combine(folder, "o1")], "line 3"),
            (["train", good, "optimizer.speed=3", "--out", Path.Combine(folder, "o2")], "unknown recipe key 'optimizer.speed'"),
            (["train", good, "--device", "tpu", "--out", Path.Combine(folder, "o3")], "cuda-emu"),
            (["train", good, "--resume", corrupt, "--out", Path.Combine(folder, "o4")], "corrupt"),
            (["train", good, "--resume", "--out", Path.Combine(folder, "o5")], "no file"),
            // No MNIST under this working folder: the run fails at its first batch and leaves no empty log (or folder).
            (["train", "mnist", "--steps", "2", "--out", Path.Combine(folder, "o6")], "dataset mnist not found"),
        };
        foreach (var (args, message) in cases)
        {
            var (code, output) = Tessera(folder, args);
            Assert.True(code != 0, $"{string.Join(' ', args)} exited 0: {output}");
            Assert.Contains(message, output, StringComparison.Ordinal);
        }
        Assert.Equal(new[] { "bad.json", "corrupt.safetensors", "good.json" }, Directory.GetFileSystemEntries(folder).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void ErrorsGoToStderrAsOneLineWithoutColourCodes()
    {
        string folder = TrainingFixtures.TempFolder();
        string longName = Path.Combine(folder, new string('x', 120) + ".json");
        using var process = Start(folder, "train", longName, "--out", Path.Combine(folder, "o"));
        string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.NotEqual(0, process.ExitCode);
        Assert.Equal("", stdout);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain('\u001b', stderr);
        Assert.Single(stderr.TrimEnd().Split('\n')); // not hard-wrapped, however long the path
        Assert.Contains(new string('x', 120), stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void BadOptionValuesAreRejectedInWordsNotTypeNames()
    {
        string folder = TrainingFixtures.TempFolder();
        var cases = new (string[] Args, string Message)[]
        {
            (["train", "strokes", "--steps", "five"], "'five' for option '--steps' as a whole number"),
            (["train", "strokes", "--threads", "0"], "--threads: expected at least 1, found 0"),
            (["train", "strokes", "--threads", "-2"], "--threads: expected at least 1, found -2"),
            (["eval", "x.safetensors", "--batches", "0"], "--batches: expected at least 1, found 0"),
            (["train", "strokes", "--stesp", "5"], "unknown option '--stesp'"),
        };
        foreach (var (args, message) in cases)
        {
            using var process = Start(folder, args);
            string stdout = process.StandardOutput.ReadToEnd(), stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode != 0, $"{string.Join(' ', args)} exited 0");
            Assert.Contains(message, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("System.", stderr, StringComparison.Ordinal);
            Assert.Equal("", stdout);
        }
        Assert.Empty(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void CheckpointVerifyExitsByWhatItFinds()
    {
        string folder = TrainingFixtures.TempFolder();
        string good = Path.Combine(folder, "good.safetensors"), bad = Path.Combine(folder, "bad.safetensors"), plain = Path.Combine(folder, "plain.safetensors");
        var entry = new global::Tessera.Engine.Serialization.SafeTensorEntry(global::Tessera.Engine.DType.Float32, [4], new byte[16]);
        global::Tessera.Engine.Serialization.SafeTensors.Write(good, new Dictionary<string, global::Tessera.Engine.Serialization.SafeTensorEntry> { ["w"] = entry });
        var bytes = File.ReadAllBytes(good);
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(bad, bytes);
        File.Copy(Path.Combine(AppContext.BaseDirectory, "goldens", "optim.safetensors"), plain);
        foreach (var (path, code, text) in new[] { (good, 0, "ok: 1 tensors verified"), (bad, 1, "corrupt: 1 of 1 tensors"), (plain, 3, "could not verify") })
        {
            var (exit, output) = Tessera(folder, "checkpoint", "verify", path);
            Assert.True(exit == code, $"{path}: exit {exit}, expected {code}: {output}");
            Assert.Contains(text, output, StringComparison.Ordinal);
        }
    }

    private static (int Code, string Output) Tessera(string workingFolder, params string[] args) => TesseraProcess.RunCombined(workingFolder, args);

    private static Process Start(string workingFolder, params string[] args) => TesseraProcess.Start(workingFolder, args);
}
