using System.Runtime.InteropServices;
using Tessera.Engine;
using Tessera.Engine.Serialization;

namespace Tessera.Autograd;

public sealed partial class Tensor
{
    /// <summary>A new CPU tensor holding a copy of a safetensors entry.</summary>
    public static Tensor FromEntry(SafeTensorEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var result = Allocate(entry.Shape, entry.DType, Device.Cpu, zero: false);
        entry.Data.CopyTo(result.CpuStore.AsSpan<byte>(result.Offset * entry.DType.ElementSize(), entry.Data.Length));
        return result;
    }

    /// <summary>This tensor's elements (row-major, little-endian) as a safetensors entry.</summary>
    public SafeTensorEntry ToEntry()
    {
        var dense = Device.IsCpu ? Contiguous() : To(Device.Cpu);
        int bytes = Numel * DType.ElementSize();
        var data = dense.CpuStore.AsSpan<byte>(dense.Offset * DType.ElementSize(), bytes).ToArray();
        return new SafeTensorEntry(DType, _shape.ToArray(), data);
    }
}
