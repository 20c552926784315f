using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Memory;
using Xunit;

namespace Tessera.Tests.Engine;

public sealed class StorageTests
{
    [Fact]
    public unsafe void CpuStorageIsAligned()
    {
        for (int bytes = 1; bytes < 300; bytes += 37)
        {
            var storage = CpuStorage.Allocate(bytes, zero: true);
            Assert.Equal(0, (long)storage.Pointer % CpuStorage.Alignment);
            Assert.True(storage.AsSpan<byte>(0, bytes).ToArray().All(b => b == 0));
            storage.Release();
        }
    }

    [Fact]
    public void ViewsKeepStorageAliveUntilTheLastDispose()
    {
        var x = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        var view = x.Transpose(0, 1);
        x.Dispose();
        Assert.False(x.Storage.IsReleased);
        Assert.Equal([1f, 3f, 2f, 4f], view.ToArray());
        view.Dispose();
        Assert.True(x.Storage.IsReleased);
        Assert.Throws<ObjectDisposedException>(() => view.ToArray());
    }

    [Fact]
    public void ScopeDisposesWhatItCreatedExceptMovedTensors()
    {
        var outside = Tensor.Ones(3);
        Tensor inner, kept;
        using (var scope = new TensorScope())
        {
            inner = outside * 2f;
            kept = scope.MoveToOuter(inner + 1f);
        }
        Assert.True(inner.IsDisposed);
        Assert.False(kept.IsDisposed);
        Assert.False(outside.IsDisposed);
        Assert.Equal([3f, 3f, 3f], kept.ToArray());
    }

    [Fact]
    public void DeviceParsesKnownNamesAndRejectsOthers()
    {
        Assert.Equal(Device.Cpu, Device.Parse("cpu"));
        Assert.Equal(new Device(DeviceKind.Cuda, 1), Device.Parse("cuda:1"));
        Assert.Equal(DeviceKind.CudaEmulated, Device.Parse("cuda-emu").Kind);
        var error = Assert.Throws<ArgumentException>(() => Device.Parse("tpu"));
        Assert.Contains("expected one of", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SafeTensorsRoundTripsAndRejectsCorruptFiles()
    {
        string path = Path.Combine(Path.GetTempPath(), $"tessera-{Guid.NewGuid():N}.safetensors");
        try
        {
            var a = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
            var b = Tensor.FromArray([7L, -8L], 2);
            Tessera.Engine.Serialization.SafeTensors.Write(path, new Dictionary<string, Tessera.Engine.Serialization.SafeTensorEntry> { ["a"] = a.ToEntry(), ["b"] = b.ToEntry() },
                new Dictionary<string, string> { ["note"] = "hello" });
            var (tensors, metadata) = Tessera.Engine.Serialization.SafeTensors.Read(path);
            Assert.Equal("hello", metadata["note"]);
            Assert.Equal(a.ToArray(), Tensor.FromEntry(tensors["a"]).ToArray());
            Assert.Equal(b.ToArray<long>(), Tensor.FromEntry(tensors["b"]).ToArray<long>());
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..(bytes.Length - 5)]);
            var error = Assert.Throws<InvalidDataException>(() => Tessera.Engine.Serialization.SafeTensors.Read(path));
            Assert.Contains("truncated or corrupt", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
