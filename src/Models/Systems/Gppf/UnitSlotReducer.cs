using Tessera.Autograd;

namespace Tessera.Models.Systems.Gppf;

/// <summary>
/// Cross-task SyncBN for hard routing, where each virtual device runs only the unit it sampled:
/// the batch norms of unit k must combine the statistics of exactly the devices that ran unit k.
/// Every device still makes one all-reduce per batch-norm call (the units have identical
/// architecture, so the j-th batch norm of every unit has the same channel count and all
/// devices call in lockstep): a vector of <c>slotCount</c> slots with this device's sums in slot
/// <c>slot</c> and zeros elsewhere. The slot of the unit a device ran then holds the sums over
/// the devices that ran it, exactly as if those devices alone formed a SyncBN group.
/// </summary>
public sealed class UnitSlotReducer : IBatchStatisticsReducer
{
    private readonly IBatchStatisticsReducer _inner;

    /// <param name="inner">The device group's reducer (the SIMT step's SyncBN).</param>
    /// <param name="slot">The unit this device ran.</param>
    /// <param name="slotCount">Units in the layer (N).</param>
    public UnitSlotReducer(IBatchStatisticsReducer inner, int slot, int slotCount)
    {
        _inner = inner ?? throw new ArgumentNullException(nameof(inner));
        ArgumentOutOfRangeException.ThrowIfLessThan(slotCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, slotCount);
        Slot = slot;
        SlotCount = slotCount;
    }

    public int Slot { get; }

    public int SlotCount { get; }

    public BatchStatistics Combine(BatchStatistics local)
    {
        ArgumentNullException.ThrowIfNull(local);
        int channels = local.Sum.Length;
        // [count per slot | sums per slot]: the per-slot counts ride in the sum vector.
        var sum = new double[SlotCount * (1 + channels)];
        var sumSquares = new double[sum.Length];
        sum[Slot] = local.Count;
        local.Sum.CopyTo(sum, SlotCount + Slot * channels);
        local.SumSquares.CopyTo(sumSquares, SlotCount + Slot * channels);
        var total = _inner.Combine(new BatchStatistics(local.Count, sum, sumSquares));
        int start = SlotCount + Slot * channels;
        return new BatchStatistics((long)total.Sum[Slot], total.Sum[start..(start + channels)], total.SumSquares[start..(start + channels)]);
    }

    public BatchGradientStatistics CombineGradients(BatchGradientStatistics local)
    {
        ArgumentNullException.ThrowIfNull(local);
        int channels = local.SumGrad.Length;
        var sumGrad = new double[SlotCount * channels];
        var sumGradNormalized = new double[sumGrad.Length];
        local.SumGrad.CopyTo(sumGrad, Slot * channels);
        local.SumGradNormalized.CopyTo(sumGradNormalized, Slot * channels);
        var total = _inner.CombineGradients(new BatchGradientStatistics(sumGrad, sumGradNormalized));
        int start = Slot * channels;
        return new BatchGradientStatistics(total.SumGrad[start..(start + channels)], total.SumGradNormalized[start..(start + channels)]);
    }

    /// <summary>
    /// Which device updates unit <paramref name="slot"/>'s running statistics: every device
    /// all-reduces 2^index in the slot it chose, and the lowest set bit of its slot's sum names
    /// the lowest-index device that ran the same unit (exact in doubles for up to 52 devices).
    /// Returns true on that device only, so each unit's running statistics move once per step.
    /// </summary>
    public static bool IsFirstUser(IBatchStatisticsReducer inner, int deviceIndex, int slot, int slotCount)
    {
        ArgumentNullException.ThrowIfNull(inner);
        if (deviceIndex is < 0 or > 52)
            throw new ArgumentOutOfRangeException(nameof(deviceIndex), deviceIndex, $"GPPF hard routing: expected a device index in 0..52 (the running-statistics owner is found through doubles), found {deviceIndex}; use at most 53 virtual devices");
        var mask = new double[slotCount];
        mask[slot] = Math.Pow(2, deviceIndex);
        var total = AllReduceSum(inner, mask);
        ulong bits = (ulong)total[slot];
        return System.Numerics.BitOperations.TrailingZeroCount(bits) == deviceIndex;
    }

    private static double[] AllReduceSum(IBatchStatisticsReducer inner, double[] values) =>
        inner.Combine(new BatchStatistics(0, values, new double[values.Length])).Sum;
}
