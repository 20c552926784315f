using System.IO.Hashing;
using System.Text;
using Tessera.Engine.Distributed;

namespace Tessera.Models.Training.Distributed;

/// <summary>
/// Checks that all ranks of a distributed run start the same run: the same recipe, the same code,
/// the same step (after a resume), and that none failed to set up. Each check is a collective that
/// every rank calls, and a mismatch throws on every rank with the same message, so every rank
/// stops with the error instead of one rank failing and the others hanging in their next collective.
/// </summary>
public static class RankAgreement
{
    /// <summary>
    /// Every rank passes its setup error (or null); when any rank has one, every rank throws an
    /// <see cref="RankMismatchException"/> quoting the lowest failing rank's message.
    /// </summary>
    public static void ShareFailure(ICommunicator communicator, Exception? local)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        if (communicator.Size == 1)
        {
            if (local is not null) throw local;
            return;
        }
        var bytes = Encoding.UTF8.GetBytes(local?.Message ?? "");
        Span<long> length = [bytes.Length + 1];
        communicator.AllReduce(length, ReduceOp.Max);
        var mine = new byte[length[0]];
        mine[0] = local is null ? (byte)0 : (byte)1;
        bytes.CopyTo(mine, 1);
        var all = new byte[mine.Length * communicator.Size];
        communicator.AllGather(mine, all);
        for (int rank = 0; rank < communicator.Size; rank++)
        {
            var slot = all.AsSpan(rank * mine.Length, mine.Length);
            if (slot[0] == 0) continue;
            if (rank == communicator.Rank && local is not null) throw new RankMismatchException(local.Message, local);
            throw new RankMismatchException($"rank {rank} failed to start: {Encoding.UTF8.GetString(slot[1..]).TrimEnd('\0')}");
        }
    }

    /// <summary>
    /// Every rank passes the same named values; a value that differs between ranks throws on every
    /// rank, naming it, this rank's value and the range seen, and <c>Hint</c> (what to do).
    /// </summary>
    public static void Check(ICommunicator communicator, IReadOnlyList<(string Name, long Value, string Hint)> values)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(values);
        var low = values.Select(v => v.Value).ToArray();
        var high = (long[])low.Clone();
        communicator.AllReduce(low.AsSpan(), ReduceOp.Min);
        communicator.AllReduce(high.AsSpan(), ReduceOp.Max);
        for (int i = 0; i < values.Count; i++)
            if (low[i] != high[i])
                throw new RankMismatchException($"--distributed: the ranks disagree on the {values[i].Name} (rank {communicator.Rank} has {values[i].Value}; the ranks range from {low[i]} to {high[i]}); {values[i].Hint}");
    }

    /// <summary>The error every rank raises together (so no rank is left waiting in a collective).</summary>
    public sealed class RankMismatchException(string message, Exception? inner = null) : InvalidOperationException(message, inner);

    /// <summary>A 63-bit hash of a text (the recipe's JSON).</summary>
    public static long Hash(string text) => (long)(XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(text)) >> 1);

    /// <summary>
    /// A hash of the Tessera code this process runs: the module version ids of the Tessera
    /// assemblies (builds are deterministic, so the same sources and compiler give the same ids).
    /// </summary>
    public static long CodeHash()
    {
        var hash = new XxHash64();
        var assemblies = new[]
        {
            typeof(ICommunicator).Assembly, typeof(Kernels.Cpu.Gemm).Assembly, typeof(Autograd.Tensor).Assembly,
            typeof(RankAgreement).Assembly, System.Reflection.Assembly.GetEntryAssembly(),
        };
        foreach (var assembly in assemblies.OfType<System.Reflection.Assembly>())
        {
            hash.Append(Encoding.UTF8.GetBytes(assembly.GetName().Name!));
            hash.Append(assembly.ManifestModule.ModuleVersionId.ToByteArray());
        }
        return (long)(hash.GetCurrentHashAsUInt64() >> 1);
    }
}
