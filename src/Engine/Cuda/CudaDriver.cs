using System.Runtime.InteropServices;
using System.Text;
using Tessera.Engine.Gpu;

namespace Tessera.Engine.Cuda;

/// <summary>
/// The CUDA driver API through P/Invoke: the device's primary context, _v2 entry points, modules
/// loaded from PTX with the JIT logs surfaced in exceptions. Every result code is checked.
/// </summary>
public sealed unsafe class CudaDriver : IDriver
{
    private const int AttributeMaxThreadsPerBlock = 1;
    private const int AttributeMaxSharedPerBlock = 8;
    private const int AttributeMultiprocessorCount = 16;
    private const int AttributeComputeMajor = 75;
    private const int AttributeComputeMinor = 76;
    private const int AttributeMaxSharedPerBlockOptIn = 97;
    private const int FuncAttributeMaxDynamicShared = 8;
    private const int JitInfoLogBuffer = 3, JitInfoLogSize = 4, JitErrorLogBuffer = 5, JitErrorLogSize = 6;
    private const int LogBytes = 16 * 1024;

    private readonly CudaNative _cu;
    private readonly int _device;
    private readonly nint _context;
    private readonly int _optInShared;
    private bool _disposed;

    private CudaDriver(CudaNative cu, int ordinal)
    {
        _cu = cu;
        Check(cu.Init(0), "cuInit");
        int count;
        Check(cu.DeviceGetCount(&count), "cuDeviceGetCount");
        if (ordinal >= count)
            throw new CudaException($"CUDA device {ordinal} was requested but the driver reports {count} device(s)");
        int device;
        Check(cu.DeviceGet(&device, ordinal), "cuDeviceGet");
        _device = device;
        nint context;
        Check(cu.PrimaryCtxRetain(&context, device), "cuDevicePrimaryCtxRetain");
        _context = context;
        MakeCurrent();
        byte* name = stackalloc byte[256];
        Check(cu.DeviceGetName(name, 256, device), "cuDeviceGetName");
        nuint total;
        Check(cu.DeviceTotalMem(&total, device), "cuDeviceTotalMem_v2");
        _optInShared = Attribute(AttributeMaxSharedPerBlockOptIn);
        Device = new DeviceProperties(Marshal.PtrToStringUTF8((nint)name) ?? "CUDA device",
            Attribute(AttributeComputeMajor), Attribute(AttributeComputeMinor), (long)total,
            Attribute(AttributeMultiprocessorCount), Attribute(AttributeMaxThreadsPerBlock), Attribute(AttributeMaxSharedPerBlock));
    }

    public string Name => "cuda";

    public DeviceProperties Device { get; }

    /// <summary>Opens device <paramref name="ordinal"/>, or returns null with the reason (no driver, no device).</summary>
    public static CudaDriver? TryCreate(out string reason, int ordinal = 0)
    {
        CudaNative? cu = CudaNative.TryLoad(out reason);
        if (cu is null)
            return null;
        try
        {
            return new CudaDriver(cu, ordinal);
        }
        catch (CudaException e)
        {
            reason = e.Message;
            return null;
        }
    }

    public DevicePointer Allocate(long bytes)
    {
        MakeCurrent();
        ulong pointer;
        Check(_cu.MemAlloc(&pointer, (nuint)bytes), "cuMemAlloc_v2");
        return new DevicePointer(pointer);
    }

    public void Free(DevicePointer pointer)
    {
        MakeCurrent();
        Check(_cu.MemFree(pointer.Address), "cuMemFree_v2");
    }

    public void CopyToDevice(DevicePointer destination, ReadOnlySpan<byte> source)
    {
        MakeCurrent();
        fixed (byte* p = source)
            Check(_cu.MemcpyHtoD(destination.Address, p, (nuint)source.Length), "cuMemcpyHtoD_v2");
    }

    public void CopyToHost(Span<byte> destination, DevicePointer source)
    {
        MakeCurrent();
        fixed (byte* p = destination)
            Check(_cu.MemcpyDtoH(p, source.Address, (nuint)destination.Length), "cuMemcpyDtoH_v2");
    }

    public void Memset(DevicePointer destination, byte value, long bytes)
    {
        MakeCurrent();
        Check(_cu.MemsetD8(destination.Address, value, (nuint)bytes), "cuMemsetD8_v2");
    }

    public ModuleHandle LoadModule(string ptx)
    {
        ArgumentNullException.ThrowIfNull(ptx);
        MakeCurrent();
        byte[] text = Encoding.UTF8.GetBytes(ptx + "\0");
        byte[] info = new byte[LogBytes], error = new byte[LogBytes];
        int* options = stackalloc int[] { JitInfoLogBuffer, JitInfoLogSize, JitErrorLogBuffer, JitErrorLogSize };
        fixed (byte* pText = text, pInfo = info, pError = error)
        {
            void** values = stackalloc void*[] { pInfo, (void*)LogBytes, pError, (void*)LogBytes };
            nint module;
            int result = _cu.ModuleLoadDataEx(&module, pText, 4, options, values);
            if (result != 0)
                throw new CudaException("cuModuleLoadDataEx", result, DescribeError(result),
                    $"JIT error log:\n{Marshal.PtrToStringUTF8((nint)pError)}\nJIT info log:\n{Marshal.PtrToStringUTF8((nint)pInfo)}");
            return new ModuleHandle(module);
        }
    }

    public void UnloadModule(ModuleHandle module)
    {
        MakeCurrent();
        Check(_cu.ModuleUnload(module.Value), "cuModuleUnload");
    }

    public FunctionHandle GetFunction(ModuleHandle module, string entryName)
    {
        ArgumentNullException.ThrowIfNull(entryName);
        MakeCurrent();
        byte[] name = Encoding.UTF8.GetBytes(entryName + "\0");
        nint function;
        fixed (byte* p = name)
            Check(_cu.ModuleGetFunction(&function, module.Value, p), $"cuModuleGetFunction({entryName})");
        return new FunctionHandle(function);
    }

    public void Launch(FunctionHandle function, Dim3 grid, Dim3 block, int dynamicSharedBytes, StreamHandle stream, IReadOnlyList<byte[]> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        MakeCurrent();
        if (dynamicSharedBytes > 48 * 1024)
        {
            if (dynamicSharedBytes > _optInShared)
                throw new CudaException($"cuLaunchKernel: {dynamicSharedBytes} bytes of dynamic shared memory exceed the device's opt-in limit of {_optInShared}");
            Check(_cu.FuncSetAttribute(function.Value, FuncAttributeMaxDynamicShared, dynamicSharedBytes), "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES)");
        }
        var handles = new GCHandle[arguments.Count];
        try
        {
            void** pointers = stackalloc void*[Math.Max(arguments.Count, 1)];
            for (int i = 0; i < arguments.Count; i++)
            {
                handles[i] = GCHandle.Alloc(arguments[i], GCHandleType.Pinned);
                pointers[i] = (void*)handles[i].AddrOfPinnedObject();
            }
            Check(_cu.LaunchKernel(function.Value, (uint)grid.X, (uint)grid.Y, (uint)grid.Z, (uint)block.X, (uint)block.Y, (uint)block.Z,
                (uint)dynamicSharedBytes, stream.Value, pointers, null), "cuLaunchKernel");
        }
        finally
        {
            foreach (GCHandle h in handles)
                if (h.IsAllocated)
                    h.Free();
        }
    }

    public StreamHandle CreateStream()
    {
        MakeCurrent();
        nint stream;
        Check(_cu.StreamCreate(&stream, 0), "cuStreamCreate");
        return new StreamHandle(stream);
    }

    public void DestroyStream(StreamHandle stream) => Check(_cu.StreamDestroy(stream.Value), "cuStreamDestroy_v2");

    public void SynchronizeStream(StreamHandle stream) => Check(_cu.StreamSynchronize(stream.Value), "cuStreamSynchronize");

    public EventHandle CreateEvent()
    {
        MakeCurrent();
        nint e;
        Check(_cu.EventCreate(&e, 0), "cuEventCreate");
        return new EventHandle(e);
    }

    public void RecordEvent(EventHandle timingEvent, StreamHandle stream) => Check(_cu.EventRecord(timingEvent.Value, stream.Value), "cuEventRecord");

    public float ElapsedMilliseconds(EventHandle start, EventHandle end)
    {
        Check(_cu.EventSynchronize(end.Value), "cuEventSynchronize");
        float ms;
        Check(_cu.EventElapsedTime(&ms, start.Value, end.Value), "cuEventElapsedTime");
        return ms;
    }

    public void DestroyEvent(EventHandle timingEvent) => Check(_cu.EventDestroy(timingEvent.Value), "cuEventDestroy_v2");

    public void Synchronize()
    {
        MakeCurrent();
        Check(_cu.CtxSynchronize(), "cuCtxSynchronize");
    }

    public string DescribeError(int code)
    {
        byte* text;
        return _cu.GetErrorString(code, &text) == 0 && text != null ? Marshal.PtrToStringUTF8((nint)text) ?? $"error {code}" : $"unknown error {code}";
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        Check(_cu.PrimaryCtxRelease(_device), "cuDevicePrimaryCtxRelease_v2");
    }

    private int Attribute(int attribute)
    {
        int value;
        Check(_cu.DeviceGetAttribute(&value, attribute, _device), $"cuDeviceGetAttribute({attribute})");
        return value;
    }

    private void MakeCurrent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(_cu.CtxSetCurrent(_context), "cuCtxSetCurrent");
    }

    private void Check(int result, string call)
    {
        if (result != 0)
            throw new CudaException(call, result, DescribeError(result));
    }
}
