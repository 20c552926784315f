using System.Numerics;
using System.Runtime.CompilerServices;

namespace Tessera.Engine.Cuda.Emulator;

internal enum ThreadStatus { Running, AtBarrier, AtShuffle, Exited }

/// <summary>
/// 32 threads of a block: one register file (register-major), a program counter per lane, and
/// lane masks for their states. The lanes that share the lowest program counter form the
/// <see cref="Group"/> that executes together (min-PC reconvergence: a branch that splits the warp
/// runs the lower path first, and the paths merge when the group reaches a waiting lane's PC).
/// Each lane keeps its own PC, so any control flow a single thread can take is executed exactly.
/// </summary>
internal sealed class EmulatedWarp
{
    public EmulatedWarp(int index, int laneCount, int fileRegisters, int localBytes)
    {
        Index = index;
        LaneCount = laneCount;
        Exists = laneCount == 32 ? uint.MaxValue : (1u << laneCount) - 1;
        File = new ulong[fileRegisters * 32];
        Local = localBytes > 0 ? new byte[localBytes * 32] : null;
    }

    public int Index { get; }

    public int LaneCount { get; }

    /// <summary>Lanes that are threads of the block (the last warp of a block may be partial).</summary>
    public uint Exists { get; }

    public ulong[] File { get; }

    /// <summary>Local memory of the 32 lanes, <c>localBytes</c> each, lane after lane.</summary>
    public byte[]? Local { get; }

    public readonly int[] Pc = new int[32];

    /// <summary>Lanes that have not exited.</summary>
    public uint Live;

    /// <summary>Live lanes neither at a barrier nor waiting at a warp rendezvous (shuffle, mma).</summary>
    public uint Running;

    /// <summary>Lanes waiting at bar.sync (their PC is the instruction after it).</summary>
    public uint AtBarrier;

    /// <summary>Running lanes executing together at <see cref="GroupPc"/>; 0 when a new group must be chosen.</summary>
    public uint Group;

    public int GroupPc;

    /// <summary>The lowest PC of the running lanes outside the group: reaching it merges them in.</summary>
    public int MinOtherPc = int.MaxValue;

    /// <summary>Set when a time slice ran out on a split warp: the next group is another path, so a lane spinning on a sibling's write lets that sibling run.</summary>
    public bool Rotate;

    public void Reset()
    {
        Array.Clear(Pc);
        Live = Running = Exists;
        AtBarrier = 0;
        Group = Exists;
        GroupPc = 0;
        MinOtherPc = int.MaxValue;
        Rotate = false;
    }

    public ThreadStatus Status(int lane)
    {
        uint bit = 1u << lane;
        return (Live & bit) == 0 ? ThreadStatus.Exited : (Running & bit) != 0 ? ThreadStatus.Running
            : (AtBarrier & bit) != 0 ? ThreadStatus.AtBarrier : ThreadStatus.AtShuffle;
    }

    /// <summary>Writes the group's PC back to its lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Spill()
    {
        for (uint m = Group; m != 0; m &= m - 1)
            Pc[BitOperations.TrailingZeroCount(m)] = GroupPc;
    }

    /// <summary>Chooses the next group among the running lanes; false when none is running.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Regroup()
    {
        uint running = Running;
        if (running == 0)
        {
            Group = 0;
            return false;
        }
        int lowest = int.MaxValue, above = int.MaxValue;
        for (uint m = running; m != 0; m &= m - 1)
        {
            int p = Pc[BitOperations.TrailingZeroCount(m)];
            lowest = Math.Min(lowest, p);
            if (p > GroupPc)
                above = Math.Min(above, p);
        }
        bool rotated = Rotate && above != int.MaxValue;
        int chosen = rotated ? above : lowest;
        uint group = 0;
        int other = int.MaxValue;
        for (uint m = running; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            if (Pc[l] == chosen)
                group |= 1u << l;
            else
                other = Math.Min(other, Pc[l]);
        }
        Group = group;
        GroupPc = chosen;
        // A rotated group runs on its own until it blocks or its slice ends; the next regroup merges again.
        MinOtherPc = rotated ? int.MaxValue : other;
        Rotate = false;
        return true;
    }
}
