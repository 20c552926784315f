using System.Text.Json.Nodes;
using Tessera.Tests.Training;
using Xunit;

namespace Tessera.Tests.Cli;

/// <summary>Issue 16 item 8: tessera probe takes a training checkpoint and extracts features itself; wrong input says what it expected.</summary>
public sealed class CliProbeTests
{
    [Fact]
    public void ProbeExtractsFeaturesFromACheckpointAndExplainsWrongInput()
    {
        string folder = TrainingFixtures.TempFolder();
        string run = Path.Combine(folder, "run"), strokes = Path.Combine(folder, "strokes");
        File.WriteAllText(Path.Combine(folder, "world.json"), """
            { "name": "world", "steps": 2, "batch": 4, "size": 32, "eval_batches": 1,
              "model": { "type": "small-cnn", "width": 4 },
              "tasks": [ { "name": "shapes", "source": "shapes-cls", "head": "classification" } ] }
            """);
        var (code, _, stderr) = TesseraProcess.Run(folder, "train", "world.json", "--out", run, "--quiet", "--threads", "1");
        Assert.True(code == 0, stderr);

        string[] small = ["--train-images", "60", "--test-images", "40", "--grid", "2", "--max-iter", "20", "--out", Path.Combine(folder, "probe")];
        (code, var stdout, stderr) = TesseraProcess.Run(folder, ["probe", Path.Combine(run, "checkpoint.safetensors"), "--suite", "down-shapes", .. small]);
        Assert.True(code == 0, stderr);
        var metrics = (JsonObject)JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        Assert.InRange(metrics["test_top1"]!.GetValue<double>(), 0.0, 1.0);
        Assert.True(File.Exists(Path.Combine(folder, "probe", "metrics.json")));

        // Weights alone (model.safetensors) are neither a features file nor a checkpoint: say what was expected, briefly.
        (code, stdout, stderr) = TesseraProcess.Run(folder, ["probe", Path.Combine(run, "model.safetensors"), .. small]);
        Assert.NotEqual(0, code);
        Assert.Equal("", stdout);
        Assert.Contains("expected a features file", stderr, StringComparison.Ordinal);
        Assert.Contains("training checkpoint", stderr, StringComparison.Ordinal);
        Assert.True(stderr.Length < 600, stderr);

        (code, _, stderr) = TesseraProcess.Run(folder, ["probe", Path.Combine(run, "checkpoint.safetensors"), "--suite", "down-seg", .. small]);
        Assert.NotEqual(0, code);
        Assert.Contains("is a segmentation suite; the linear probe needs a classification suite (", stderr, StringComparison.Ordinal);

        // A grey-scale model (strokes) cannot read the world's RGB suites: said in words.
        (code, _, stderr) = TesseraProcess.Run(folder, "train", "strokes", "--steps", "1", "--batch", "4", "eval_batches=1", "--out", strokes, "--quiet", "--threads", "1");
        Assert.True(code == 0, stderr);
        (code, _, stderr) = TesseraProcess.Run(folder, ["probe", Path.Combine(strokes, "checkpoint.safetensors"), .. small]);
        Assert.NotEqual(0, code);
        Assert.Contains("does not take down-shapes's RGB images", stderr, StringComparison.Ordinal);
    }
}
