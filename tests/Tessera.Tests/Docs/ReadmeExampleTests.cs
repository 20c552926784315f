using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace Tessera.Tests.Docs;

/// <summary>
/// Issue 16 item 3: the README's library example is samples/Quickstart/Program.cs character for
/// character; that project is built with the tests (a project reference), and here it runs.
/// </summary>
public sealed partial class ReadmeExampleTests
{
    [Fact]
    public void ReadmeCodeBlockIsTheCompiledSample()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md")).ReplaceLineEndings("\n");
        var blocks = CSharpBlock().Matches(readme).Select(m => m.Groups[1].Value).ToList();
        Assert.True(blocks.Count == 1, $"README.md: expected exactly one ```csharp block (the compiled sample), found {blocks.Count}; put other examples in samples/ and check them here");
        string sample = File.ReadAllText(Path.Combine(root, "samples", "Quickstart", "Program.cs")).ReplaceLineEndings("\n");
        Assert.True(blocks[0] == sample, "README.md's ```csharp block differs from samples/Quickstart/Program.cs: copy the file into the README (or the README's edit into the file)");
    }

    [Fact]
    public void TheSampleTrainsEvaluatesSavesAndLoads()
    {
        var testBin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string dll = Path.Combine(RepositoryRoot(), "samples", "Quickstart", "bin", testBin.Parent!.Name, testBin.Name, "quickstart.dll");
        Assert.True(File.Exists(dll), $"{dll} not built (the test project references samples/Quickstart)");
        var info = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, output);
        Assert.Contains("fc1.weight [32, 2]", output, StringComparison.Ordinal);     // Shape prints as PyTorch's does
        Assert.Contains("fc2.bias [2]", output, StringComparison.Ordinal);
        double trained = Percent(output, "test accuracy"), restored = Percent(output, "restored accuracy");
        Assert.InRange(trained, 90, 100);
        Assert.Equal(trained, restored);                                            // Save + Load round trip
    }

    private static double Percent(string output, string label)
    {
        var match = Regex.Match(output, label + @" ([0-9.]+) ?%");
        Assert.True(match.Success, $"no '{label}' line in: {output}");
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "README.md")) && Directory.Exists(Path.Combine(dir.FullName, "samples")))
                return dir.FullName;
        throw new DirectoryNotFoundException("the repository root (README.md and samples/) is not above the test binaries");
    }

    [GeneratedRegex("```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
