using Xunit;

namespace Tessera.Tests.Cli;

/// <summary><c>tessera experiment --long</c>: refused with --quick, and for an experiment without a long scale, before anything is written.</summary>
public sealed class CliExperimentScaleTests
{
    [Theory]
    [InlineData(new[] { "experiment", "intern", "--quick", "--long" }, "--quick and --long: expected at most one scale")]
    [InlineData(new[] { "experiment", "xlearner", "--long" }, "--long: experiment 'xlearner' has no long scale; experiments with one: intern, gppf, hvp-mtl, eva")]
    public void AScaleThatCannotRunIsRefusedInWords(string[] args, string expected)
    {
        string folder = Path.Combine(Path.GetTempPath(), "tessera-scale-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var (code, stdout, stderr) = TesseraProcess.Run(folder, [.. args, "--out", Path.Combine(folder, "out")]);
            Assert.NotEqual(0, code);
            Assert.Single(stderr.TrimEnd().Split('\n'));
            Assert.Equal("", stdout);
            Assert.Contains(expected, stderr, StringComparison.Ordinal);
            Assert.False(Directory.Exists(Path.Combine(folder, "out")));
            Assert.False(Directory.Exists(Path.Combine(folder, "docs")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
