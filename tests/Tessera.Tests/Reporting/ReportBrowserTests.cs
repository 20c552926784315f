using System.Diagnostics;
using System.Text.RegularExpressions;
using Tessera.Models.Data.Images;
using Tessera.Models.Recipes;
using Tessera.Models.Training;
using Tessera.Tests.Training;
using Xunit;

namespace Tessera.Tests.Reporting;

/// <summary>
/// A run's report.html opened in a real browser (Debian's headless Chromium, installed by .ci/run):
/// every image on the page loads, and a screenshot of it is not blank. Skipped, saying why, only
/// where /usr/bin/chromium is absent.
/// </summary>
public sealed partial class ReportBrowserTests
{
    private const string Recipe = """
        {
          "name": "report-test", "steps": 4, "batch": 4, "size": 32, "seed": 3, "checkpoint_every": 2, "eval_batches": 1,
          "model": { "type": "resnet-narrow", "width": 8, "depth": 1, "head_width": 16 },
          "optimizer": { "type": "adamw", "lr": 0.003 },
          "tasks": [
            { "name": "shapes", "source": "shapes-cls", "head": "classification" },
            { "name": "objects", "source": "objects-det", "head": "detection" },
            { "name": "parts", "source": "parts-seg", "head": "segmentation" }
          ]
        }
        """;

    private static string? Chromium => File.Exists("/usr/bin/chromium") ? "/usr/bin/chromium" : null;

    [RequiresChromiumFact]
    public void ReportLoadsEveryImageAndRendersInChromium()
    {
        string folder = TrainingFixtures.TempFolder();
        var recipe = RecipeLoader.Parse(Recipe, "report-test.json");
        var trainer = RecipeCatalog.Build(recipe).CreateTrainer();
        new TrainingRun(trainer, recipe.Name, RecipeLoader.ToJson(recipe), new RunSettings(folder, recipe.Steps, recipe.CheckpointEvery)).Run();
        string report = Path.Combine(folder, "report.html");
        string html = File.ReadAllText(report);
        foreach (var image in new[] { "loss.png", "metrics.png", "samples-shapes.png", "samples-objects.png", "samples-parts.png" })
            Assert.Contains($"src=\"{image}\"", html, StringComparison.Ordinal);

        string dom = RunChromium(folder, "--dump-dom", new Uri(report).AbsoluteUri);
        var loaded = ImagesAttribute().Match(dom);
        Assert.True(loaded.Success, $"report.html did not record its images (no data-images on <body>); the DOM starts: {dom[..Math.Min(400, dom.Length)]}");
        Assert.Equal(loaded.Groups[2].Value, loaded.Groups[1].Value);
        Assert.Equal("5", loaded.Groups[2].Value);

        string screenshot = Path.Combine(folder, "report-screenshot.png");
        RunChromium(folder, $"--screenshot={screenshot}", "--window-size=1280,2000", new Uri(report).AbsoluteUri);
        var shot = ImageCodec.Read(screenshot);
        int pixels = shot.Width * shot.Height, inked = 0;
        var colours = new HashSet<int>();
        for (int p = 0; p < pixels; p++)
        {
            int r = shot.Pixels[3 * p], g = shot.Pixels[3 * p + 1], b = shot.Pixels[3 * p + 2];
            if (r + g + b < 3 * 235) inked++;
            colours.Add((r << 16) | (g << 8) | b);
        }
        Assert.True(inked > pixels / 50, $"the screenshot is nearly blank: {inked} of {pixels} pixels are not white");
        Assert.True(colours.Count > 200, $"the screenshot has only {colours.Count} colours: the plots and sample images did not render");
    }

    private static string RunChromium(string folder, params string[] args)
    {
        var info = new ProcessStartInfo(Chromium!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder };
        // The flags a root, offline, GPU-less machine needs : no sandbox, no background network, a fresh profile.
        foreach (var flag in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                                     "--disable-component-update", "--disable-sync", "--allow-file-access-from-files", "--virtual-time-budget=5000",
                                     $"--user-data-dir={Path.Combine(folder, "chromium-profile")}" })
            info.ArgumentList.Add(flag);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(60_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"chromium {string.Join(' ', args)} did not finish in 60 s; stderr: {error.Result}");
        }
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {error.Result}");
        return output;
    }

    [GeneratedRegex("data-images=\"(\\d+)/(\\d+)\"")]
    private static partial Regex ImagesAttribute();
}

/// <summary>A fact that needs Debian's Chromium; skipped with the install command where it is absent (CI installs it).</summary>
public sealed class RequiresChromiumFactAttribute : FactAttribute
{
    public RequiresChromiumFactAttribute()
    {
        if (!File.Exists("/usr/bin/chromium"))
            Skip = "Chromium is not installed (/usr/bin/chromium missing): apt-get install -y chromium, as .ci/run does, to run the browser check of report.html";
    }
}
