using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>Removes unreachable blocks, merges straight-line chains and skips empty forwarding blocks.</summary>
internal static class SimplifyCfg
{
    public static bool Run(Function f)
    {
        bool changed = false;
        int before = f.Blocks.Count;
        Cfg.RemoveUnreachable(f);
        changed |= f.Blocks.Count != before;
        bool again = true;
        var removed = new HashSet<Block>();
        while (again)
        {
            again = false;
            foreach (Block b in f.Blocks.ToList())
            {
                if (b.Kind != TerminatorKind.Branch || removed.Contains(b))
                    continue;
                Block s = b.Targets[0];
                if (s == b || s == f.Entry)
                    continue;
                if (s.Preds.Count == 1)
                {
                    // b → s only: append s to b.
                    foreach (Phi phi in s.Phis)
                        phi.ReplacedBy = phi.Incoming[0].Value;
                    foreach (Inst i in s.Insts)
                        i.Block = b;
                    b.Insts.AddRange(s.Insts);
                    b.Kind = s.Kind;
                    b.Condition = s.Condition;
                    b.Targets = s.Targets;
                    foreach (Block t in s.Targets)
                    {
                        for (int k = 0; k < t.Preds.Count; k++)
                            if (t.Preds[k] == s)
                                t.Preds[k] = b;
                        foreach (Phi phi in t.Phis)
                            for (int k = 0; k < phi.Incoming.Count; k++)
                                if (phi.Incoming[k].Pred == s)
                                    phi.Incoming[k] = (b, phi.Incoming[k].Value);
                    }
                    f.Blocks.Remove(s);
                    removed.Add(s);
                    again = changed = true;
                    continue;
                }
                if (b.Insts.Count == 0 && b.Phis.Count == 0 && b != f.Entry && s.Phis.Count == 0)
                {
                    // Empty forwarding block: send its predecessors straight to s.
                    foreach (Block p in b.Preds.ToList())
                    {
                        for (int k = 0; k < p.Targets.Length; k++)
                            if (p.Targets[k] == b)
                            {
                                p.Targets[k] = s;
                                s.Preds.Add(p);
                            }
                        if (p.Kind == TerminatorKind.CondBranch && p.Targets[0] == p.Targets[1])
                        {
                            p.Kind = TerminatorKind.Branch;
                            p.Targets = [s];
                            p.Condition = null;
                            s.Preds.Remove(p);
                        }
                    }
                    s.Preds.RemoveAll(x => x == b);
                    b.Preds.Clear();
                    b.Targets = [];
                    f.Blocks.Remove(b);
                    removed.Add(b);
                    again = changed = true;
                    continue;
                }
            }
        }
        if (changed)
            Cfg.ResolveUses(f);
        return changed;
    }
}
