using Tessera.Models.Training;
using Xunit;

namespace Tessera.Tests.Training;

/// <summary>A run folder is never overwritten by accident, and never written by two processes at once.</summary>
public sealed class RunFolderTests
{
    [Fact]
    public void AFolderThatHoldsARunIsRefusedUnlessResumedOrOverwritten()
    {
        string folder = Path.Combine(TrainingFixtures.TempFolder(), "run");
        using (RunFolder.Claim(folder, RunFolderMode.Fresh))
            File.WriteAllText(Path.Combine(folder, "log.jsonl"), "{}\n");
        var error = Assert.Throws<IOException>(() => RunFolder.Claim(folder, RunFolderMode.Fresh));
        Assert.Contains("already holds a run (log.jsonl)", error.Message, StringComparison.Ordinal);
        Assert.Contains("--resume", error.Message, StringComparison.Ordinal);
        Assert.Contains("--overwrite", error.Message, StringComparison.Ordinal);
        using (RunFolder.Claim(folder, RunFolderMode.Resume))
            Assert.True(File.Exists(Path.Combine(folder, "log.jsonl")));
        using (RunFolder.Claim(folder, RunFolderMode.Overwrite))
            Assert.False(File.Exists(Path.Combine(folder, "log.jsonl")));
    }

    [Fact]
    public void ASecondClaimWhileTheFirstIsHeldIsRefusedAndTheLockGoesWithTheClaim()
    {
        string folder = Path.Combine(TrainingFixtures.TempFolder(), "busy");
        using (RunFolder.Claim(folder, RunFolderMode.Fresh))
        {
            var error = Assert.Throws<IOException>(() => RunFolder.Claim(folder, RunFolderMode.Resume));
            Assert.Contains("in use by another Tessera process (pid", error.Message, StringComparison.Ordinal);
        }
        // Released: the folder (created by the claim, left empty) is gone, and a new claim succeeds.
        Assert.False(Directory.Exists(folder));
        using (RunFolder.Claim(folder, RunFolderMode.Fresh))
            Assert.True(Directory.Exists(folder));
    }
}
