using System.Buffers.Binary;
using Tessera.Engine;
using Tessera.Engine.Serialization;
using Tessera.Models.Optim;
using Tessera.Models.Training;
using Xunit;
using static Tessera.Tests.Training.TrainingFixtures;

namespace Tessera.Tests.Training;

/// <summary>Checkpoints carry a digest per tensor: damaged bytes are found and named, never loaded; NaN weights are called what they are.</summary>
public sealed class CheckpointIntegrityTests
{
    private static MultiTaskTrainer NewTrainer()
    {
        var (model, _) = Build(5, sizeB: 12, width: 4);
        return new MultiTaskTrainer(model, new AdamW(model.Parameters(), 0.01f), null, new TrainerOptions(Devices: 2, Seed: 5, EvalBatches: 1));
    }

    private static string SavedCheckpoint(out MultiTaskTrainer trainer)
    {
        trainer = NewTrainer();
        trainer.RunStep();
        string path = Path.Combine(TempFolder(), "checkpoint.safetensors");
        Checkpoint.Save(path, trainer, "{}");
        return path;
    }

    /// <summary>The byte offset (in the file) of a tensor's data.</summary>
    private static long DataOffset(string path, string tensor)
    {
        var bytes = File.ReadAllBytes(path);
        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var header = System.Text.Json.JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        return 8 + headerLength + header.RootElement.GetProperty(tensor).GetProperty("data_offsets")[0].GetInt64();
    }

    [Fact]
    public void FlippedBytesInWeightsAreDetectedAndNamed()
    {
        string path = SavedCheckpoint(out _);
        Assert.Equal(new SafeTensors.DigestReport(true, SafeTensors.Read(path).Tensors.Count, []), SafeTensors.Verify(path) with { Corrupt = [] });
        var tensor = SafeTensors.Read(path).Tensors.Keys.First(k => k.StartsWith("model.", StringComparison.Ordinal) && k.EndsWith("weight", StringComparison.Ordinal));
        var bytes = File.ReadAllBytes(path);
        var random = new Random(7);
        long offset = DataOffset(path, tensor);
        for (int i = 0; i < 64; i++) bytes[offset + i] ^= (byte)(1 + random.Next(255));
        File.WriteAllBytes(path, bytes);

        var fresh = NewTrainer();
        var before = Snapshot(fresh.Model);
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Restore(path, fresh));
        Assert.Contains("is corrupt", error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{tensor}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        AssertBitwiseEqual(before, Snapshot(fresh.Model));
        var report = SafeTensors.Verify(path);
        Assert.True(report.HasDigests);
        Assert.Equal([tensor], report.Corrupt);
    }

    [Fact]
    public void FilesWithoutDigestsStillLoadAndSaySo()
    {
        string path = Path.Combine(TempFolder(), "plain.safetensors");
        // The golden fixtures are written by PyTorch-side code without digests: exactly "another tool".
        File.Copy(Path.Combine(AppContext.BaseDirectory, "goldens", "optim.safetensors"), path);
        Assert.NotEmpty(SafeTensors.Read(path).Tensors);
        var report = SafeTensors.Verify(path);
        Assert.False(report.HasDigests);
        Assert.Empty(report.Corrupt);
    }

    [Fact]
    public void NaNWeightsAreReportedAsNaNWithTheTensorName()
    {
        string path = SavedCheckpoint(out var trainer);
        var (tensors, metadata) = SafeTensors.Read(path);
        var name = tensors.Keys.First(k => k.StartsWith("optimizer.", StringComparison.Ordinal));
        var entry = tensors[name];
        var data = (byte[])entry.Data.Clone();
        BinaryPrimitives.WriteSingleLittleEndian(data, float.NaN);
        tensors[name] = entry with { Data = data };
        metadata.Remove(SafeTensors.DigestKey);
        SafeTensors.Write(path, tensors, metadata); // digests of the NaN bytes: the file is intact, its values are not
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Restore(path, NewTrainer()));
        Assert.Contains($"'{name}' holds NaN values", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("learning rate", error.Message.Split(';')[0], StringComparison.Ordinal);
    }
}
