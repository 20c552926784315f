using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda;

/// <summary>An address in device memory (CUdeviceptr).</summary>
public readonly record struct DevicePointer(ulong Address)
{
    public bool IsNull => Address == 0;

    public DevicePointer Offset(long bytes) => new(Address + (ulong)bytes);

    public override string ToString() => $"0x{Address:x}";
}

/// <summary>A loaded PTX module (CUmodule).</summary>
public readonly record struct ModuleHandle(nint Value);

/// <summary>A kernel entry of a loaded module (CUfunction).</summary>
public readonly record struct FunctionHandle(nint Value);

/// <summary>A stream (CUstream); the default stream is <c>default</c>.</summary>
public readonly record struct StreamHandle(nint Value);

/// <summary>An event for timing (CUevent).</summary>
public readonly record struct EventHandle(nint Value);

/// <summary>What a driver says about its device.</summary>
public sealed record DeviceProperties(
    string Name,
    int ComputeCapabilityMajor,
    int ComputeCapabilityMinor,
    long TotalMemoryBytes,
    int MultiprocessorCount,
    int MaxThreadsPerBlock,
    int MaxSharedMemoryPerBlock);

/// <summary>
/// The CUDA driver operations Tessera needs. Two implementations: <see cref="CudaDriver"/> (the real
/// driver API through P/Invoke) and <see cref="Emulator.PtxEmulatorDriver"/> (executes the PTX on the CPU).
/// </summary>
public interface IDriver : IDisposable
{
    /// <summary>"cuda" or "ptx-emulator".</summary>
    string Name { get; }

    DeviceProperties Device { get; }

    DevicePointer Allocate(long bytes);

    void Free(DevicePointer pointer);

    void CopyToDevice(DevicePointer destination, ReadOnlySpan<byte> source);

    void CopyToHost(Span<byte> destination, DevicePointer source);

    void Memset(DevicePointer destination, byte value, long bytes);

    /// <summary>Loads PTX text; JIT errors surface as exceptions carrying the JIT log.</summary>
    ModuleHandle LoadModule(string ptx);

    void UnloadModule(ModuleHandle module);

    FunctionHandle GetFunction(ModuleHandle module, string entryName);

    /// <summary>
    /// Launches <paramref name="function"/>. <paramref name="arguments"/> holds the bytes of each
    /// scalar .param in declaration order.
    /// </summary>
    void Launch(FunctionHandle function, Dim3 grid, Dim3 block, int dynamicSharedBytes, StreamHandle stream, IReadOnlyList<byte[]> arguments);

    StreamHandle CreateStream();

    void DestroyStream(StreamHandle stream);

    void SynchronizeStream(StreamHandle stream);

    EventHandle CreateEvent();

    void RecordEvent(EventHandle timingEvent, StreamHandle stream);

    float ElapsedMilliseconds(EventHandle start, EventHandle end);

    void DestroyEvent(EventHandle timingEvent);

    /// <summary>Waits for all work on the device.</summary>
    void Synchronize();

    /// <summary>The driver's text for a result code.</summary>
    string DescribeError(int code);
}

/// <summary>A driver call failed; the message names the call and the error.</summary>
public sealed class CudaException : Exception
{
    public CudaException() { }

    public CudaException(string message) : base(message) { }

    public CudaException(string message, Exception inner) : base(message, inner) { }

    public CudaException(string call, int code, string description, string? log = null)
        : base($"{call} failed with CUDA error {code} ({description}){(string.IsNullOrWhiteSpace(log) ? "" : "\n" + log)}")
    {
        Call = call;
        Code = code;
    }

    public string? Call { get; }

    public int Code { get; }
}
