using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>Removes instructions and phis whose results nobody uses (side effects are roots).</summary>
internal static class DeadCode
{
    public static bool Run(Function f)
    {
        var live = new HashSet<Value>();
        var work = new Stack<Value>();
        void Mark(Value v)
        {
            v = v.Resolve();
            if (v is Inst or Phi && live.Add(v))
                work.Push(v);
        }
        foreach (Block b in f.Blocks)
        {
            foreach (Inst i in b.Insts)
                if (i.HasSideEffects)
                    Mark(i);
            if (b.Condition is not null)
                Mark(b.Condition);
        }
        while (work.Count > 0)
        {
            switch (work.Pop())
            {
                case Inst i:
                    foreach (Value a in i.Args)
                        Mark(a);
                    break;
                case Phi p:
                    foreach ((_, Value v) in p.Incoming)
                        Mark(v);
                    break;
            }
        }
        bool changed = false;
        foreach (Block b in f.Blocks)
        {
            // A shuffle is a rendezvous, but one whose result is unused can go (all lanes drop it alike).
            changed |= b.Insts.RemoveAll(i => !live.Contains(i) && (!i.HasSideEffects || i.Op == Op.Shuffle)) > 0;
            changed |= b.Phis.RemoveAll(p => !live.Contains(p)) > 0;
        }
        return changed;
    }
}
