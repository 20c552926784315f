using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda.Emulator;

internal enum ThreadStatus { Running, AtBarrier, AtShuffle, Exited }

/// <summary>One emulated thread: a program counter and its registers (raw bits, 32-bit values zero-extended).</summary>
internal sealed class EmulatedThread
{
    public required int Linear { get; init; }
    public required int X { get; init; }
    public required int Y { get; init; }
    public required int Z { get; init; }
    public required ulong[] Registers { get; init; }
    public byte[]? Local { get; init; }
    public int Pc { get; set; }
    public ThreadStatus Status { get; set; }
    public int Lane => Linear & 31;
    public int Warp => Linear >> 5;
}

/// <summary>
/// Runs one launch: blocks one after another, and within a block each thread as a state machine
/// that runs until it reaches bar.sync, a shuffle or ret, or uses up its time slice (so a thread
/// spinning on another thread's write lets that thread run). Barriers release when every live thread
/// of the block waits; shuffles when every live lane of the warp waits. A state nobody can leave is
/// reported as a deadlock naming the threads and instructions involved.
/// </summary>
internal sealed partial class PtxInterpreter
{
    private readonly PKernel _kernel;
    private readonly EmulatorMemory _memory;
    private readonly byte[] _params;
    private readonly Dim3 _grid;
    private readonly Dim3 _block;
    private readonly int _dynamicShared;
    private readonly System.Random? _shuffle;
    private readonly Dictionary<string, PVariable> _variables;
    private byte[] _shared = [];
    private int _blockX, _blockY, _blockZ;

    public PtxInterpreter(PKernel kernel, EmulatorMemory memory, byte[] parameters, Dim3 grid, Dim3 block, int dynamicShared, int? shuffleSeed)
    {
        _kernel = kernel;
        _memory = memory;
        _params = parameters;
        _grid = grid;
        _block = block;
        _dynamicShared = dynamicShared;
        _shuffle = shuffleSeed is int seed ? new System.Random(seed) : null;
        _variables = kernel.Variables.ToDictionary(v => v.Name, StringComparer.Ordinal);
    }

    public void Run()
    {
        var blocks = new List<(int X, int Y, int Z)>();
        for (int z = 0; z < _grid.Z; z++)
            for (int y = 0; y < _grid.Y; y++)
                for (int x = 0; x < _grid.X; x++)
                    blocks.Add((x, y, z));
        if (_shuffle is not null)
            _shuffle.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(blocks));
        foreach ((int x, int y, int z) in blocks)
        {
            (_blockX, _blockY, _blockZ) = (x, y, z);
            RunBlock();
        }
    }

    private EmulatedThread[]? _threads;

    /// <summary>Threads are created once per launch (their coordinates do not change between blocks) and reset per block.</summary>
    private EmulatedThread[] Threads()
    {
        if (_threads is not null)
        {
            foreach (EmulatedThread t in _threads)
            {
                t.Pc = 0;
                t.Status = ThreadStatus.Running;
                Array.Clear(t.Registers);
                if (t.Local is not null)
                    Array.Fill(t.Local, EmulatorMemory.Poison);
            }
            return _threads;
        }
        int count = (int)_block.Count;
        _threads = new EmulatedThread[count];
        for (int i = 0; i < count; i++)
        {
            byte[]? local = null;
            if (_kernel.LocalBytes > 0)
            {
                local = new byte[_kernel.LocalBytes];
                Array.Fill(local, EmulatorMemory.Poison);
            }
            _threads[i] = new EmulatedThread
            {
                Linear = i,
                X = i % _block.X,
                Y = i / _block.X % _block.Y,
                Z = i / (_block.X * _block.Y),
                Registers = new ulong[_kernel.RegisterCount],
                Local = local,
            };
        }
        return _threads;
    }

    private void RunBlock()
    {
        int count = (int)_block.Count;
        if (_shared.Length != _kernel.StaticSharedBytes + _dynamicShared)
            _shared = new byte[_kernel.StaticSharedBytes + _dynamicShared];
        Array.Fill(_shared, EmulatorMemory.Poison);
        EmulatedThread[] threads = Threads();
        int[] order = Enumerable.Range(0, count).ToArray();
        if (_shuffle is not null)
            _shuffle.Shuffle(order);
        while (true)
        {
            foreach (int i in order)
                if (threads[i].Status == ThreadStatus.Running)
                    Execute(threads[i]);
            bool progressed = ReleaseShuffles(threads);
            int live = 0, atBarrier = 0, running = 0;
            foreach (EmulatedThread t in threads)
            {
                if (t.Status != ThreadStatus.Exited)
                    live++;
                if (t.Status == ThreadStatus.AtBarrier)
                    atBarrier++;
                if (t.Status == ThreadStatus.Running)
                    running++;
            }
            if (live == 0)
                return;
            if (running > 0)
                continue; // preempted threads (long loops, spin-waits) get another slice
            if (!progressed && atBarrier == live)
            {
                foreach (EmulatedThread t in threads)
                    if (t.Status == ThreadStatus.AtBarrier)
                        t.Status = ThreadStatus.Running;
                progressed = true;
            }
            if (!progressed)
                throw Deadlock(threads);
        }
    }

    private bool ReleaseShuffles(EmulatedThread[] threads)
    {
        bool any = false;
        for (int w = 0; w * 32 < threads.Length; w++)
        {
            int start = w * 32, end = Math.Min(threads.Length, start + 32);
            bool all = true, some = false;
            for (int i = start; i < end; i++)
            {
                if (threads[i].Status == ThreadStatus.AtShuffle)
                    some = true;
                else if (threads[i].Status != ThreadStatus.Exited)
                    all = false;
            }
            if (!some || !all)
                continue;
            int reference = -1;
            var values = new ulong[32];
            for (int i = start; i < end; i++)
            {
                EmulatedThread t = threads[i];
                if (t.Status != ThreadStatus.AtShuffle)
                    continue;
                reference = reference < 0 ? t.Pc : reference;
                values[i - start] = Read(t, _kernel.Code[t.Pc].Sources[0]);
            }
            for (int i = start; i < end; i++)
            {
                EmulatedThread t = threads[i];
                if (t.Status != ThreadStatus.AtShuffle)
                    continue;
                PInstruction ins = _kernel.Code[t.Pc];
                if (t.Pc != reference)
                    throw new PtxEmulatorException($"{_kernel.Name}: lanes of warp {w} in block ({_blockX},{_blockY},{_blockZ}) meet at different shuffles ('{ins.Text}' and '{_kernel.Code[reference].Text}'); every lane must execute the same shuffle");
                int b = (int)Read(t, ins.Sources[1]);
                int lane = i - start;
                int source = ins.Modifier switch
                {
                    "bfly" => lane ^ b,
                    "down" => lane + b,
                    "up" => lane - b,
                    _ => b & 31,
                };
                bool valid = ins.Modifier == "up" ? source >= 0 : source <= 31;
                if (valid && (source >= end - start || threads[start + source].Status == ThreadStatus.Exited))
                    throw new PtxEmulatorException($"{_kernel.Name}: thread {t.Linear} shuffles from lane {source}, which {(source >= end - start ? "does not exist (the block is not a multiple of 32 threads)" : "has exited")}; keep every lane of the warp alive through warp operations");
                t.Registers[ins.Dest.Register] = valid ? values[source] : values[lane];
                t.Status = ThreadStatus.Running;
                t.Pc++;
                any = true;
            }
        }
        return any;
    }

    private PtxEmulatorException Deadlock(EmulatedThread[] threads)
    {
        var groups = threads.Where(t => t.Status != ThreadStatus.Exited)
            .GroupBy(t => (t.Status, t.Status == ThreadStatus.AtBarrier ? t.Pc - 1 : t.Pc))
            .Select(g => $"{g.Count()} thread(s) {g.Key.Status} '{_kernel.Code[Math.Max(g.Key.Item2, 0)].Text}' (first: {g.First().Linear})");
        return new PtxEmulatorException($"{_kernel.Name}: deadlock in block ({_blockX},{_blockY},{_blockZ}): {string.Join("; ", groups)}. " +
            "A bar.sync must be reached by every live thread of the block and a shuffle by every live lane of the warp; move them out of divergent branches.");
    }

    private PtxEmulatorException Fault(EmulatedThread t, string message, Exception? inner = null)
    {
        string where = $"{_kernel.Name}: block ({_blockX},{_blockY},{_blockZ}) thread ({t.X},{t.Y},{t.Z}) at '{_kernel.Code[t.Pc].Text}': {message}";
        return inner is null ? new PtxEmulatorException(where) : new PtxEmulatorException(where, inner);
    }
}
