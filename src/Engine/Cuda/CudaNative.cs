using System.Runtime.InteropServices;

namespace Tessera.Engine.Cuda;

/// <summary>
/// Entry points of the CUDA driver API, bound at run time from libcuda.so.1 (then libcuda.so) with
/// NativeLibrary, so nothing is needed at build time and machines without a driver can ask
/// <see cref="TryLoad"/> instead of crashing.
/// </summary>
internal sealed unsafe class CudaNative
{
    public delegate* unmanaged<uint, int> Init;
    public delegate* unmanaged<int*, int> DeviceGetCount;
    public delegate* unmanaged<int*, int, int> DeviceGet;
    public delegate* unmanaged<byte*, int, int, int> DeviceGetName;
    public delegate* unmanaged<nuint*, int, int> DeviceTotalMem;
    public delegate* unmanaged<int*, int, int, int> DeviceGetAttribute;
    public delegate* unmanaged<nint*, int, int> PrimaryCtxRetain;
    public delegate* unmanaged<int, int> PrimaryCtxRelease;
    public delegate* unmanaged<nint, int> CtxSetCurrent;
    public delegate* unmanaged<int> CtxSynchronize;
    public delegate* unmanaged<ulong*, nuint, int> MemAlloc;
    public delegate* unmanaged<ulong, int> MemFree;
    public delegate* unmanaged<ulong, void*, nuint, int> MemcpyHtoD;
    public delegate* unmanaged<void*, ulong, nuint, int> MemcpyDtoH;
    public delegate* unmanaged<ulong, byte, nuint, int> MemsetD8;
    public delegate* unmanaged<nint*, void*, uint, int*, void**, int> ModuleLoadDataEx;
    public delegate* unmanaged<nint, int> ModuleUnload;
    public delegate* unmanaged<nint*, nint, byte*, int> ModuleGetFunction;
    public delegate* unmanaged<nint, int, int, int> FuncSetAttribute;
    public delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int> LaunchKernel;
    public delegate* unmanaged<nint*, uint, int> StreamCreate;
    public delegate* unmanaged<nint, int> StreamDestroy;
    public delegate* unmanaged<nint, int> StreamSynchronize;
    public delegate* unmanaged<nint*, uint, int> EventCreate;
    public delegate* unmanaged<nint, nint, int> EventRecord;
    public delegate* unmanaged<nint, int> EventSynchronize;
    public delegate* unmanaged<float*, nint, nint, int> EventElapsedTime;
    public delegate* unmanaged<nint, int> EventDestroy;
    public delegate* unmanaged<int, byte**, int> GetErrorString;

    private CudaNative()
    {
    }

    /// <summary>Binds the driver, or returns null with the reason (no libcuda, missing symbol).</summary>
    public static CudaNative? TryLoad(out string reason)
    {
        nint library = 0;
        foreach (string name in new[] { "libcuda.so.1", "libcuda.so" })
            if (NativeLibrary.TryLoad(name, out library))
                break;
        if (library == 0)
        {
            reason = "libcuda.so.1 / libcuda.so not found: no NVIDIA driver is installed on this machine";
            return null;
        }
        var n = new CudaNative();
        try
        {
            n.Init = (delegate* unmanaged<uint, int>)NativeLibrary.GetExport(library, "cuInit");
            n.DeviceGetCount = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "cuDeviceGetCount");
            n.DeviceGet = (delegate* unmanaged<int*, int, int>)NativeLibrary.GetExport(library, "cuDeviceGet");
            n.DeviceGetName = (delegate* unmanaged<byte*, int, int, int>)NativeLibrary.GetExport(library, "cuDeviceGetName");
            n.DeviceTotalMem = (delegate* unmanaged<nuint*, int, int>)NativeLibrary.GetExport(library, "cuDeviceTotalMem_v2");
            n.DeviceGetAttribute = (delegate* unmanaged<int*, int, int, int>)NativeLibrary.GetExport(library, "cuDeviceGetAttribute");
            n.PrimaryCtxRetain = (delegate* unmanaged<nint*, int, int>)NativeLibrary.GetExport(library, "cuDevicePrimaryCtxRetain");
            n.PrimaryCtxRelease = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(library, "cuDevicePrimaryCtxRelease_v2");
            n.CtxSetCurrent = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cuCtxSetCurrent");
            n.CtxSynchronize = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "cuCtxSynchronize");
            n.MemAlloc = (delegate* unmanaged<ulong*, nuint, int>)NativeLibrary.GetExport(library, "cuMemAlloc_v2");
            n.MemFree = (delegate* unmanaged<ulong, int>)NativeLibrary.GetExport(library, "cuMemFree_v2");
            n.MemcpyHtoD = (delegate* unmanaged<ulong, void*, nuint, int>)NativeLibrary.GetExport(library, "cuMemcpyHtoD_v2");
            n.MemcpyDtoH = (delegate* unmanaged<void*, ulong, nuint, int>)NativeLibrary.GetExport(library, "cuMemcpyDtoH_v2");
            n.MemsetD8 = (delegate* unmanaged<ulong, byte, nuint, int>)NativeLibrary.GetExport(library, "cuMemsetD8_v2");
            n.ModuleLoadDataEx = (delegate* unmanaged<nint*, void*, uint, int*, void**, int>)NativeLibrary.GetExport(library, "cuModuleLoadDataEx");
            n.ModuleUnload = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cuModuleUnload");
            n.ModuleGetFunction = (delegate* unmanaged<nint*, nint, byte*, int>)NativeLibrary.GetExport(library, "cuModuleGetFunction");
            n.FuncSetAttribute = (delegate* unmanaged<nint, int, int, int>)NativeLibrary.GetExport(library, "cuFuncSetAttribute");
            n.LaunchKernel = (delegate* unmanaged<nint, uint, uint, uint, uint, uint, uint, uint, nint, void**, void**, int>)NativeLibrary.GetExport(library, "cuLaunchKernel");
            n.StreamCreate = (delegate* unmanaged<nint*, uint, int>)NativeLibrary.GetExport(library, "cuStreamCreate");
            n.StreamDestroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cuStreamDestroy_v2");
            n.StreamSynchronize = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cuStreamSynchronize");
            n.EventCreate = (delegate* unmanaged<nint*, uint, int>)NativeLibrary.GetExport(library, "cuEventCreate");
            n.EventRecord = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(library, "cuEventRecord");
            n.EventSynchronize = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cuEventSynchronize");
            n.EventElapsedTime = (delegate* unmanaged<float*, nint, nint, int>)NativeLibrary.GetExport(library, "cuEventElapsedTime");
            n.EventDestroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cuEventDestroy_v2");
            n.GetErrorString = (delegate* unmanaged<int, byte**, int>)NativeLibrary.GetExport(library, "cuGetErrorString");
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"the CUDA driver library lacks an entry point Tessera needs ({e.Message}); update the NVIDIA driver";
            return null;
        }
        reason = "";
        return n;
    }
}
