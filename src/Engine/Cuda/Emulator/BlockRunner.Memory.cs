using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Tessera.Engine.Cuda.Emulator;

/// <summary>Loads, stores and atomics: every access is bounds-checked against its allocation or window.</summary>
internal sealed partial class BlockRunner
{
    private const ulong WindowMask = (1UL << 62) - 1;

    /// <summary>
    /// The first byte of [address, address + size) in <paramref name="space"/>, or a fault naming
    /// the thread. Generic addresses carry their window in the top two bits (see cvta).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private ref byte Address(EmulatedWarp w, int lane, int pc, PSpace space, ulong address, int size, string access)
    {
        if (space == PSpace.None)
        {
            ulong window = address >> 62;
            space = window == 1 ? PSpace.Shared : window == 2 ? PSpace.Local : PSpace.Global;
            address &= WindowMask;
        }
        if (space == PSpace.Global)
        {
            ulong index = address >> EmulatorMemory.IndexShift;
            ulong offset = address & EmulatorMemory.OffsetMask;
            byte[]? data = index < (ulong)_table.Length ? _table[index] : null;
            if (data is null || offset + (ulong)size > (ulong)data.Length)
                throw GlobalFault(w, lane, pc, address, size, access);
            return ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(data), (nint)offset);
        }
        if (space == PSpace.Shared)
        {
            if (address + (ulong)size > (ulong)_shared.Length)
                throw Fault(w, lane, pc, $"{access} shared memory out of bounds: bytes [{address}, {address + (ulong)size}) of {_shared.Length}");
            return ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_shared), (nint)address);
        }
        if (w.Local is null || address + (ulong)size > (ulong)_localBytes)
            throw Fault(w, lane, pc, $"{access} local memory out of bounds: bytes [{address}, {address + (ulong)size}) of {(w.Local is null ? 0 : _localBytes)}");
        return ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(w.Local), (nint)(lane * _localBytes + (int)address));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private PtxEmulatorException GlobalFault(EmulatedWarp w, int lane, int pc, ulong address, int size, string access)
    {
        try
        {
            _memory.Span(address, size, access + " global memory");
        }
        catch (PtxEmulatorException e)
        {
            return Fault(w, lane, pc, e.Message, e);
        }
        return Fault(w, lane, pc, $"{access} global memory at 0x{address:x}: the allocation table changed during the launch");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Read(ref byte at, int size, bool signExtend) => size switch
    {
        1 => signExtend ? (uint)(sbyte)at : at,
        2 => signExtend ? (uint)Unsafe.ReadUnaligned<short>(ref at) : Unsafe.ReadUnaligned<ushort>(ref at),
        4 => Unsafe.ReadUnaligned<uint>(ref at),
        _ => Unsafe.ReadUnaligned<ulong>(ref at),
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(ref byte at, int size, ulong value)
    {
        switch (size)
        {
            case 1: at = (byte)value; break;
            case 2: Unsafe.WriteUnaligned(ref at, (ushort)value); break;
            case 4: Unsafe.WriteUnaligned(ref at, (uint)value); break;
            default: Unsafe.WriteUnaligned(ref at, value); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Load(EmulatedWarp w, ref XInst x, uint mask, int pc)
    {
        ulong[] f = w.File;
        int size = x.Size;
        if (mask == Lanes.All && x.Space == PSpace.Global && (size == 4 || size == 8) && Contiguous(f, x.A, size))
        {
            ref byte at = ref Address(w, 0, pc, PSpace.Global, Lanes.At(f, x.A), 32 * size, "load from");
            ref ulong d = ref Lanes.At(f, x.D);
            if (size == 8)
                MemoryMarshal.CreateSpan(ref Unsafe.As<byte, ulong>(ref at), 32).CopyTo(MemoryMarshal.CreateSpan(ref d, 32));
            else
                for (int l = 0; l < 32; l++)
                    Unsafe.Add(ref d, l) = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref at, 4 * l));
            return;
        }
        if (x.Space == PSpace.Shared && size == 4)
        {
            // The hot case of tiled kernels: one bounds check and one 32-bit read per lane.
            ulong length = (ulong)_shared.Length;
            ref byte shared = ref MemoryMarshal.GetArrayDataReference(_shared);
            for (uint m = mask; m != 0; m &= m - 1)
            {
                int l = BitOperations.TrailingZeroCount(m);
                ulong address = Lanes.At(f, x.A + l);
                if (address + 4 > length)
                    throw Fault(w, l, pc, $"load from shared memory out of bounds: bytes [{address}, {address + 4}) of {length}");
                Lanes.At(f, x.D + l) = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref shared, (nint)address));
            }
            return;
        }
        bool sign = x.SignExtend;
        PSpace space = x.Space;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ref byte at = ref Address(w, l, pc, space, Lanes.At(f, x.A + l), size, "load from");
            Lanes.At(f, x.D + l) = Read(ref at, size, sign);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Store(EmulatedWarp w, ref XInst x, uint mask, int pc)
    {
        ulong[] f = w.File;
        int size = x.Size;
        if (mask == Lanes.All && x.Space == PSpace.Global && (size == 4 || size == 8) && Contiguous(f, x.A, size))
        {
            ref byte at = ref Address(w, 0, pc, PSpace.Global, Lanes.At(f, x.A), 32 * size, "store to");
            ref ulong v = ref Lanes.At(f, x.B);
            if (size == 8)
                MemoryMarshal.CreateSpan(ref v, 32).CopyTo(MemoryMarshal.CreateSpan(ref Unsafe.As<byte, ulong>(ref at), 32));
            else
                for (int l = 0; l < 32; l++)
                    Unsafe.WriteUnaligned(ref Unsafe.Add(ref at, 4 * l), (uint)Unsafe.Add(ref v, l));
            return;
        }
        PSpace space = x.Space;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ref byte at = ref Address(w, l, pc, space, Lanes.At(f, x.A + l), size, "store to");
            Write(ref at, size, Lanes.At(f, x.B + l));
        }
    }

    /// <summary>
    /// Whether the 32 lanes address consecutive elements (a coalesced access) inside one live
    /// global allocation: then one bounds check covers them all. Anything else, including an
    /// access that would fault, takes the per-lane path, which names the faulting lane.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Contiguous(ulong[] f, int a, int size)
    {
        ref ulong addresses = ref Lanes.At(f, a);
        ulong first = addresses;
        for (int l = 1; l < 32; l++)
            if (Unsafe.Add(ref addresses, l) != first + (ulong)(l * size))
                return false;
        ulong index = first >> EmulatorMemory.IndexShift;
        byte[]? data = index < (ulong)_table.Length ? _table[index] : null;
        return data is not null && (first & EmulatorMemory.OffsetMask) + (ulong)(32 * size) <= (ulong)data.Length;
    }

    /// <summary>
    /// Atomics run lane after lane. Launches whose kernel has global atomics run their blocks on
    /// one thread, in order, so each read-modify-write is atomic and the result deterministic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Atomic(EmulatedWarp w, ref XInst x, uint mask, int pc)
    {
        PInstruction ins = _kernel.Code[pc];
        ulong[] f = w.File;
        int size = x.Size;
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            ref byte at = ref Address(w, l, pc, x.Space, f[x.A + l], size, "atomic on");
            ulong old = Read(ref at, size, false);
            ulong b = f[x.B + l];
            ulong result = ins.Modifier switch
            {
                "exch" => b,
                "cas" => old == (size == 4 ? (uint)b : b) ? f[x.C + l] : old,
                "add" => PtxArithmetic.Arithmetic(PKind.Add, ins.Type, old, b),
                "min" => PtxArithmetic.Arithmetic(PKind.Min, ins.Type, old, b),
                "max" => PtxArithmetic.Arithmetic(PKind.Max, ins.Type, old, b),
                "and" => old & b,
                "or" => old | b,
                _ => old ^ b,
            };
            Write(ref at, size, result);
            if (x.D >= 0) // red has no destination
                f[x.D + l] = old;
        }
    }

    /// <summary>A warp-wide instruction that every live lane of the warp (<paramref name="mask"/>) has reached.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Collective(EmulatedWarp w, ref XInst x, uint mask, int pc)
    {
        if (x.Op == XOp.Mma)
        {
            Mma(w, ref x, mask, pc);
            return;
        }
        if (x.Op == XOp.WarpSync)
            return; // every live lane has arrived: that is all bar.warp.sync does

        ulong[] f = w.File;
        PInstruction ins = _kernel.Code[pc];
        Span<ulong> values = stackalloc ulong[32];
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int l = BitOperations.TrailingZeroCount(m);
            values[l] = f[x.A + l];
        }
        for (uint m = mask; m != 0; m &= m - 1)
        {
            int lane = BitOperations.TrailingZeroCount(m);
            int b = (int)f[x.B + lane];
            int source = ins.Modifier switch
            {
                "bfly" => lane ^ b,
                "down" => lane + b,
                "up" => lane - b,
                _ => b & 31,
            };
            bool valid = ins.Modifier == "up" ? source >= 0 : source <= 31;
            if (valid && (source >= w.LaneCount || (w.Live & 1u << source) == 0))
                throw new PtxEmulatorException($"{_kernel.Name}: thread {w.Index * 32 + lane} shuffles from lane {source}, which {(source >= w.LaneCount ? "does not exist (the block is not a multiple of 32 threads)" : "has exited")}; keep every lane of the warp alive through warp operations");
            f[x.D + lane] = valid ? values[source] : values[lane];
        }
    }
}
