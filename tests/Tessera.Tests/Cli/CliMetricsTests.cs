using System.Text.Json.Nodes;
using Tessera.Tests.Training;
using Xunit;

namespace Tessera.Tests.Cli;

/// <summary>Issue 16 item 6: metrics.json keys and seconds, through the built command line.</summary>
public sealed class CliMetricsTests
{
    [Fact]
    public void MetricsKeysMatchBetweenTrainAndEvalAndSecondsAccumulateOverResume()
    {
        string folder = TrainingFixtures.TempFolder();
        string run = Path.Combine(folder, "run");
        var first = Train(folder, run, 10);
        Assert.Contains("train_loss", Keys(first));
        Assert.Contains("top1", Keys(first));
        Assert.Contains("test_loss", Keys(first));
        Assert.DoesNotContain("loss", Keys(first));
        double firstSeconds = Seconds(first);
        Assert.True(firstSeconds > 0, $"seconds {firstSeconds}");

        // One more step: seconds counts the first 10 steps too, not only the resumed one.
        var resumed = Train(folder, run, 11, "--resume");
        Assert.True(Seconds(resumed) >= firstSeconds, $"resumed seconds {Seconds(resumed)} < first run's {firstSeconds}");
        // Resuming a finished run trains nothing and keeps its seconds and train loss.
        var again = Train(folder, run, 11, "--resume");
        Assert.InRange(Seconds(again), Seconds(resumed), Seconds(resumed) + 0.5);
        Assert.Equal(resumed["train_loss"]!.GetValue<double>(), again["train_loss"]!.GetValue<double>());

        var (code, stdout, stderr) = TesseraProcess.Run(folder, "eval", Path.Combine(run, "checkpoint.safetensors"), "--batches", "1", "--out", Path.Combine(folder, "eval"));
        Assert.True(code == 0, stderr);
        var evaluation = (JsonObject)JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        Assert.Equal(again.Select(kv => kv.Key).Where(k => k != "train_loss").Order(), evaluation.Select(kv => kv.Key).Order());
    }

    private static JsonObject Train(string folder, string run, int steps, params string[] extra)
    {
        var (code, stdout, stderr) = TesseraProcess.Run(folder, ["train", "strokes", "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture), "--batch", "16", "eval_batches=2", "--out", run, "--quiet", "--threads", "1", .. extra]);
        Assert.True(code == 0, stderr);
        var printed = (JsonObject)JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        var written = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!;
        Assert.True(JsonNode.DeepEquals(printed, written), $"printed {printed.ToJsonString()} but wrote {written.ToJsonString()}");
        return written;
    }

    private static List<string> Keys(JsonObject metrics) => metrics.Select(kv => kv.Key).ToList();

    private static double Seconds(JsonObject metrics) => metrics["seconds"]!.GetValue<double>();
}
