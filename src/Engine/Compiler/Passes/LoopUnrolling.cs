using Tessera.Engine.Compiler.IR;

namespace Tessera.Engine.Compiler.Passes;

/// <summary>
/// Fully unrolls innermost loops whose trip count is a compile-time constant (register tiles,
/// shuffle trees). A loop qualifies when its header is its only exit, it has one latch and one
/// entry, and the header's condition compares a phi stepped by a constant against a constant.
/// </summary>
internal static class LoopUnrolling
{
    private const int MaxTrips = 64;
    private const int MaxInstructions = 4096;

    public static bool Run(Function f)
    {
        Dictionary<Block, HashSet<Block>> loops = NaturalLoops(f);
        foreach ((Block header, HashSet<Block> body) in loops)
        {
            bool innermost = !loops.Any(l => l.Key != header && body.Contains(l.Key));
            if (innermost && TryUnroll(f, header, body))
                return true;
        }
        return false;
    }

    private static Dictionary<Block, HashSet<Block>> NaturalLoops(Function f)
    {
        Dictionary<Block, HashSet<Block>> dominators = Cfg.Dominators(f);
        var loops = new Dictionary<Block, HashSet<Block>>();
        foreach (Block latch in f.Blocks)
            foreach (Block header in latch.Targets)
                if (dominators[latch].Contains(header))
                {
                    if (!loops.TryGetValue(header, out HashSet<Block>? body))
                        loops[header] = body = [header];
                    var work = new Stack<Block>();
                    if (body.Add(latch))
                        work.Push(latch);
                    while (work.Count > 0)
                        foreach (Block p in work.Pop().Preds)
                            if (body.Add(p))
                                work.Push(p);
                }
        return loops;
    }

    private static bool TryUnroll(Function f, Block header, HashSet<Block> body)
    {
        List<Block> outside = header.Preds.Where(p => !body.Contains(p)).ToList();
        List<Block> latches = header.Preds.Where(body.Contains).ToList();
        if (outside.Count != 1 || latches.Count != 1 || header.Kind != TerminatorKind.CondBranch)
            return false;
        Block preheader = outside[0], latch = latches[0];
        if (latch == header || latch.Kind != TerminatorKind.Branch)
            return false;
        if (body.Any(b => b != header && b.Targets.Any(t => !body.Contains(t))))
            return false;
        bool staysOnTrue = body.Contains(header.Targets[0]);
        if (staysOnTrue == body.Contains(header.Targets[1]))
            return false;
        Block exit = header.Targets[staysOnTrue ? 1 : 0];
        int trips = TripCount(header, preheader, latch, staysOnTrue);
        if (trips < 0 || trips * body.Sum(b => b.Insts.Count + b.Phis.Count + 1) > MaxInstructions)
            return false;

        List<Block> blocks = Cfg.ReversePostOrder(f).Where(body.Contains).ToList();
        Dictionary<Value, Value> previous = [];
        Block? previousLatch = null;
        Block entryEdgeSource = preheader;
        for (int k = 0; k <= trips; k++)
        {
            bool last = k == trips;
            var map = new Dictionary<Value, Value>();
            var blockMap = new Dictionary<Block, Block>();
            foreach (Block b in last ? [header] : blocks)
                blockMap[b] = f.NewBlock();
            Value Map(Value v) => map.TryGetValue(v, out Value? m) ? m : v;
            foreach (Phi phi in header.Phis)
            {
                Value carried = phi.Incoming.First(x => x.Pred == (k == 0 ? preheader : latch)).Value;
                map[phi] = k > 0 && previous.TryGetValue(carried, out Value? mapped) ? mapped : carried;
            }
            foreach (Block b in last ? [header] : blocks)
            {
                Block copy = blockMap[b];
                if (b != header)
                    foreach (Phi phi in b.Phis)
                    {
                        var clone = new Phi(copy, phi.Type) { Space = phi.Space };
                        copy.Phis.Add(clone);
                        map[phi] = clone;
                    }
            }
            foreach (Block b in last ? [header] : blocks)
            {
                Block copy = blockMap[b];
                foreach (Inst inst in b.Insts)
                {
                    Inst clone = inst.Clone(inst.Args.Select(Map).ToArray());
                    clone.Block = copy;
                    copy.Insts.Add(clone);
                    map[inst] = clone;
                }
            }
            foreach (Block b in last ? [header] : blocks)
            {
                Block copy = blockMap[b];
                if (b != header)
                    foreach (Phi phi in b.Phis)
                        ((Phi)map[phi]).Incoming.AddRange(phi.Incoming.Select(x => (blockMap[x.Pred], Map(x.Value))));
                if (b == header)
                {
                    Block next = last ? exit : blockMap[header.Targets[staysOnTrue ? 0 : 1]];
                    copy.Kind = TerminatorKind.Branch;
                    copy.Targets = [next];
                    if (!last)
                        next.Preds.Add(copy);
                }
                else if (b == latch)
                {
                    copy.Kind = TerminatorKind.Branch;
                    copy.Targets = [];
                }
                else
                {
                    copy.Kind = b.Kind;
                    copy.Condition = b.Condition is null ? null : Map(b.Condition);
                    copy.Targets = b.Targets.Select(t => blockMap[t]).ToArray();
                    foreach (Block t in copy.Targets)
                        t.Preds.Add(copy);
                }
            }
            // Wire the previous iteration's latch (or the preheader) into this copy of the header.
            Block headerCopy = blockMap[header];
            if (k == 0)
            {
                for (int t = 0; t < preheader.Targets.Length; t++)
                    if (preheader.Targets[t] == header)
                        preheader.Targets[t] = headerCopy;
            }
            else
            {
                previousLatch!.Targets = [headerCopy];
            }
            headerCopy.Preds.Add(k == 0 ? entryEdgeSource : previousLatch!);
            if (!last)
            {
                previousLatch = blockMap[latch];
            }
            else
            {
                exit.Preds[exit.Preds.IndexOf(header)] = headerCopy;
                foreach (Phi phi in exit.Phis)
                    for (int i = 0; i < phi.Incoming.Count; i++)
                        if (phi.Incoming[i].Pred == header)
                            phi.Incoming[i] = (headerCopy, Map(phi.Incoming[i].Value));
                foreach (Phi phi in header.Phis)
                    phi.ReplacedBy = map[phi];
                foreach (Inst inst in header.Insts)
                    inst.ReplacedBy = map[inst];
            }
            previous = map;
        }
        foreach (Block b in body)
        {
            b.Targets = [];
            f.Blocks.Remove(b);
        }
        Cfg.ResolveUses(f);
        return true;
    }

    /// <summary>Simulates the induction variable; -1 when the loop does not have the expected shape or runs too long.</summary>
    private static int TripCount(Block header, Block preheader, Block latch, bool staysOnTrue)
    {
        if (header.Condition is not Inst { Op: Op.Cmp } cmp)
            return -1;
        int ivSide = cmp.Args[0] is Phi p0 && p0.Block == header ? 0 : cmp.Args[1] is Phi p1 && p1.Block == header ? 1 : -1;
        if (ivSide < 0 || cmp.Args[1 - ivSide] is not Const bound)
            return -1;
        var iv = (Phi)cmp.Args[ivSide];
        if (iv.Incoming.First(x => x.Pred == preheader).Value is not Const init
            || iv.Incoming.First(x => x.Pred == latch).Value is not Inst { IsPure: true } step
            || step.Args.Length != 2 || step.Args[0] != iv || step.Args[1] is not Const stepBy)
            return -1;
        Const value = init;
        for (int trips = 0; trips <= MaxTrips; trips++)
        {
            Const?[] args = ivSide == 0 ? [value, bound] : [bound, value];
            if (Evaluate(cmp, args!) is not Const c)
                return -1;
            if ((c.Bits != 0) != staysOnTrue)
                return trips;
            if (Evaluate(step, [value, stepBy]) is not Const next)
                return -1;
            value = next;
        }
        return -1;
    }

    private static Const? Evaluate(Inst template, Const[] args)
    {
        Inst probe = template.Clone(args);
        return ConstantFolding.EvaluateConstant(probe, args);
    }
}
