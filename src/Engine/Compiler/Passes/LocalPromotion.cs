using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>
/// Turns a per-thread array (Local.Allocate) into SSA values when every access, after unrolling
/// and folding, is a load or store at a constant offset: register tiles end up in registers and
/// the .local allocation disappears.
/// </summary>
internal static class LocalPromotion
{
    public static bool Run(Function f)
    {
        for (int symbol = 0; symbol < f.LocalAllocations.Count; symbol++)
            if (f.LocalAllocations[symbol].Bytes > 0 && TryPromote(f, symbol))
                return true;
        return false;
    }

    private static bool TryPromote(Function f, int symbol)
    {
        var bases = f.Blocks.SelectMany(b => b.Insts).Where(i => i.Op == Op.LocalBase && i.Symbol == symbol).ToHashSet<Value>();
        var offsets = new Dictionary<Value, long>();
        foreach (Value v in bases)
            offsets[v] = 0;
        foreach (Inst i in f.Blocks.SelectMany(b => b.Insts))
            if (i.Op == Op.PtrAdd && offsets.TryGetValue(i.Args[0], out long at) && i.Args[1] is Const c)
                offsets[i] = at + c.Bits;
        var accesses = new Dictionary<Inst, long>();
        foreach (Block b in f.Blocks)
        {
            foreach (Phi phi in b.Phis)
                if (phi.Incoming.Any(x => offsets.ContainsKey(x.Value)))
                    return false;
            foreach (Inst i in b.Insts)
                for (int a = 0; a < i.Args.Length; a++)
                {
                    if (!offsets.TryGetValue(i.Args[a], out long offset))
                        continue;
                    bool address = a == 0 && i.Op is Op.Load or Op.Store;
                    if (address)
                        accesses[i] = offset;
                    else if (!(i.Op == Op.PtrAdd && a == 0 && offsets.ContainsKey(i)))
                        return false;
                }
        }
        MemType[] kinds = accesses.Keys.Select(i => i.Mem).Distinct().ToArray();
        if (kinds.Length > 1)
            return false;
        var slots = accesses.Values.Distinct().ToDictionary(o => o, o => (int)o);
        IrType type = kinds.Length == 1 ? kinds[0].RegisterType() : IrType.I32;

        // SSA construction over the blocks in reverse post-order (every predecessor is known).
        List<Block> order = Cfg.ReversePostOrder(f);
        var defs = new Dictionary<(long, Block), Value>();
        var filled = new HashSet<Block>();
        var pending = new Dictionary<Block, List<(long Slot, Phi Phi)>>();
        Value Read(long slot, Block b)
        {
            if (defs.TryGetValue((slot, b), out Value? v))
                return v.Resolve();
            Value result;
            if (b.Preds.Any(p => !filled.Contains(p)))
            {
                var phi = new Phi(b, type);
                b.Phis.Add(phi);
                if (!pending.TryGetValue(b, out List<(long, Phi)>? list))
                    pending[b] = list = [];
                list.Add((slot, phi));
                result = phi;
            }
            else if (b.Preds.Count == 0)
            {
                result = Const.Zero(type);
            }
            else if (b.Preds.Count == 1)
            {
                result = Read(slot, b.Preds[0]);
            }
            else
            {
                var phi = new Phi(b, type);
                b.Phis.Add(phi);
                defs[(slot, b)] = phi;
                foreach (Block p in b.Preds)
                    phi.Incoming.Add((p, Read(slot, p)));
                result = phi;
            }
            defs[(slot, b)] = result;
            return result;
        }
        foreach (Block b in order)
        {
            foreach (Inst i in b.Insts.ToList())
            {
                if (!accesses.TryGetValue(i, out long slot))
                    continue;
                if (i.Op == Op.Store)
                    defs[(slot, b)] = i.Args[1];
                else
                    i.ReplacedBy = Read(slot, b);
                b.Insts.Remove(i);
            }
            filled.Add(b);
            foreach (Block s in b.Targets)
                if (s.Preds.All(filled.Contains) && pending.Remove(s, out List<(long Slot, Phi Phi)>? list))
                    foreach ((long slot, Phi phi) in list)
                        foreach (Block p in s.Preds)
                            phi.Incoming.Add((p, Read(slot, p)));
        }
        f.LocalAllocations[symbol] = f.LocalAllocations[symbol] with { Bytes = 0 };
        Cfg.ResolveUses(f);
        return true;
    }
}
