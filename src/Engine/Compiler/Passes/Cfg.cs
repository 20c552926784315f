using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler;

/// <summary>Control-flow graph utilities shared by the passes and the emitter.</summary>
internal static class Cfg
{
    public static List<Block> ReversePostOrder(Function f)
    {
        var visited = new HashSet<Block>();
        var post = new List<Block>();
        var stack = new Stack<(Block Block, int Next)>();
        stack.Push((f.Entry, 0));
        visited.Add(f.Entry);
        while (stack.Count > 0)
        {
            (Block b, int next) = stack.Pop();
            if (next < b.Targets.Length)
            {
                stack.Push((b, next + 1));
                Block s = b.Targets[next];
                if (visited.Add(s))
                    stack.Push((s, 0));
            }
            else
            {
                post.Add(b);
            }
        }
        post.Reverse();
        return post;
    }

    /// <summary>Replaces every use of a replaced value (phis, folded instructions) by its replacement.</summary>
    public static void ResolveUses(Function f)
    {
        foreach (Block b in f.Blocks)
        {
            foreach (Phi phi in b.Phis)
                for (int i = 0; i < phi.Incoming.Count; i++)
                    phi.Incoming[i] = (phi.Incoming[i].Pred, phi.Incoming[i].Value.Resolve());
            foreach (Inst inst in b.Insts)
                for (int i = 0; i < inst.Args.Length; i++)
                    inst.Args[i] = inst.Args[i].Resolve();
            if (b.Condition is not null)
                b.Condition = b.Condition.Resolve();
        }
    }

    /// <summary>Drops the edge pred → target (one occurrence) and the matching phi operands.</summary>
    public static void RemoveEdge(Block pred, Block target)
    {
        target.Preds.Remove(pred);
        foreach (Phi phi in target.Phis)
        {
            int index = phi.Incoming.FindIndex(x => x.Pred == pred);
            if (index >= 0)
                phi.Incoming.RemoveAt(index);
        }
    }

    public static void RemoveUnreachable(Function f)
    {
        var live = new HashSet<Block>(ReversePostOrder(f));
        foreach (Block dead in f.Blocks.Where(b => !live.Contains(b)).ToList())
        {
            foreach (Block s in dead.Targets)
                RemoveEdge(dead, s);
            f.Blocks.Remove(dead);
        }
    }

    /// <summary>Inserts an empty block on every edge from a multi-successor block to a multi-predecessor block.</summary>
    public static void SplitCriticalEdges(Function f)
    {
        foreach (Block b in f.Blocks.ToList())
        {
            if (b.Targets.Length < 2)
                continue;
            for (int t = 0; t < b.Targets.Length; t++)
            {
                Block target = b.Targets[t];
                if (target.Preds.Count < 2 || target.Phis.Count == 0)
                    continue;
                Block middle = f.NewBlock();
                middle.Kind = TerminatorKind.Branch;
                middle.Targets = [target];
                middle.Preds.Add(b);
                target.Preds[target.Preds.IndexOf(b)] = middle;
                foreach (Phi phi in target.Phis)
                {
                    int index = phi.Incoming.FindIndex(x => x.Pred == b);
                    phi.Incoming[index] = (middle, phi.Incoming[index].Value);
                }
                b.Targets[t] = middle;
            }
        }
    }

    /// <summary>For each reachable block, the blocks that dominate it (itself included).</summary>
    public static Dictionary<Block, HashSet<Block>> Dominators(Function f)
    {
        List<Block> order = Cfg.ReversePostOrder(f);
        var all = new HashSet<Block>(order);
        var dom = order.ToDictionary(b => b, b => b == f.Entry ? new HashSet<Block> { b } : new HashSet<Block>(all));
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (Block b in order.Skip(1))
            {
                HashSet<Block>? meet = null;
                foreach (Block p in b.Preds.Where(all.Contains))
                {
                    if (meet is null)
                        meet = new HashSet<Block>(dom[p]);
                    else
                        meet.IntersectWith(dom[p]);
                }
                meet ??= [];
                meet.Add(b);
                if (!meet.SetEquals(dom[b]))
                {
                    dom[b] = meet;
                    changed = true;
                }
            }
        }
        return dom;
    }
}
