using Tessera.Engine.Compiler;
using Tessera.Kernels.Gpu.Samples;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// Every GPU kernel Tessera ships, in one table: the ptxas check, the tests and
/// <c>tessera kernels</c> enumerate it. Generic kernels appear once per instantiation in use.
/// </summary>
public static partial class GpuKernelTable
{
    private static readonly Lazy<IReadOnlyList<KernelEntry>> s_all = new(() =>
    [
        KernelEntry.For(typeof(VectorAdd), nameof(VectorAdd.Add)),
        KernelEntry.For(typeof(ElementwiseMap), nameof(ElementwiseMap.Map), typeof(float), typeof(Relu)),
        KernelEntry.For(typeof(ElementwiseMap), nameof(ElementwiseMap.Map), typeof(float), typeof(GeluTanh)),
        KernelEntry.For(typeof(ElementwiseMap), nameof(ElementwiseMap.Map), typeof(int), typeof(Square<int>)),
        KernelEntry.For(typeof(ElementwiseMap), nameof(ElementwiseMap.Map), typeof(double), typeof(Square<double>)),
        KernelEntry.For(typeof(ElementwiseMap), nameof(ElementwiseMap.Map), typeof(Half), typeof(Square<Half>)),
        KernelEntry.For(typeof(ElementwiseMap), nameof(ElementwiseMap.Zip), typeof(float), typeof(MultiplyAddOne<float>)),
        KernelEntry.For(typeof(BlockReduce), nameof(BlockReduce.Sum)),
        KernelEntry.For(typeof(BlockReduce), nameof(BlockReduce.SumDynamic)),
        KernelEntry.For(typeof(RowSoftmax), nameof(RowSoftmax.Forward)),
        KernelEntry.For(typeof(RowSoftmax), nameof(RowSoftmax.Forward)).Specialise("columnCount", 128),
        KernelEntry.For(typeof(Histogram), nameof(Histogram.Bytes)),
        KernelEntry.For(typeof(Histogram), nameof(Histogram.BytesGlobal)),
        KernelEntry.For(typeof(Sgemm), nameof(Sgemm.SharedRegisterTiled)),
        .. MemoryKernels,
        .. ElementwiseReduceIndexingKernelEntries.All(),
        .. GemmConvPoolKernelEntries.All,
        .. AttentionRoutingVisionKernels.Entries,
        .. NormLossOptim,
        .. TensorCoreKernelTable.Entries,
    ]);

    /// <summary>Fills behind Fill, Full and OnesLike of GPU tensors.</summary>
    private static KernelEntry[] MemoryKernels =>
    [
        KernelEntry.For(typeof(GpuMemoryKernels), nameof(GpuMemoryKernels.Fill)),
    ];

    public static IReadOnlyList<KernelEntry> All => s_all.Value;
}
