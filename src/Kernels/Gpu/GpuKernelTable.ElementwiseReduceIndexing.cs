using Tessera.Engine.Compiler;

namespace Tessera.Kernels.Gpu;

/// <summary>
/// The elementwise, reduction, softmax, indexing and copy kernels, one entry per instantiation
/// the Functional ops launch (listed in <see cref="GpuKernelTable"/>).
/// </summary>
public static class ElementwiseReduceIndexingKernelEntries
{
    public static IEnumerable<KernelEntry> All()
    {
        Type[] maps =
        [
            typeof(NegateMap), typeof(AbsMap), typeof(ExpMap), typeof(LogMap), typeof(SqrtMap), typeof(RsqrtMap), typeof(TanhMap),
            typeof(SigmoidMap), typeof(ReluMap), typeof(GeluErfMap), typeof(GeluTanhMap), typeof(SiluMap), typeof(SignMap),
            typeof(ClampMap), typeof(PowScalarMap),
        ];
        Type[] binaries = [typeof(AddOp), typeof(SubtractOp), typeof(MultiplyOp), typeof(DivideOp), typeof(MaximumOp), typeof(MinimumOp), typeof(PowOp)];
        foreach (Type map in maps)
            yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Map), map);
        foreach (Type op in binaries)
        {
            yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Map), typeof(RightScalarMap<>).MakeGenericType(op));
            yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Map), typeof(LeftScalarMap<>).MakeGenericType(op));
        }
        foreach (Type map in new[] { typeof(AbsMap), typeof(LogMap), typeof(ReluMap), typeof(GeluErfMap), typeof(GeluTanhMap), typeof(SiluMap) })
            yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.MapBackward), map);
        foreach (Type op in binaries)
            yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Binary), op);
        foreach (Type predicate in new[] { typeof(EqualPredicate), typeof(NotEqualPredicate), typeof(LessPredicate), typeof(LessEqualPredicate), typeof(GreaterPredicate), typeof(GreaterEqualPredicate) })
            yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Compare), predicate);
        yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Where));
        yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Cast), typeof(bool), typeof(float), typeof(BoolToFloat));
        yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Cast), typeof(int), typeof(float), typeof(IntToFloat));
        yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Cast), typeof(long), typeof(float), typeof(LongToFloat));
        yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Cast), typeof(bool), typeof(long), typeof(BoolToLong));
        yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Cast), typeof(int), typeof(long), typeof(IntToLong));
        yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Cast), typeof(float), typeof(long), typeof(FloatToLong));
        foreach (Type element in new[] { typeof(byte), typeof(int), typeof(long) })
            yield return KernelEntry.For(typeof(ElementwiseKernels), nameof(ElementwiseKernels.Copy), element);
        yield return KernelEntry.For(typeof(ReduceKernels), nameof(ReduceKernels.Sum));
        yield return KernelEntry.For(typeof(ReduceKernels), nameof(ReduceKernels.Extreme));
        yield return KernelEntry.For(typeof(ReduceKernels), nameof(ReduceKernels.LogSumExp));
        yield return KernelEntry.For(typeof(ReduceKernels), nameof(ReduceKernels.Variance));
        yield return KernelEntry.For(typeof(SoftmaxKernels), nameof(SoftmaxKernels.Forward));
        yield return KernelEntry.For(typeof(SoftmaxKernels), nameof(SoftmaxKernels.Backward));
        foreach (Type element in new[] { typeof(byte), typeof(int), typeof(long) })
            yield return KernelEntry.For(typeof(IndexingKernels), nameof(IndexingKernels.SelectForward), element);
        yield return KernelEntry.For(typeof(IndexingKernels), nameof(IndexingKernels.SelectBackward));
        yield return KernelEntry.For(typeof(IndexingKernels), nameof(IndexingKernels.Gather));
        yield return KernelEntry.For(typeof(IndexingKernels), nameof(IndexingKernels.ScatterAdd));
        yield return KernelEntry.For(typeof(IndexingKernels), nameof(IndexingKernels.FindOutOfRange));
    }
}
