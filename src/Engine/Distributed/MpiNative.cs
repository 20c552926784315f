using System.Runtime.InteropServices;

namespace Tessera.Engine.Distributed;

/// <summary>
/// The Open MPI entry points Tessera uses, bound at run time from libmpi.so.40 (Open MPI 4.x and
/// 5.x; Debian's openmpi-bin) with NativeLibrary, so nothing is needed at build time. Open MPI's
/// handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM...) are the addresses of exported objects such as
/// <c>ompi_mpi_comm_world</c>; MPI.NET on NuGet targets Microsoft MPI's integer handles instead,
/// which is why this binding exists. Only the calls Tessera makes are bound.
/// </summary>
internal sealed unsafe class MpiNative
{
    public const int ThreadSerialized = 2; // MPI_THREAD_SERIALIZED in Open MPI's mpi.h
    public static readonly nint InPlace = 1; // MPI_IN_PLACE is ((void *) 1) in Open MPI

    public delegate* unmanaged<int*, int> Initialized;
    public delegate* unmanaged<int*, int> Finalized;
    public delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public delegate* unmanaged<int> Finalize;
    public delegate* unmanaged<nint, int*, int> CommRank;
    public delegate* unmanaged<nint, int*, int> CommSize;
    public delegate* unmanaged<nint, nint, int> CommSetErrhandler;
    public delegate* unmanaged<nint, void*, int, nint, nint, nint, nint*, int> Iallreduce;
    public delegate* unmanaged<void*, int, nint, int, nint, nint*, int> Ibcast;
    public delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int> Iallgather;
    public delegate* unmanaged<nint, nint*, int> Ibarrier;
    public delegate* unmanaged<nint*, int*, nint, int> Test;
    public delegate* unmanaged<nint, int, int> Abort;
    public delegate* unmanaged<byte*, int*, int> GetLibraryVersion;
    public delegate* unmanaged<int, byte*, int*, int> ErrorString;

    public nint CommWorld;
    public nint ErrorsReturn;
    public nint Float;
    public nint Double;
    public nint Int64;
    public nint Byte;
    public nint OpSum;
    public nint OpMin;
    public nint OpMax;

    private MpiNative()
    {
    }

    /// <summary>Binds libmpi, or returns null with the reason (library missing, symbol missing).</summary>
    public static MpiNative? TryLoad(out string reason)
    {
        nint library = 0;
        foreach (string name in new[] { "libmpi.so.40", "libmpi.so" })
            if (NativeLibrary.TryLoad(name, out library))
                break;
        if (library == 0)
        {
            reason = "Open MPI's libmpi.so.40 was not found; install Open MPI (Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)";
            return null;
        }
        var n = new MpiNative();
        try
        {
            n.Initialized = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "MPI_Initialized");
            n.Finalized = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(library, "MPI_Finalized");
            n.InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)NativeLibrary.GetExport(library, "MPI_Init_thread");
            n.Finalize = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "MPI_Finalize");
            n.CommRank = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "MPI_Comm_rank");
            n.CommSize = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "MPI_Comm_size");
            n.CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(library, "MPI_Comm_set_errhandler");
            n.Iallreduce = (delegate* unmanaged<nint, void*, int, nint, nint, nint, nint*, int>)NativeLibrary.GetExport(library, "MPI_Iallreduce");
            n.Ibcast = (delegate* unmanaged<void*, int, nint, int, nint, nint*, int>)NativeLibrary.GetExport(library, "MPI_Ibcast");
            n.Iallgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, nint*, int>)NativeLibrary.GetExport(library, "MPI_Iallgather");
            n.Ibarrier = (delegate* unmanaged<nint, nint*, int>)NativeLibrary.GetExport(library, "MPI_Ibarrier");
            n.Test = (delegate* unmanaged<nint*, int*, nint, int>)NativeLibrary.GetExport(library, "MPI_Test");
            n.Abort = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(library, "MPI_Abort");
            n.GetLibraryVersion = (delegate* unmanaged<byte*, int*, int>)NativeLibrary.GetExport(library, "MPI_Get_library_version");
            n.ErrorString = (delegate* unmanaged<int, byte*, int*, int>)NativeLibrary.GetExport(library, "MPI_Error_string");
            // Open MPI's predefined handles are the addresses of these objects (mpi.h: #define MPI_FLOAT OMPI_PREDEFINED_GLOBAL(MPI_Datatype, ompi_mpi_float)).
            n.CommWorld = NativeLibrary.GetExport(library, "ompi_mpi_comm_world");
            n.ErrorsReturn = NativeLibrary.GetExport(library, "ompi_mpi_errors_return");
            n.Float = NativeLibrary.GetExport(library, "ompi_mpi_float");
            n.Double = NativeLibrary.GetExport(library, "ompi_mpi_double");
            n.Int64 = NativeLibrary.GetExport(library, "ompi_mpi_int64_t");
            n.Byte = NativeLibrary.GetExport(library, "ompi_mpi_byte");
            n.OpSum = NativeLibrary.GetExport(library, "ompi_mpi_op_sum");
            n.OpMin = NativeLibrary.GetExport(library, "ompi_mpi_op_min");
            n.OpMax = NativeLibrary.GetExport(library, "ompi_mpi_op_max");
        }
        catch (EntryPointNotFoundException e)
        {
            reason = $"the MPI library found is not Open MPI 4 or newer ({e.Message}); Tessera binds Open MPI's libmpi.so.40";
            return null;
        }
        reason = "";
        return n;
    }

    /// <summary>Open MPI's text for an error code.</summary>
    public string Describe(int code)
    {
        var text = stackalloc byte[512];
        int length = 0;
        return ErrorString(code, text, &length) == 0 ? Marshal.PtrToStringUTF8((nint)text, length) : $"MPI error {code}";
    }
}
