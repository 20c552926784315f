using Tessera.Engine.Compiler;

namespace Tessera.Kernels.Gpu;

/// <summary>The normalisation, loss and optimiser kernels of <see cref="GpuKernelTable"/>.</summary>
public static partial class GpuKernelTable
{
    private static IEnumerable<KernelEntry> NormLossOptim =>
    [
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.ChannelSumsPartial)),
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.GradientSumsPartial)),
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.SumSplits)),
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.NormalizeAffineRows)),
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.NormalizeAffineFlat)),
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.BackwardInputRows)),
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.BackwardInputFlat)),
        KernelEntry.For(typeof(BatchNorm), nameof(BatchNorm.UpdateRunningStatistics)),
        KernelEntry.For(typeof(LayerNorm), nameof(LayerNorm.ForwardAffineRows)),
        KernelEntry.For(typeof(LayerNorm), nameof(LayerNorm.BackwardAffineRows)),
        KernelEntry.For(typeof(LayerNorm), nameof(LayerNorm.AffineGradientPartial)),
        KernelEntry.For(typeof(LayerNorm), nameof(LayerNorm.AffineGradientFinish)),
        KernelEntry.For(typeof(GroupNorm), nameof(GroupNorm.ForwardAffineRows)),
        KernelEntry.For(typeof(GroupNorm), nameof(GroupNorm.BackwardAffineRows)),
        KernelEntry.For(typeof(GroupNorm), nameof(GroupNorm.AffineGradientPartial)),
        KernelEntry.For(typeof(Normalize), nameof(Normalize.ForwardRows)),
        KernelEntry.For(typeof(Normalize), nameof(Normalize.BackwardRows)),
        KernelEntry.For(typeof(CosineSimilarity), nameof(CosineSimilarity.ForwardRows)),
        KernelEntry.For(typeof(CosineSimilarity), nameof(CosineSimilarity.BackwardRows)),
        KernelEntry.For(typeof(NllLoss), nameof(NllLoss.FindInvalidTarget)),
        KernelEntry.For(typeof(NllLoss), nameof(NllLoss.ForwardRows)),
        KernelEntry.For(typeof(NllLoss), nameof(NllLoss.BackwardRows)),
        KernelEntry.For(typeof(CrossEntropy), nameof(CrossEntropy.ForwardRows)),
        KernelEntry.For(typeof(CrossEntropy), nameof(CrossEntropy.SumPartial)),
        KernelEntry.For(typeof(CrossEntropy), nameof(CrossEntropy.FinishSum)),
        KernelEntry.For(typeof(CrossEntropy), nameof(CrossEntropy.BackwardRows)),
        .. PointwiseLossEntries(typeof(SquaredError)),
        .. PointwiseLossEntries(typeof(AbsoluteError)),
        .. PointwiseLossEntries(typeof(SmoothAbsoluteError)),
        .. PointwiseLossEntries(typeof(LogitBinaryCrossEntropy)),
        .. PointwiseLossEntries(typeof(KlDivergence)),
        .. PointwiseLossEntries(typeof(LogKlDivergence)),
        KernelEntry.For(typeof(PointwiseLoss), nameof(PointwiseLoss.FinishSum)),
        KernelEntry.For(typeof(OptimizerSteps), nameof(OptimizerSteps.SgdStep)),
        KernelEntry.For(typeof(OptimizerSteps), nameof(OptimizerSteps.AdamWStep)),
        KernelEntry.For(typeof(OptimizerSteps), nameof(OptimizerSteps.SumSquaresPartial)),
        KernelEntry.For(typeof(OptimizerSteps), nameof(OptimizerSteps.SumPartials)),
        KernelEntry.For(typeof(OptimizerSteps), nameof(OptimizerSteps.ScaleInPlace)),
    ];

    private static IEnumerable<KernelEntry> PointwiseLossEntries(Type loss) =>
    [
        KernelEntry.For(typeof(PointwiseLoss), nameof(PointwiseLoss.Elements), loss),
        KernelEntry.For(typeof(PointwiseLoss), nameof(PointwiseLoss.SumPartial), loss),
        KernelEntry.For(typeof(PointwiseLoss), nameof(PointwiseLoss.Backward), loss),
    ];
}
