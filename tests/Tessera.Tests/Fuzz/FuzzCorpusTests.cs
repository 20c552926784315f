using Tessera.Fuzz;
using Xunit;

namespace Tessera.Tests.Fuzz;

/// <summary>
/// Replays every fuzz harness's corpus (fuzz/corpus/TARGET: the seeds and every fixed finding)
/// through the same targets afl++ runs (fuzz/run.sh): each file must parse or be rejected with
/// one of the parser's documented exceptions. This is what CI runs instead of the fuzzer.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static readonly string Corpus = Path.Combine(AppContext.BaseDirectory, "fuzz-corpus");

    public static TheoryData<string> Targets() => new(FuzzTargets.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Targets))]
    public void EveryCorpusFileParsesOrIsRejectedWithADocumentedException(string name)
    {
        var target = FuzzTargets.Find(name);
        var files = Directory.GetFiles(Path.Combine(Corpus, name)).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(files);
        int accepted = 0;
        foreach (var file in files)
        {
            try
            {
                if (target.Accepts(File.ReadAllBytes(file))) accepted++;
            }
            catch (Exception e)
            {
                Assert.Fail($"{name}: {Path.GetFileName(file)} raised {e.GetType().FullName} (documented: {string.Join(", ", target.Documented.Select(t => t.Name))}): {e.Message}\n{e.StackTrace}");
            }
        }
        // Valid seeds must still parse, or the fuzzer starts from inputs the parser stopped understanding.
        Assert.True(accepted > 0, $"{name}: none of the {files.Count} corpus files parsed");
    }

    [Fact]
    public void EveryCorpusFolderHasATargetAndEveryTargetACorpus()
    {
        var folders = Directory.GetDirectories(Corpus).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(FuzzTargets.All.Select(t => t.Name).Order(StringComparer.Ordinal), folders);
        Assert.Throws<ArgumentException>(() => FuzzTargets.Find("jpeg"));
    }
}
