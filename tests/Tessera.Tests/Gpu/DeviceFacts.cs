using Tessera.Engine.Compiler;
using Tessera.Engine.Cuda;
using Xunit;

namespace Tessera.Tests.Gpu;

/// <summary>A fact that runs only when ptxas has been fetched into tools/cuda (skips with how to fetch it).</summary>
public sealed class PtxasFactAttribute : FactAttribute
{
    public PtxasFactAttribute()
    {
        if (Ptxas.Find() is null)
            Skip = Ptxas.NotFetchedMessage;
    }
}

/// <summary>A fact that runs only on a machine with an NVIDIA driver and GPU (skips with the reason otherwise).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    internal static readonly Lazy<string?> Unavailable = new(() =>
    {
        using CudaDriver? driver = CudaDriver.TryCreate(out string reason);
        return driver is null ? $"no CUDA device: {reason}" : null;
    });

    public CudaFactAttribute()
    {
        if (Unavailable.Value is string reason)
            Skip = reason;
    }
}

/// <summary>
/// A theory that runs only with a real GPU (skips with the reason otherwise): the conformance
/// suite's <c>OnCuda</c> replicas of every family's <c>OnEmulatedGpu</c> golden theory.
/// </summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (CudaFactAttribute.Unavailable.Value is string reason)
            Skip = reason;
    }
}
