namespace Tessera.Models.Training.Distributed;

/// <summary>
/// The task-average bookkeeping of a distributed step: parameter p's gradient is
/// (1 / N^p) Σ_{devices d that used p} grad_d(p), summed in device order. To reproduce the
/// single-process sum bit for bit, the ranks do not add partial sums (float addition is not
/// associative); they exchange each device's own gradient. This layout says where: one flat
/// float buffer holding, parameter by parameter, the gradient of every device that used the
/// parameter, in device order. Every rank builds the same layout from the usage table (which
/// device used which parameter: exchanged first), fills the segments of its own devices, leaves
/// the rest at -0.0 (the additive identity: x + (-0.0) = x for every x, -0.0 included), and a sum-
/// Allreduce then leaves every segment holding exactly its device's gradient on every rank. The
/// buffer is reduced in buckets of <see cref="Buckets"/>; chunks may cut through a segment
/// (the reduction is element-wise).
/// </summary>
public sealed class GradientLayout
{
    private readonly long[] _offsets; // [parameter * devices + device] -> start, or -1 when unused

    /// <param name="sizes">Elements of each parameter, in <c>Parameters()</c> order.</param>
    /// <param name="used">used[device][parameter]: whether that device produced a gradient for it.</param>
    public GradientLayout(IReadOnlyList<int> sizes, IReadOnlyList<bool[]> used)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        ArgumentNullException.ThrowIfNull(used);
        if (used.Count == 0) throw new ArgumentException("gradient layout: expected at least one device");
        ParameterCount = sizes.Count;
        DeviceCount = used.Count;
        foreach (var row in used)
            if (row.Length != sizes.Count)
                throw new ArgumentException($"gradient layout: every device's usage row must have one entry per parameter ({sizes.Count}), found {row.Length}");
        _offsets = new long[ParameterCount * DeviceCount];
        Users = new int[ParameterCount];
        long offset = 0;
        for (int p = 0; p < ParameterCount; p++)
        {
            for (int d = 0; d < DeviceCount; d++)
            {
                if (!used[d][p])
                {
                    _offsets[p * DeviceCount + d] = -1;
                    continue;
                }
                _offsets[p * DeviceCount + d] = offset;
                offset += sizes[p];
                Users[p]++;
            }
        }
        Length = offset;
    }

    public int ParameterCount { get; }

    public int DeviceCount { get; }

    /// <summary>Floats in the buffer: Σ_p N^p · |p|, what the single-process step adds up.</summary>
    public long Length { get; }

    /// <summary>N^p: how many devices used each parameter (the task average's denominator).</summary>
    public int[] Users { get; }

    /// <summary>Where device <paramref name="device"/>'s gradient of parameter <paramref name="parameter"/> starts, or -1 if it has none.</summary>
    public long Offset(int parameter, int device) => _offsets[parameter * DeviceCount + device];

    /// <summary>
    /// The buffer cut into consecutive pieces of at most <paramref name="bucketElements"/>
    /// (start, length), each one Allreduce.
    /// </summary>
    public IEnumerable<(long Start, int Length)> Buckets(int bucketElements)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketElements, 1);
        for (long start = 0; start < Length; start += bucketElements)
            yield return (start, (int)Math.Min(bucketElements, Length - start));
    }
}
