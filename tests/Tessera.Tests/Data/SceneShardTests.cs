using Tessera.Models.Data.World;
using Xunit;

namespace Tessera.Tests.Data;

public class SceneShardTests
{
    [Fact]
    public void ShardBatchesMatchGeneratedOnesUpToEightBitImages()
    {
        string folder = Path.Combine(Path.GetTempPath(), "tessera-shard-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "objects-det-000.tshard");
            var source = WorldSources.Get("objects-det");
            SceneShard.Write(path, source, "train", 4, 32, start: 10, count: 6);
            Assert.Single(Directory.GetFiles(folder));
            var shard = SceneShard.Read(path);
            Assert.Equal(6, shard.Count);
            using var cached = shard.Batch([0, 5, 2]);
            using var generated = WorldBatch.Create(source, "train", [10, 15, 12], 4, 32);
            Assert.Equal(generated.Classes.ToArray<long>(), cached.Classes.ToArray<long>());
            Assert.Equal(generated.Semantic.ToArray<long>(), cached.Semantic.ToArray<long>());
            Assert.Equal(generated.Depth.ToArray(), cached.Depth.ToArray());
            Assert.Equal(generated.Captions, cached.Captions);
            Assert.Equal(generated.MultiLabels.ToArray(), cached.MultiLabels.ToArray());
            for (int b = 0; b < 3; b++)
            {
                Assert.Equal(generated.Boxes[b].ToArray(), cached.Boxes[b].ToArray());
                Assert.Equal(generated.BoxLabels[b].ToArray<long>(), cached.BoxLabels[b].ToArray<long>());
            }
            var a = generated.Images.ToArray();
            var c = cached.Images.ToArray();
            float worst = a.Zip(c, (x, y) => MathF.Abs(x - y)).Max();
            Assert.True(worst <= 0.5f / 255f / 0.25f + 1e-5f, $"max |generated - cached| = {worst} (normalised units)");

            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^100]);
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => SceneShard.Read(path)).Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
