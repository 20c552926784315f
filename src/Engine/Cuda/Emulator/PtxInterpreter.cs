using Tessera.Engine.Gpu;
using Tessera.Engine.Threading;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>
/// Runs one launch. The kernel is decoded once (<see cref="PtxDecoder"/>); blocks run on
/// <see cref="BlockRunner"/>s, in parallel across cores (<see cref="CpuParallel"/>) when the kernel
/// has no global atomics and no shuffle seed is set. Blocks of a race-free kernel without atomics
/// cannot observe each other, so the result is the same as in order; kernels with global atomics
/// run their blocks in order on one thread, so float atomics give the same bits every run.
/// </summary>
internal sealed class PtxInterpreter
{
    private readonly PKernel _kernel;
    private readonly EmulatorMemory _memory;
    private readonly byte[] _params;
    private readonly Dim3 _grid;
    private readonly Dim3 _block;
    private readonly int _dynamicShared;
    private readonly System.Random? _shuffle;
    private readonly bool _parallel;

    public PtxInterpreter(PKernel kernel, EmulatorMemory memory, byte[] parameters, Dim3 grid, Dim3 block, int dynamicShared, int? shuffleSeed, bool parallelBlocks = true)
    {
        _kernel = kernel;
        _memory = memory;
        _params = parameters;
        _grid = grid;
        _block = block;
        _dynamicShared = dynamicShared;
        _shuffle = shuffleSeed is int seed ? new System.Random(seed) : null;
        _parallel = parallelBlocks;
    }

    public void Run()
    {
        _kernel.Program ??= PtxDecoder.Decode(_kernel);
        var blocks = new (int X, int Y, int Z)[_grid.Count];
        int n = 0;
        for (int z = 0; z < _grid.Z; z++)
            for (int y = 0; y < _grid.Y; y++)
                for (int x = 0; x < _grid.X; x++)
                    blocks[n++] = (x, y, z);
        if (_shuffle is not null)
            _shuffle.Shuffle(blocks);
        int threads = CpuParallel.EffectiveThreads;
        if (!_parallel || _shuffle is not null || _kernel.Program.HasGlobalAtomics || threads == 1 || blocks.Length < 2)
        {
            var runner = new BlockRunner(_kernel, _memory, _params, _grid, _block, _dynamicShared, _shuffle);
            foreach ((int x, int y, int z) in blocks)
                runner.Run(x, y, z);
            return;
        }
        RunParallel(blocks, threads);
    }

    /// <summary>
    /// Contiguous ranges of blocks per worker. A fault stops the workers at later blocks; the
    /// one reported is the fault of the lowest block, as a run in order would report it.
    /// </summary>
    private void RunParallel((int X, int Y, int Z)[] blocks, int threads)
    {
        int firstFault = int.MaxValue;
        var faults = new PtxEmulatorException?[blocks.Length];
        CpuParallel.For(blocks.Length, (blocks.Length + threads - 1) / threads, (start, end) =>
        {
            var runner = new BlockRunner(_kernel, _memory, _params, _grid, _block, _dynamicShared, null);
            for (int b = start; b < end && b < Volatile.Read(ref firstFault); b++)
            {
                try
                {
                    runner.Run(blocks[b].X, blocks[b].Y, blocks[b].Z);
                }
                catch (PtxEmulatorException e)
                {
                    faults[b] = e;
                    int seen;
                    while (b < (seen = Volatile.Read(ref firstFault)) && Interlocked.CompareExchange(ref firstFault, b, seen) != seen)
                    {
                    }
                    return;
                }
            }
        });
        if (firstFault != int.MaxValue)
            throw faults[firstFault]!;
    }
}
