using Xunit;

namespace Tessera.Tests.Cli;

/// <summary>
/// <c>tessera experiment --long</c>: refused with --quick, before anything is written. (Every registered
/// experiment now has a long scale, so the refusal for one without it cannot be reached from the CLI.)
/// </summary>
public sealed class CliExperimentScaleTests
{
    [Theory]
    [InlineData(new[] { "experiment", "intern", "--quick", "--long" }, "--quick and --long: expected at most one scale")]
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
