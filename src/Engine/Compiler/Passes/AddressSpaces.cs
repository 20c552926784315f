using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>
/// Decides the state space (global, shared, local) of every pointer from where it comes from:
/// parameters are global, Shared/Local allocations are shared/local, offsets and phis inherit.
/// A pointer that can come from two spaces becomes a generic address: its incoming values are
/// converted (cvta) at the end of the predecessors, and accesses through it use generic ld/st.
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
        foreach (Block b in f.Blocks)
            foreach (Phi phi in b.Phis.Where(p => p.Type == IrType.Ptr && p.Space == AddressSpace.None))
                for (int i = 0; i < phi.Incoming.Count; i++)
                {
                    (Block pred, Value value) = phi.Incoming[i];
                    if (value.Space == AddressSpace.None)
                        continue;
                    var generic = new Inst(Op.ToGeneric, IrType.Ptr, value) { Space = AddressSpace.None, Symbol = (int)value.Space, Block = pred };
                    pred.Insts.Add(generic);
                    phi.Incoming[i] = (pred, generic);
                }
        // Offsets from generic phis are generic too.
        bool again = true;
        while (again)
        {
            again = false;
            foreach (Value v in pointers)
                if (v is Inst { Op: Op.PtrAdd } add && add.Space != AddressSpace.None && add.Args[0].Space == AddressSpace.None)
                {
                    add.Space = AddressSpace.None;
                    again = true;
                }
                else if (v is Phi phi && phi.Space != AddressSpace.None && phi.Incoming.Any(x => x.Value.Space == AddressSpace.None))
                {
                    phi.Space = AddressSpace.None;
                    again = true;
                }
        }
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
