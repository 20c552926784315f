using System.Numerics;
using System.Runtime.CompilerServices;
using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Runs the blocks of one launch, one after another (one runner per worker when blocks run in
/// parallel). Within a block each warp runs its lanes together until they all reach bar.sync,
/// a warp rendezvous they cannot complete alone, or ret, or the warp uses up its time slice (so
/// a thread spinning on another thread's write lets that thread run). Barriers release when every
/// live thread of the block waits; shuffles when every live lane of the warp waits. A state
/// nobody can leave is reported as a deadlock naming the threads and instructions involved.
/// With a shuffle seed, threads run one at a time in a shuffled order for random short slices.
/// </summary>
internal sealed partial class BlockRunner
{
    /// <summary>Warp instructions a warp runs before the scheduler moves on to the next warp.</summary>
    private const int TimeSlice = 1 << 16;

    private readonly PKernel _kernel;
    private readonly PtxProgram _program;
    private readonly XInst[] _code;
    private readonly EmulatorMemory _memory;
    private readonly byte[]?[] _table;
    private readonly Dim3 _block;
    private readonly int _threadCount;
    private readonly int _localBytes;
    private readonly System.Random? _shuffle;
    private readonly EmulatedWarp[] _warps;
    private readonly byte[] _shared;

    /// <summary>bar.red: each waiting thread's predicate, by linear thread index.</summary>
    private readonly bool[] _votes;
    private int _blockX, _blockY, _blockZ;

    public BlockRunner(PKernel kernel, EmulatorMemory memory, byte[] parameters, Dim3 grid, Dim3 block, int dynamicShared, System.Random? shuffle)
    {
        _kernel = kernel;
        _program = kernel.Program!;
        _code = _program.Code;
        _memory = memory;
        _table = memory.Table;
        _block = block;
        _threadCount = (int)block.Count;
        _localBytes = kernel.LocalBytes;
        _shuffle = shuffle;
        _shared = new byte[kernel.StaticSharedBytes + dynamicShared];
        _votes = new bool[_threadCount];
        _warps = new EmulatedWarp[(_threadCount + 31) / 32];
        for (int w = 0; w < _warps.Length; w++)
        {
            var warp = new EmulatedWarp(w, Math.Min(32, _threadCount - w * 32), _program.FileRegisters, _localBytes);
            ulong[] file = warp.File;
            int special = _program.SpecialBase * 32;
            for (int l = 0; l < 32; l++)
            {
                int linear = w * 32 + l;
                ulong[] values =
                [
                    (ulong)(linear % block.X), (ulong)(linear / block.X % block.Y), (ulong)(linear / (block.X * block.Y)),
                    (ulong)block.X, (ulong)block.Y, (ulong)block.Z, 0, 0, 0,
                    (ulong)grid.X, (ulong)grid.Y, (ulong)grid.Z, (ulong)l, (ulong)dynamicShared,
                ];
                for (int s = 0; s < values.Length; s++)
                    file[special + s * 32 + l] = values[s];
            }
            for (int c = 0; c < _program.Constants.Length; c++)
                Array.Fill(file, _program.Constants[c], (_program.ConstantBase + c) * 32, 32);
            for (int p = 0; p < _program.Parameters.Length; p++)
                Array.Fill(file, Parameter(parameters, _program.Parameters[p]), (_program.ParameterBase + p) * 32, 32);
            _warps[w] = warp;
        }
    }

    private static ulong Parameter(byte[] parameters, (int Offset, int Size, bool SignExtend) read)
    {
        ulong raw = 0;
        for (int i = read.Size - 1; i >= 0; i--)
            raw = raw << 8 | parameters[read.Offset + i];
        return !read.SignExtend ? raw : read.Size == 1 ? (uint)(sbyte)raw : (uint)(short)raw;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run(int blockX, int blockY, int blockZ)
    {
        (_blockX, _blockY, _blockZ) = (blockX, blockY, blockZ);
        Array.Fill(_shared, EmulatorMemory.Poison);
        int ctaid = (_program.SpecialBase + 6) * 32;
        foreach (EmulatedWarp w in _warps)
        {
            w.Reset();
            ulong[] file = w.File;
            // Registers a thread might read before writing them start at zero, as in every block.
            foreach (int r in _program.ReadBeforeWrite)
                Array.Clear(file, r * 32, 32);
            Array.Fill(file, (ulong)blockX, ctaid, 32);
            Array.Fill(file, (ulong)blockY, ctaid + 32, 32);
            Array.Fill(file, (ulong)blockZ, ctaid + 64, 32);
            if (w.Local is not null)
                Array.Fill(w.Local, EmulatorMemory.Poison);
        }
        if (_shuffle is null)
            RunInLockstep();
        else
            RunShuffled();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunInLockstep()
    {
        while (true)
        {
            foreach (EmulatedWarp w in _warps)
                if (w.Running != 0)
                    RunWarp(w, TimeSlice);
            if (Settle())
                return;
        }
    }

    private void RunShuffled()
    {
        int[] order = Enumerable.Range(0, _threadCount).ToArray();
        _shuffle!.Shuffle(order);
        while (true)
        {
            foreach (int i in order)
            {
                EmulatedWarp w = _warps[i >> 5];
                if ((w.Running & 1u << (i & 31)) != 0)
                    RunLane(w, i & 31, _shuffle.Next(1, 48));
            }
            if (Settle())
                return;
        }
    }

    /// <summary>After a round: completes warp rendezvous and barriers; true when every thread has exited.</summary>
    private bool Settle()
    {
        bool progressed = ReleaseRendezvous();
        int live = 0, atBarrier = 0, running = 0;
        foreach (EmulatedWarp w in _warps)
        {
            live += BitOperations.PopCount(w.Live);
            atBarrier += BitOperations.PopCount(w.AtBarrier);
            running += BitOperations.PopCount(w.Running);
        }
        if (live == 0)
            return true;
        if (running > 0)
            return false; // preempted threads (long loops, spin-waits) get another slice
        if (!progressed && atBarrier == live)
        {
            ReduceAtBarrier();
            foreach (EmulatedWarp w in _warps)
            {
                w.Running |= w.AtBarrier;
                w.AtBarrier = 0;
            }
            progressed = true;
        }
        return progressed ? false : throw Deadlock();
    }

    /// <summary>
    /// bar.red.popc/and/or: once every live thread waits, each gets the count (or the and/or) of
    /// the predicates of all of them. Threads waiting at a plain bar.sync while others wait at a
    /// bar.red is undefined in PTX and reported.
    /// </summary>
    private void ReduceAtBarrier()
    {
        int count = 0, reducing = 0, waiting = 0;
        int firstPc = -1;
        foreach (EmulatedWarp w in _warps)
            for (uint m = w.AtBarrier; m != 0; m &= m - 1)
            {
                int l = BitOperations.TrailingZeroCount(m);
                int pc = w.Pc[l] - 1;
                waiting++;
                if (_code[pc].Op != XOp.BarRed)
                    continue;
                if (firstPc >= 0 && _kernel.Code[pc].Modifier != _kernel.Code[firstPc].Modifier)
                    throw new PtxEmulatorException($"{_kernel.Name}: threads of block ({_blockX},{_blockY},{_blockZ}) meet at different barrier reductions ('{_kernel.Code[firstPc].Text}' and '{_kernel.Code[pc].Text}')");
                firstPc = firstPc < 0 ? pc : firstPc;
                reducing++;
                count += _votes[w.Index * 32 + l] ? 1 : 0;
            }
        if (reducing == 0)
            return;
        if (reducing != waiting)
            throw new PtxEmulatorException($"{_kernel.Name}: in block ({_blockX},{_blockY},{_blockZ}) {reducing} thread(s) wait at '{_kernel.Code[firstPc].Text}' and {waiting - reducing} at a plain barrier; every thread must reach the same bar.red");
        ulong result = _kernel.Code[firstPc].Modifier switch
        {
            "popc" => (ulong)count,
            "and" => count == reducing ? 1UL : 0UL,
            _ => count > 0 ? 1UL : 0UL,
        };
        foreach (EmulatedWarp w in _warps)
            for (uint m = w.AtBarrier; m != 0; m &= m - 1)
            {
                int l = BitOperations.TrailingZeroCount(m);
                w.File[_code[w.Pc[l] - 1].D + l] = result;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunWarp(EmulatedWarp w, int budget)
    {
        if (w.Group == 0 && !w.Regroup())
            return;
        for (; budget > 0; budget--)
        {
            Step(w);
            if (w.Group == 0 || w.GroupPc >= w.MinOtherPc)
            {
                w.Spill();
                if (!w.Regroup())
                    return;
            }
        }
        w.Spill();
        w.Rotate = w.Running != w.Group;
        w.Group = 0;
    }

    /// <summary>Runs one lane alone (shuffled mode): no other lane joins it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RunLane(EmulatedWarp w, int lane, int budget)
    {
        w.Group = 1u << lane;
        w.GroupPc = w.Pc[lane];
        w.MinOtherPc = int.MaxValue;
        for (; budget > 0 && w.Group != 0; budget--)
            Step(w);
        w.Spill();
        w.Group = 0;
    }

    /// <summary>Warps whose live lanes all wait at one shuffle or mma run it; false when none could.</summary>
    private bool ReleaseRendezvous()
    {
        bool any = false;
        foreach (EmulatedWarp w in _warps)
        {
            if (w.Running != 0 || w.AtBarrier != 0 || w.Live == 0)
                continue;
            int first = BitOperations.TrailingZeroCount(w.Live);
            int pc = w.Pc[first];
            for (uint m = w.Live; m != 0; m &= m - 1)
            {
                int l = BitOperations.TrailingZeroCount(m);
                if (w.Pc[l] != pc)
                    throw new PtxEmulatorException($"{_kernel.Name}: lanes of warp {w.Index} in block ({_blockX},{_blockY},{_blockZ}) meet at different warp operations ('{_kernel.Code[w.Pc[l]].Text}' and '{_kernel.Code[pc].Text}'); every lane must execute the same shuffle");
            }
            Collective(w, ref _code[pc], w.Live, pc);
            for (uint m = w.Live; m != 0; m &= m - 1)
                w.Pc[BitOperations.TrailingZeroCount(m)] = pc + 1;
            w.Running = w.Live;
            w.Group = 0;
            any = true;
        }
        return any;
    }

    private PtxEmulatorException Deadlock()
    {
        var waiting = new List<(ThreadStatus Status, int Pc, int Linear)>();
        foreach (EmulatedWarp w in _warps)
            for (uint m = w.Live; m != 0; m &= m - 1)
            {
                int l = BitOperations.TrailingZeroCount(m);
                ThreadStatus status = w.Status(l);
                waiting.Add((status, status == ThreadStatus.AtBarrier ? w.Pc[l] - 1 : w.Pc[l], w.Index * 32 + l));
            }
        var groups = waiting.GroupBy(t => (t.Status, t.Pc))
            .Select(g => $"{g.Count()} thread(s) {g.Key.Status} '{_kernel.Code[Math.Max(g.Key.Pc, 0)].Text}' (first: {g.First().Linear})");
        return new PtxEmulatorException($"{_kernel.Name}: deadlock in block ({_blockX},{_blockY},{_blockZ}): {string.Join("; ", groups)}. " +
            "A bar.sync must be reached by every live thread of the block and a shuffle by every live lane of the warp; move them out of divergent branches.");
    }

    private PtxEmulatorException Fault(EmulatedWarp w, int lane, int pc, string message, Exception? inner = null)
    {
        int linear = w.Index * 32 + lane;
        int x = linear % _block.X, y = linear / _block.X % _block.Y, z = linear / (_block.X * _block.Y);
        string where = $"{_kernel.Name}: block ({_blockX},{_blockY},{_blockZ}) thread ({x},{y},{z}) at '{_kernel.Code[pc].Text}': {message}";
        return inner is null ? new PtxEmulatorException(where) : new PtxEmulatorException(where, inner);
    }
}
