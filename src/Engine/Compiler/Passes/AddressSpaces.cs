using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>
/// Decides the state space (global, shared, local) of every pointer from where it comes from:
/// parameters are global, Shared/Local allocations are shared/local, offsets and phis inherit.
/// A pointer that can come from two spaces is left without one and rejected by the emitter.
/// </summary>
internal static class AddressSpaces
{
    public static void Infer(Function f)
    {
        var pointers = new List<Value>();
        foreach (Param p in f.Params.Where(p => p.Type == IrType.Ptr))
            p.Space = AddressSpace.Global;
        foreach (Block b in f.Blocks)
        {
            pointers.AddRange(b.Phis.Where(p => p.Type == IrType.Ptr));
            pointers.AddRange(b.Insts.Where(i => i.Type == IrType.Ptr));
        }
        var known = new Dictionary<Value, AddressSpace?>();
        AddressSpace? Get(Value v) => v switch
        {
            Param p => p.Space,
            Inst { Op: Op.SharedBase or Op.DynamicSharedBase } => AddressSpace.Shared,
            Inst { Op: Op.LocalBase } => AddressSpace.Local,
            _ => known.TryGetValue(v, out AddressSpace? s) ? s : null,
        };
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (Value v in pointers)
            {
                AddressSpace? space = v switch
                {
                    Inst { Op: Op.PtrAdd } i => Get(i.Args[0]),
                    Inst { Op: Op.SharedBase or Op.DynamicSharedBase or Op.LocalBase } => Get(v),
                    Inst => AddressSpace.None,
                    Phi phi => Meet(phi.Incoming.Select(x => Get(x.Value))),
                    _ => null,
                };
                if (space is not null && known.GetValueOrDefault(v) != space)
                {
                    known[v] = space;
                    changed = true;
                }
            }
        }
        foreach (Value v in pointers)
            v.Space = known.GetValueOrDefault(v) ?? AddressSpace.None;
    }

    private static AddressSpace? Meet(IEnumerable<AddressSpace?> spaces)
    {
        AddressSpace? result = null;
        foreach (AddressSpace? s in spaces)
        {
            if (s is null)
                continue;
            if (result is null)
                result = s;
            else if (result != s)
                return AddressSpace.None;
        }
        return result;
    }
}
