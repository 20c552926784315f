using System.Diagnostics;
using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>Options of the emulated device.</summary>
public sealed record PtxEmulatorOptions
{
    /// <summary>
    /// When set, blocks and the threads of each block run in an order shuffled with this seed, and
    /// threads are switched after random short runs of instructions, to expose races.
    /// </summary>
    public int? ShuffleSeed { get; init; }

    /// <summary>
    /// Run the blocks of a launch in parallel across cores (through <c>CpuParallel</c>) when the
    /// kernel has no global atomics and no <see cref="ShuffleSeed"/> is set. Results of race-free
    /// kernels do not depend on it.
    /// </summary>
    public bool ParallelBlocks { get; init; } = true;

    /// <summary>Dynamic shared memory allowed per block (the real limit on sm_80 is 163 KiB with opt-in).</summary>
    public int MaxSharedMemoryPerBlock { get; init; } = 99 * 1024;
}

/// <summary>
/// A CUDA driver that executes PTX text on the CPU. Launches run synchronously on the calling
/// thread; streams and events exist so that code written for the real driver runs unchanged.
/// One instance is one device: use it from one thread at a time.
/// </summary>
public sealed class PtxEmulatorDriver : IDriver
{
    private readonly EmulatorMemory _memory = new();
    private readonly List<List<PKernel>?> _modules = [null];
    private readonly List<PKernel> _functions = [null!];
    private readonly Dictionary<nint, long> _events = [];
    private readonly PtxEmulatorOptions _options;
    private nint _nextHandle = 1;
    private bool _disposed;

    public PtxEmulatorDriver(PtxEmulatorOptions? options = null)
    {
        _options = options ?? new PtxEmulatorOptions();
        Device = new DeviceProperties("Tessera PTX emulator", 8, 0, 1L << 34, 1, 1024, _options.MaxSharedMemoryPerBlock);
    }

    public string Name => "ptx-emulator";

    public DeviceProperties Device { get; }

    /// <summary>Bytes currently allocated (for leak checks in tests).</summary>
    public long BytesInUse => _memory.BytesInUse;

    public DevicePointer Allocate(long bytes)
    {
        ThrowIfDisposed();
        return _memory.Allocate(bytes);
    }

    public void Free(DevicePointer pointer) => _memory.Free(pointer);

    public void CopyToDevice(DevicePointer destination, ReadOnlySpan<byte> source)
    {
        ThrowIfDisposed();
        if (source.Length > 0)
            source.CopyTo(_memory.Span(destination.Address, source.Length, "copy to device"));
    }

    public void CopyToHost(Span<byte> destination, DevicePointer source)
    {
        ThrowIfDisposed();
        if (destination.Length > 0)
            _memory.Span(source.Address, destination.Length, "copy to host").CopyTo(destination);
    }

    public void Memset(DevicePointer destination, byte value, long bytes)
    {
        ThrowIfDisposed();
        if (bytes > 0)
            _memory.Span(destination.Address, checked((int)bytes), "memset").Fill(value);
    }

    public ModuleHandle LoadModule(string ptx)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(ptx);
        _modules.Add(PtxParser.Parse(ptx));
        return new ModuleHandle(_modules.Count - 1);
    }

    public void UnloadModule(ModuleHandle module) => _modules[(int)module.Value] = null;

    public FunctionHandle GetFunction(ModuleHandle module, string entryName)
    {
        List<PKernel> kernels = _modules[(int)module.Value] ?? throw new CudaException($"cuModuleGetFunction: module {module.Value} was unloaded");
        PKernel kernel = kernels.Find(k => k.Name == entryName)
            ?? throw new CudaException($"cuModuleGetFunction: no entry '{entryName}' in the module; it has {string.Join(", ", kernels.Select(k => k.Name))}");
        _functions.Add(kernel);
        return new FunctionHandle(_functions.Count - 1);
    }

    public void Launch(FunctionHandle function, Dim3 grid, Dim3 block, int dynamicSharedBytes, StreamHandle stream, IReadOnlyList<byte[]> arguments)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(arguments);
        PKernel kernel = _functions[(int)function.Value];
        if (grid.X <= 0 || grid.Y <= 0 || grid.Z <= 0 || block.X <= 0 || block.Y <= 0 || block.Z <= 0)
            throw new CudaException($"cuLaunchKernel({kernel.Name}): grid {grid} and block {block} must be positive in every dimension");
        if (block.Count > Device.MaxThreadsPerBlock)
            throw new CudaException($"cuLaunchKernel({kernel.Name}): {block.Count} threads per block; the limit is {Device.MaxThreadsPerBlock}");
        if (kernel.StaticSharedBytes + dynamicSharedBytes > Device.MaxSharedMemoryPerBlock)
            throw new CudaException($"cuLaunchKernel({kernel.Name}): {kernel.StaticSharedBytes} static + {dynamicSharedBytes} dynamic shared bytes exceed {Device.MaxSharedMemoryPerBlock}");
        if (arguments.Count != kernel.Params.Count)
            throw new CudaException($"cuLaunchKernel({kernel.Name}): {arguments.Count} arguments for {kernel.Params.Count} parameters");
        var parameters = new byte[kernel.ParamBytes];
        for (int i = 0; i < arguments.Count; i++)
        {
            if (arguments[i].Length != kernel.Params[i].Size)
                throw new CudaException($"cuLaunchKernel({kernel.Name}): argument {i} ({kernel.Params[i].Name}) has {arguments[i].Length} bytes, the parameter .{kernel.Params[i].Type.ToString().ToLowerInvariant()} needs {kernel.Params[i].Size}");
            arguments[i].CopyTo(parameters, kernel.Params[i].Offset);
        }
        new PtxInterpreter(kernel, _memory, parameters, grid, block, dynamicSharedBytes, _options.ShuffleSeed, _options.ParallelBlocks).Run();
    }

    public StreamHandle CreateStream() => new(_nextHandle++);

    public void DestroyStream(StreamHandle stream)
    {
    }

    public void SynchronizeStream(StreamHandle stream)
    {
    }

    public EventHandle CreateEvent()
    {
        var handle = new EventHandle(_nextHandle++);
        _events[handle.Value] = 0;
        return handle;
    }

    public void RecordEvent(EventHandle timingEvent, StreamHandle stream) => _events[timingEvent.Value] = Stopwatch.GetTimestamp();

    public float ElapsedMilliseconds(EventHandle start, EventHandle end)
        => (float)Stopwatch.GetElapsedTime(_events[start.Value], _events[end.Value]).TotalMilliseconds;

    public void DestroyEvent(EventHandle timingEvent) => _events.Remove(timingEvent.Value);

    public void Synchronize()
    {
    }

    public string DescribeError(int code) => code == 0 ? "no error" : $"emulator error {code}";

    public void Dispose() => _disposed = true;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
