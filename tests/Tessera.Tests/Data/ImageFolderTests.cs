using System.Buffers.Binary;
using System.Text.Json;
using Tessera.Engine.Random;
using Tessera.Models.Data.Folder;
using Tessera.Models.Data.Images;
using Tessera.Models.Training;
using Tessera.Tests.Training;
using Xunit;

namespace Tessera.Tests.Data;

public class ImageFolderTests
{
    [Fact]
    public void FlatLayoutHoldsOutTenPercentPerClassStably()
    {
        string root = ImageFolderFixture.Create(TrainingFixtures.TempFolder(), perClass: 20);
        File.WriteAllText(Path.Combine(root, "lime", "README.txt"), "not an image");
        var index = ImageFolderIndex.Scan(root);
        Assert.Equal(ImageFolderFixture.ClassNames, index.Classes);
        Assert.True(index.ValidationIsHeldOut);
        Assert.Equal(3 * 18, index.Train.Count);
        Assert.Equal(3 * 2, index.Validation.Count);
        Assert.Single(index.NonImageFiles);
        Assert.Empty(index.Train.Select(i => i.Path).Intersect(index.Validation.Select(i => i.Path)));
        // Adding a file leaves every other file's split alone (held out by hash, not by position).
        File.Copy(Path.Combine(root, "plum", "img000.jpg"), Path.Combine(root, "plum", "zzz-new.jpg"));
        var again = ImageFolderIndex.Scan(root);
        Assert.Equal(index.Validation.Where(i => i.Label != 2).Select(i => i.Path), again.Validation.Where(i => i.Label != 2).Select(i => i.Path));
    }

    [Fact]
    public void TrainAndValFoldersAreUsedAsGiven()
    {
        string root = ImageFolderFixture.Create(TrainingFixtures.TempFolder(), perClass: 6, splitFolders: true);
        var index = ImageFolderIndex.Scan(root);
        Assert.False(index.ValidationIsHeldOut);
        Assert.Equal((18, 6), (index.Train.Count, index.Validation.Count));
        Assert.All(index.Validation, item => Assert.Contains($"{Path.DirectorySeparatorChar}val{Path.DirectorySeparatorChar}", item.Path, StringComparison.Ordinal));
        Directory.CreateDirectory(Path.Combine(root, "val", "kiwi"));
        Assert.Contains("no train folder", Assert.Throws<InvalidDataException>(() => ImageFolderIndex.Scan(root)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadFoldersAreClearErrors()
    {
        string root = TrainingFixtures.TempFolder();
        Assert.Contains("does not exist", Assert.Throws<DirectoryNotFoundException>(() => ImageFolderIndex.Scan(Path.Combine(root, "missing"))).Message, StringComparison.Ordinal);
        string file = Path.Combine(root, "file.jpg");
        File.WriteAllText(file, "x");
        Assert.Contains("is a file, not a folder", Assert.Throws<ArgumentException>(() => ImageFolderIndex.Scan(file)).Message, StringComparison.Ordinal);
        Assert.Contains("1 images directly inside", Assert.Throws<InvalidDataException>(() => ImageFolderIndex.Scan(root)).Message, StringComparison.Ordinal);
        Directory.CreateDirectory(Path.Combine(root, "only"));
        File.Copy(file, Path.Combine(root, "only", "a.jpg"));
        Assert.Contains("at least two classes", Assert.Throws<InvalidDataException>(() => ImageFolderIndex.Scan(root)).Message, StringComparison.Ordinal);
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        File.WriteAllText(Path.Combine(root, "empty", "notes.txt"), "x");
        var empty = Assert.Throws<InvalidDataException>(() => ImageFolderIndex.Scan(root));
        Assert.Contains("empty", empty.Message, StringComparison.Ordinal);
        Assert.Contains("holds no images", empty.Message, StringComparison.Ordinal);
    }

    /// <summary>Truncated, mislabelled, empty and bomb files are skipped and counted; a class left with no decodable image is an error.</summary>
    [Fact]
    public void UndecodableFilesAreSkippedAndCounted()
    {
        string root = ImageFolderFixture.Create(TrainingFixtures.TempFolder(), perClass: 4, splitFolders: true);
        var good = File.ReadAllBytes(Path.Combine(root, "train", "lime", "img000.jpg"));
        File.WriteAllBytes(Path.Combine(root, "train", "lime", "truncated.jpg"), good[..(good.Length / 2)]);
        File.WriteAllText(Path.Combine(root, "train", "lime", "actually-text.png"), "hello");
        File.WriteAllBytes(Path.Combine(root, "train", "plum", "empty.jpg"), []);
        File.WriteAllBytes(Path.Combine(root, "train", "plum", "bomb.png"), BombPng());
        File.WriteAllText(Path.Combine(root, "train", "plum", "labels.csv"), "a,b");
        var source = new ImageFolderSource("fruit", ImageFolderIndex.Scan(root));
        var progress = new List<(int, int)>();
        source.Prepare(16, (done, total) => { lock (progress) progress.Add((done, total)); });
        Assert.Equal(4, source.Skipped.Count);
        Assert.Contains(source.Skipped, s => s.Reason == ImageDecodeFailure.TooLarge && s.Path.EndsWith("bomb.png", StringComparison.Ordinal));
        Assert.Contains(source.Skipped, s => s.Reason is ImageDecodeFailure.Truncated or ImageDecodeFailure.Corrupt && s.Path.EndsWith("truncated.jpg", StringComparison.Ordinal));
        Assert.Contains(source.Skipped, s => s.Reason == ImageDecodeFailure.UnknownFormat && s.Path.EndsWith("actually-text.png", StringComparison.Ordinal));
        Assert.Equal(2, source.PreparationWarnings.Count);
        Assert.Contains("skipped 4 image file(s)", source.PreparationWarnings[0], StringComparison.Ordinal);
        Assert.Contains("skipped 1 non-image", source.PreparationWarnings[1], StringComparison.Ordinal);
        Assert.Contains((12 + 4 + 3, 12 + 4 + 3), progress);
        Assert.True(source.IsCached);
        var batch = source.Sample(DataSplit.Train, 0, 8, 16, new Generator(1));
        Assert.Equal(new[] { 8, 3, 16, 16 }, batch.Inputs.Shape.ToArray());

        // Every train image of a class undecodable: an error naming the class.
        foreach (var file in Directory.GetFiles(Path.Combine(root, "train", "cherry"))) File.WriteAllText(file, "garbage");
        var error = Assert.Throws<InvalidDataException>(() => new ImageFolderSource("fruit", ImageFolderIndex.Scan(root)).Prepare(16));
        Assert.Contains("'cherry'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CachedAndUncachedBatchesAreIdenticalAndTestCoversValidationInOrder()
    {
        string root = ImageFolderFixture.Create(TrainingFixtures.TempFolder(), perClass: 5, splitFolders: true);
        var index = ImageFolderIndex.Scan(root);
        var cached = new ImageFolderSource("a", index);
        var uncached = new ImageFolderSource("b", index, cacheBudgetBytes: 0);
        var x = cached.Sample(DataSplit.Train, 3, 6, 20, new Generator(7));
        var y = uncached.Sample(DataSplit.Train, 3, 6, 20, new Generator(7));
        Assert.True(cached.IsCached);
        Assert.False(uncached.IsCached);
        Assert.Equal(x.Inputs.ToArray<float>(), y.Inputs.ToArray<float>());
        Assert.Equal(((Tessera.Autograd.Tensor)x.Targets).ToArray<long>(), ((Tessera.Autograd.Tensor)y.Targets).ToArray<long>());
        // Validation: 3 classes x 1 image, batch 2 → a full batch then a short one, labels in folder order.
        Assert.Equal(3, cached.TestCount);
        var first = cached.Sample(DataSplit.Test, 0, 2, 20, new Generator(0));
        var last = cached.Sample(DataSplit.Test, 1, 2, 20, new Generator(99));
        Assert.Equal(new long[] { 0, 1 }, ((Tessera.Autograd.Tensor)first.Targets).ToArray<long>());
        Assert.Equal(new long[] { 2 }, ((Tessera.Autograd.Tensor)last.Targets).ToArray<long>());
    }

    /// <summary>The issue's proof: 'tessera train folder --data DIR' on a JPEG folder, then 'tessera eval' and the linear probe on its checkpoint.</summary>
    [Fact]
    public void TrainFolderThenEvalThroughTheCli()
    {
        string work = TrainingFixtures.TempFolder();
        string data = ImageFolderFixture.Create(Path.Combine(work, "photos"), perClass: 12);
        File.WriteAllText(Path.Combine(data, "plum", "broken.jpg"), "not a jpeg");
        string run = Path.Combine(work, "run");
        var (code, output) = TesseraProcess.RunCombined(work, "train", "folder", "--data", data, "--model", "small-cnn", "--steps", "4", "--batch", "6", "--size", "24",
                                            "--threads", "1", "--out", run, "--quiet");
        Assert.True(code == 0, $"train folder exited {code}: {output}");
        Assert.Contains("warning: classes: skipped 1 image file(s)", output, StringComparison.Ordinal);
        foreach (var name in new[] { "checkpoint.safetensors", "log.jsonl", "metrics.json", "report.html", "skipped-images.txt" })
            Assert.True(File.Exists(Path.Combine(run, name)), $"{name} missing after train folder; found {string.Join(", ", Directory.GetFiles(run).Select(Path.GetFileName))}");
        using (var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))))
            Assert.True(metrics.RootElement.TryGetProperty("top1", out _), File.ReadAllText(Path.Combine(run, "metrics.json")));
        (code, output) = TesseraProcess.RunCombined(work, "eval", Path.Combine(run, "checkpoint.safetensors"), "--threads", "1");
        Assert.True(code == 0, $"eval exited {code}: {output}");
        Assert.Contains("top1", output, StringComparison.Ordinal);
        // The linear probe on the folder, through the checkpoint's backbone; without --checkpoint it says what is missing.
        (code, output) = TesseraProcess.RunCombined(work, "probe", data, "--checkpoint", Path.Combine(run, "checkpoint.safetensors"), "--out", Path.Combine(work, "probe"), "--max-iter", "50", "--grid", "3");
        Assert.True(code == 0, $"probe exited {code}: {output}");
        Assert.Contains("\"test_top1\"", output, StringComparison.Ordinal);
        (code, output) = TesseraProcess.RunCombined(work, "probe", data);
        Assert.NotEqual(0, code);
        Assert.Contains("pass --checkpoint", output, StringComparison.Ordinal);
        // A --data that is not a folder: one line on stderr, exit code not 0.
        (code, output) = TesseraProcess.RunCombined(work, "train", "folder", "--data", Path.Combine(work, "nowhere"), "--out", Path.Combine(work, "run2"));
        Assert.NotEqual(0, code);
        Assert.Contains("does not exist", output, StringComparison.Ordinal);
    }

    /// <summary>A PNG whose header declares 60,000 x 60,000 pixels over one tiny IDAT.</summary>
    internal static byte[] BombPng()
    {
        var png = ImageCodec.EncodePng(new byte[3], 1, 1);
        // IHDR's width and height start at byte 16; its CRC (bytes 29..32) covers type + data.
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), 60_000);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), 60_000);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), System.IO.Hashing.Crc32.HashToUInt32(png.AsSpan(12, 17)));
        return png;
    }
}
