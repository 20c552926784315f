using Tessera.Autograd;
using Tessera.Engine;
using Tessera.Engine.Distributed;
using Tessera.Models.Training.Distributed;

namespace Tessera.Models.Training;

/// <summary>
/// The cross-rank half of a SIMT step. After the rank's devices have run (SyncBN already synchronised
/// through <see cref="DeviceStatisticsGroup"/>), three exchanges make every rank hold what one
/// process running all V devices would hold, so every rank then applies the same update:
/// 1. reports: each device's loss, metrics, which parameters it produced gradients for, its
///    random streams' offsets, and the rank's first non-finite problem (one Allgather);
/// 2. gradients: each device's own gradient (<see cref="GradientLayout"/>, bucketed Allreduces),
///    so the task average is summed in device order exactly as in one process;
/// 3. running statistics: the one rank whose device owns a buffer this step (device 0 for the
///    shared SyncBN layers, the task's first device for a head, the unit's first user under GPPF's
///    hard routing) sends its new value (one Allreduce of the bits).
/// </summary>
public sealed partial class MultiTaskTrainer
{
    private readonly ICommunicator _communicator;
    private readonly DeviceDeal _deal;
    private List<Tensor>? _parameters;
    private bool[][] _used = [];
    private float[] _gradientBuffer = [];

    /// <summary>The virtual devices this rank runs (all of them in one process).</summary>
    public DeviceDeal Deal => _deal;

    /// <summary>
    /// Seconds spent in each exchange so far: reports (the first collective after the devices ran,
    /// so it includes waiting for the slowest rank), gradients and buffers (ranks already in step:
    /// communication alone). SyncBN's collectives run inside the devices' forward and backward.
    /// </summary>
    public (double Reports, double Gradients, double Buffers) ExchangeSeconds => (_reportSeconds, _gradientSeconds, _bufferSeconds);

    private double _reportSeconds, _gradientSeconds, _bufferSeconds;

    /// <summary>True when the devices are spread over several processes.</summary>
    public bool IsDistributed => _communicator.Size > 1;

    private List<Tensor> ParameterList => _parameters ??= Model.Parameters().ToList();

    /// <summary>Exchange 1: fills the other ranks' device results (without gradients) and returns the first problem in device order.</summary>
    private string? ShareReports(DeviceResult?[] results, string? problem)
    {
        long began = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            return ShareReportsCore(results, problem);
        }
        finally
        {
            _reportSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(began).TotalSeconds;
        }
    }

    private string? ShareReportsCore(DeviceResult?[] results, string? problem)
    {
        var parameters = ParameterList;
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(problem ?? "");
            for (int d = _deal.First; d < _deal.End; d++)
            {
                var result = results[d]!;
                writer.Write(result.Loss);
                writer.Write(result.Metrics.Count);
                foreach (var (name, value) in result.Metrics)
                {
                    writer.Write(name);
                    writer.Write(value);
                }
                var usedIndices = Enumerable.Range(0, parameters.Count).Where(p => result.Gradients.ContainsKey(parameters[p])).ToArray();
                writer.Write(usedIndices.Length);
                foreach (int p in usedIndices) writer.Write(p);
                writer.Write(_data[d].Offset);
                writer.Write(_noise[d].Offset);
            }
        }
        Span<long> length = [stream.Length];
        _communicator.AllReduce(length, ReduceOp.Max);
        var local = new byte[length[0]];
        stream.GetBuffer().AsSpan(0, (int)stream.Length).CopyTo(local);
        var all = new byte[local.Length * _communicator.Size];
        _communicator.AllGather(local, all);

        _used = new bool[Options.Devices][];
        string? first = null;
        for (int rank = 0; rank < _communicator.Size; rank++)
        {
            using var reader = new BinaryReader(new MemoryStream(all, rank * local.Length, local.Length));
            string rankProblem = reader.ReadString();
            if (first is null && rankProblem.Length > 0) first = rankProblem;
            var deal = DeviceDeal.For(rank, _communicator.Size, Options.Devices);
            for (int d = deal.First; d < deal.End; d++)
            {
                double loss = reader.ReadDouble();
                var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
                for (int m = reader.ReadInt32(); m > 0; m--) metrics[reader.ReadString()] = reader.ReadDouble();
                _used[d] = new bool[parameters.Count];
                for (int u = reader.ReadInt32(); u > 0; u--) _used[d][reader.ReadInt32()] = true;
                ulong dataOffset = reader.ReadUInt64(), noiseOffset = reader.ReadUInt64();
                if (_deal.Owns(d)) continue;
                results[d] = new DeviceResult(loss, metrics, new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance));
                // Keep every rank's copy of every stream current, so rank 0's checkpoint holds them all.
                _data[d].SetState(_data[d].Seed, dataOffset);
                _noise[d].SetState(_noise[d].Seed, noiseOffset);
            }
        }
        return first;
    }

    /// <summary>Exchange 2: every device's gradients, into the other ranks' device results.</summary>
    private void ShareGradients(DeviceResult?[] results)
    {
        long began = System.Diagnostics.Stopwatch.GetTimestamp();
        var parameters = ParameterList;
        var layout = new GradientLayout(parameters.Select(p => p.Numel).ToArray(), _used);
        if (layout.Length > Array.MaxLength)
            throw new InvalidOperationException($"distributed step: {layout.Length} gradient values per step exceed one buffer ({Array.MaxLength}); train with fewer virtual devices");
        if (_gradientBuffer.Length < layout.Length) _gradientBuffer = new float[layout.Length];
        var buffer = _gradientBuffer.AsSpan(0, (int)layout.Length);
        buffer.Fill(-0f);
        for (int p = 0; p < parameters.Count; p++)
        {
            for (int d = _deal.First; d < _deal.End; d++)
            {
                long offset = layout.Offset(p, d);
                if (offset < 0) continue;
                var grad = results[d]!.Gradients[parameters[p]];
                var target = buffer.Slice((int)offset, parameters[p].Numel);
                // GPU gradients stage through host memory (CUDA-aware MPI / NCCL: docs/DISTRIBUTED.md).
                if (grad.Device.IsCpu) grad.AsSpan<float>().CopyTo(target);
                else grad.ToArray().CopyTo(target);
            }
        }
        int bucketElements = Math.Max(1, Options.BucketBytes / sizeof(float));
        foreach (var (start, count) in layout.Buckets(bucketElements))
            _communicator.AllReduce(buffer.Slice((int)start, count));

        using var unscoped = TensorScope.Unscoped();
        for (int p = 0; p < parameters.Count; p++)
        {
            var shape = parameters[p].Shape.ToArray();
            for (int d = 0; d < Options.Devices; d++)
            {
                long offset = layout.Offset(p, d);
                if (offset < 0 || _deal.Owns(d)) continue;
                var grad = Tensor.FromArray(buffer.Slice((int)offset, parameters[p].Numel).ToArray(), shape);
                results[d]!.Gradients[parameters[p]] = Options.Device.IsCpu ? grad : grad.To(Options.Device);
            }
        }
        _gradientSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(began).TotalSeconds;
    }

    /// <summary>
    /// Exchange 3: running statistics (and any other buffer) a device of another rank updated this
    /// step. A buffer changed on exactly one rank takes that rank's bits everywhere; changed on
    /// several ranks it is an error (two devices own it, so one process would have applied both).
    /// </summary>
    private void ShareBuffers(List<(Tensor Buffer, Tensor Copy)> saved)
    {
        long began = System.Diagnostics.Stopwatch.GetTimestamp();
        var bits = saved.Select(s => Bits(s.Buffer)).ToArray();
        var changed = saved.Select((s, i) => !bits[i].AsSpan().SequenceEqual(Bits(s.Copy))).ToArray();
        var payload = new long[saved.Count + bits.Sum(b => (long)b.Length)];
        long offset = saved.Count;
        for (int i = 0; i < saved.Count; i++)
        {
            if (changed[i])
            {
                payload[i] = 1;
                bits[i].CopyTo(payload, offset);
            }
            offset += bits[i].Length;
        }
        _communicator.AllReduce(payload.AsSpan());
        offset = saved.Count;
        using var noGrad = GradMode.NoGrad();
        using var unscoped = TensorScope.Unscoped();
        var names = Model.NamedBuffers().Select(b => b.Name).ToArray();
        for (int i = 0; i < saved.Count; i++)
        {
            if (payload[i] > 1)
                throw new InvalidOperationException($"distributed step {Step}: buffer '{names[i]}' was updated on {payload[i]} ranks; only one device may update a running statistic per step (see VirtualDevice.UpdatesRunningStatistics)");
            if (payload[i] == 1 && !changed[i])
                saved[i].Buffer.CopyFrom(FromBits(payload.AsSpan((int)offset, bits[i].Length), saved[i].Buffer));
            offset += bits[i].Length;
        }
        _bufferSeconds += System.Diagnostics.Stopwatch.GetElapsedTime(began).TotalSeconds;
    }

    /// <summary>A tensor's elements as 64-bit patterns (float32 bits, ints, bools): exact through a sum with zeros.</summary>
    internal static long[] Bits(Tensor tensor) => tensor.DType switch
    {
        DType.Float32 => tensor.ToArray<float>().Select(v => (long)(uint)BitConverter.SingleToInt32Bits(v)).ToArray(),
        DType.Int32 => tensor.ToArray<int>().Select(v => (long)v).ToArray(),
        DType.Int64 => tensor.ToArray<long>(),
        DType.Bool => tensor.ToArray<bool>().Select(v => v ? 1L : 0L).ToArray(),
        _ => throw new NotSupportedException($"distributed step: buffers of dtype {tensor.DType} cannot be shared"),
    };

    private static Tensor FromBits(ReadOnlySpan<long> bits, Tensor like)
    {
        var shape = like.Shape.ToArray();
        var array = bits.ToArray();
        var host = like.DType switch
        {
            DType.Float32 => Tensor.FromArray(array.Select(v => BitConverter.Int32BitsToSingle((int)(uint)v)).ToArray(), shape),
            DType.Int32 => Tensor.FromArray(array.Select(v => (int)v).ToArray(), shape),
            DType.Int64 => Tensor.FromArray(array, shape),
            _ => Tensor.FromArray(array.Select(v => v != 0).ToArray(), shape),
        };
        return like.Device.IsCpu ? host : host.To(like.Device);
    }
}
