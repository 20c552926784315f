using System.Globalization;
using System.Text;
using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>
/// Replaces a pure instruction by an identical one in a dominating position (index arithmetic of
/// repeated view accesses, special-register reads). Loads are never merged: memory may change.
/// </summary>
internal static class CommonSubexpressions
{
    public static bool Run(Function f)
    {
        Dictionary<Block, HashSet<Block>> dominators = Cfg.Dominators(f);
        var ids = new Dictionary<Value, int>(ReferenceEqualityComparer.Instance);
        var seen = new Dictionary<string, List<Inst>>(StringComparer.Ordinal);
        bool changed = false;
        foreach (Block b in Cfg.ReversePostOrder(f))
            foreach (Inst i in b.Insts.ToList())
            {
                if (!i.IsPure)
                    continue;
                string key = Key(i, ids);
                if (!seen.TryGetValue(key, out List<Inst>? earlier))
                {
                    seen[key] = [i];
                    continue;
                }
                Inst? same = earlier.Find(e => dominators[b].Contains(e.Block!));
                if (same is null)
                {
                    earlier.Add(i);
                    continue;
                }
                i.ReplacedBy = same;
                b.Insts.Remove(i);
                changed = true;
            }
        if (changed)
            Cfg.ResolveUses(f);
        return changed;
    }

    private static string Key(Inst i, Dictionary<Value, int> ids)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{i.Op}|{i.Type}|{i.Unsigned}|{i.Unordered}|{i.Cmp}|{i.Mem}|{i.Special}|{i.SourceUnsigned}|{i.Symbol}|{i.Shuffle}|{i.Atomic}");
        foreach (Value a0 in i.Args)
        {
            Value a = a0.Resolve();
            if (a is Const c)
                sb.Append(CultureInfo.InvariantCulture, $"|c{c.Type}:{c.Bits}:{BitConverter.DoubleToInt64Bits(c.Real)}");
            else
            {
                if (!ids.TryGetValue(a, out int id))
                    ids[a] = id = ids.Count;
                sb.Append(CultureInfo.InvariantCulture, $"|v{id}");
            }
        }
        return sb.ToString();
    }
}
